// The reference backend's kernel table covers the op table: every op tierflow
// knows has a reference kernel, unless it is listed below with the reason it has
// none, and every kernel belongs to a known op under the same key.

import { describe, expect, it } from "vitest";
import { opKey } from "../../ir/graph/graph.js";
import { allOps } from "../../ir/graph/ops.js";
import { kernelKeys, lookupKernel } from "../../targets/reference/kernel-table.js";

/** Ops of the op table that have no reference kernel, each with the reason (none today). */
const WITHOUT_KERNEL: Readonly<Record<string, string>> = {};

describe("the kernel table", () => {
  const ops = allOps();

  it("has a kernel for every op in the op table, or lists the op as having none", () => {
    const missing = ops.map((d) => opKey(d.domain, d.op)).filter((key) => !kernelKeys().includes(key) && WITHOUT_KERNEL[key] === undefined);
    expect(missing).toEqual([]);
  });

  it("lists as having no kernel only ops that have none", () => {
    for (const [key, reason] of Object.entries(WITHOUT_KERNEL)) {
      expect(ops.some((d) => opKey(d.domain, d.op) === key), key).toBe(true);
      expect(kernelKeys(), key).not.toContain(key);
      expect(reason, key).not.toBe("");
    }
  });

  it("holds kernels only for ops in the op table", () => {
    const known = new Set(ops.map((d) => opKey(d.domain, d.op)));
    expect(kernelKeys().filter((key) => !known.has(key))).toEqual([]);
  });

  it("is looked up by domain and op type as the op table is", () => {
    expect(ops.length).toBeGreaterThan(100);
    for (const d of ops) if (WITHOUT_KERNEL[opKey(d.domain, d.op)] === undefined) expect(lookupKernel(d.domain, d.op), opKey(d.domain, d.op)).toBeTypeOf("function");
    expect(lookupKernel("", "RotaryEmbedding")).not.toBe(lookupKernel("com.microsoft", "RotaryEmbedding"));
    expect(lookupKernel("test.none", "Relu")).toBeUndefined();
  });
});
