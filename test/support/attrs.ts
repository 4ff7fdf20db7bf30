// Kernel tests write attributes as plain values; kernels take typed ones.

import type { Attr, Attrs } from "../../ir/graph/graph.js";

export type PlainAttr = number | string | number[];

/** Plain values to typed attributes: integers are ints (float attrs accept them), lists are ints. */
export function toAttrs(attrs: Record<string, PlainAttr> = {}): Attrs {
  const out: Record<string, Attr> = {};
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === "string") out[k] = { type: "string", value: v };
    else if (Array.isArray(v)) out[k] = { type: "ints", value: v };
    else out[k] = Number.isInteger(v) ? { type: "int", value: v } : { type: "float", value: v };
  }
  return out;
}
