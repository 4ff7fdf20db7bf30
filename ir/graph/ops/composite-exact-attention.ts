// Exact composites of the attention block (see composite-exact.ts): a scaled,
// masked Softmax, and the whole MatMul-Softmax-MatMul block with the
// Transposes that feed it, each as the exporters' nodes compute it.

import type { Attrs, Node } from "../graph.js";
import type { OpDef } from "../op-def.js";
import { DTYPES } from "../../dtype.js";
import { intAttr, intsAttr } from "./util.js";
import { Decomposition, attr } from "./decompose.js";
import { defineExact } from "./exact.js";

/** Scale and mask: the nodes between the scores and their Softmax. */
function scaledAndMasked(d: Decomposition, node: Node, scores: string, scale: string | undefined, mask: string | undefined): string {
  let x = scores;
  if (scale) x = d.one(intAttr(node.attrs, "divide", 0) ? "Div" : "Mul", [x, scale]);
  if (mask) x = d.one("Add", [x, mask]);
  return x;
}

const LAST_AXIS: Attrs = { axis: attr.int(-1) };

const present = (v: string | undefined) => (v === "" ? undefined : v);

const SCALED_SOFTMAX = defineExact({
  op: "ScaledSoftmax", inputs: [2, 3],
  doc: `ScaledSoftmax(x, scale, mask?) = Softmax(Mul(x, scale) + mask, axis = -1), Div(x, scale) with divide = 1:
  attention scores scaled by one value (for Mul, either operand may be the single value), masked and normalised.
  %p = "tierflow.exact".ScaledSoftmax(%scores, %s, %mask) {divide = 1} : f32[batch, 4, seq, seq]`,
  attrs: { divide: { type: "int", default: 0 } },
  decompose(node) {
    const d = new Decomposition(node);
    const [x, scale, mask] = node.inputs as [string, string, string | undefined];
    d.result(0, "Softmax", [scaledAndMasked(d, node, x, scale, present(mask))], LAST_AXIS);
    return d.nodes;
  },
});

/** An operand as the block reads it: Transpose(x, perm_w) where transpose_w = 1 (no perm: reversed axes), else x. */
function operand(d: Decomposition, node: Node, x: string, which: "q" | "k" | "v"): string {
  if (!intAttr(node.attrs, `transpose_${which}`, 0)) return x;
  const perm = intsAttr(node.attrs, `perm_${which}`);
  const attrs: Attrs = perm ? { perm: attr.ints(perm) } : {};
  return d.one("Transpose", [x], attrs);
}

const ATTENTION = defineExact({
  op: "Attention", inputs: [3, 5],
  doc: `Attention(q, kt, v, scale?, mask?) = MatMul(P, V), P = Softmax(MatMul(Q, K) op scale + mask, axis = -1), then Cast to
  float32 where cast_probs = 1; op is Mul, or Div with divide = 1; Q, K and V are q, kt and v, or their Transposes by
  perm_q, perm_k and perm_v where transpose_q, transpose_k and transpose_v are 1 (K is the keys already turned, [.., d, keys]).
  %ctx = "tierflow.exact".Attention(%q, %k, %v, %s, %mask) {divide = 1, perm_k = [0, 2, 3, 1], transpose_k = 1} : f32[batch, 4, seq, 16]`,
  attrs: {
    divide: { type: "int", default: 0 }, cast_probs: { type: "int", default: 0 },
    transpose_q: { type: "int", default: 0 }, transpose_k: { type: "int", default: 0 }, transpose_v: { type: "int", default: 0 },
    perm_q: { type: "ints" }, perm_k: { type: "ints" }, perm_v: { type: "ints" },
  },
  decompose(node) {
    const d = new Decomposition(node);
    const [q, kt, v, scale, mask] = node.inputs as [string, string, string, string | undefined, string | undefined];
    const scores = d.one("MatMul", [operand(d, node, q, "q"), operand(d, node, kt, "k")]);
    let p = d.one("Softmax", [scaledAndMasked(d, node, scores, present(scale), present(mask))], LAST_AXIS);
    if (intAttr(node.attrs, "cast_probs", 0)) p = d.one("Cast", [p], { to: attr.int(DTYPES.f32.onnx) });
    d.result(0, "MatMul", [p, operand(d, node, v, "v")]);
    return d.nodes;
  },
});

export const EXACT_ATTENTION_OPS: readonly OpDef[] = [SCALED_SOFTMAX, ATTENTION];
