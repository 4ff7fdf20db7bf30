// Composite ops of the attention block: rotary position embedding and scaled
// dot-product attention with grouped key/value heads. See composite.ts.

import type { OpDef } from "../op-def.js";
import type { Dim } from "../../symbolic.js";
import { addDims, mulDims } from "../../symbolic.js";
import { fail } from "../../diagnostics.js";
import { FLOATS, broadcastShapes, checkDType, checkSameDType, floatAttr, hasInput, inputType, intAttr, numel } from "./util.js";
import type { Shape } from "./util.js";
import { Decomposition, attr, checkDim, defineComposite } from "./decompose.js";

const ROTARY = defineComposite({
  op: "Rotary", inputs: [3, 3],
  doc: `Rotary(x, cos, sin): rotary position embedding, rotate-half form, over the last axis.
  y = x * cos + concat(-x2, x1) * sin, where x1, x2 are the first and second half of the last axis of x
  %q_rot = "tierflow".Rotary(%q, %cos, %sin) : f32[batch, 4, seq, 16]`,
  infer(ctx) {
    const x = inputType(ctx, 0, "X");
    checkDType(x.dtype, FLOATS, "X");
    checkSameDType(ctx, [0, 1, 2]);
    const cos = inputType(ctx, 1, "cos").shape, sin = inputType(ctx, 2, "sin").shape;
    if (!x.shape || !cos || !sin) return { types: [{ dtype: x.dtype, shape: null }] };
    const last = x.shape[x.shape.length - 1];
    if (last === undefined) fail("X must have rank >= 1");
    if (typeof last === "number" && last % 2 !== 0) fail(`the last axis of X has odd size ${last}; rotate-half needs two halves`);
    for (const [table, what] of [[cos, "cos"], [sin, "sin"]] as const) {
      if (table.length > 0) checkDim(table[table.length - 1]!, last, `the last axis of ${what}`);
    }
    return { types: [{ dtype: x.dtype, shape: broadcastShapes(x.shape, broadcastShapes(cos, sin)) }] };
  },
  cost: (_, [out]) => ({ flops: out?.shape ? mulDims(4, numel(out.shape)) : 0 }),
  decompose(node) {
    const d = new Decomposition(node);
    const [x, cos, sin] = node.inputs as [string, string, string];
    const [x1, x2] = d.op("Split", [x], { axis: attr.int(-1), num_outputs: attr.int(2) }, 2) as [string, string];
    const rotated = d.one("Concat", [d.one("Neg", [x2]), x1], { axis: attr.int(-1) });
    d.result(0, "Add", [d.one("Mul", [x, cos]), d.one("Mul", [rotated, sin])]);
    return d.nodes;
  },
});

function rank4(shape: Shape | null, what: string): Shape | null {
  if (shape && shape.length !== 4) fail(`${what} must have rank 4 [batch, heads, seq, head_dim], got rank ${shape.length}`);
  return shape;
}

const ATTENTION = defineComposite({
  op: "Attention", inputs: [3, 4],
  doc: `Attention(q, k, v, mask?): scaled dot-product attention, softmax computed in f32.
  q [batch, heads, seq, d], k [batch, kv_heads, kv_seq, d], v [batch, kv_heads, kv_seq, dv], with
  heads = kv_heads * kv_groups: query head h reads key/value head floor(h / kv_groups) (grouped-query
  attention). The optional mask is added to the scores (0 where allowed, a large negative value where
  not) and broadcasts to [batch, heads, seq, kv_seq]. causal = 1 says the mask hides later keys from
  each query (a decoder's self-attention; the fusion finds it in how the mask was built): it changes
  nothing computed here, and the lowering keeps a KV cache only for such attention.
  y = softmax(q @ k^T * scale + mask) @ v
  %ctx = "tierflow".Attention(%q, %k, %v, %mask) {causal = 1, kv_groups = 2, scale = 0.25} : f32[batch, 4, seq, 16]`,
  attrs: {
    scale: { type: "float", required: true }, kv_groups: { type: "int", default: 1 },
    causal: { type: "int", default: 0 },
  },
  infer(ctx) {
    const q = inputType(ctx, 0, "Q");
    checkDType(q.dtype, FLOATS, "Q");
    checkSameDType(ctx, [0, 1, 2, 3]);
    const groups = intAttr(ctx.attrs, "kv_groups", 1);
    if (groups < 1) fail(`kv_groups must be >= 1, got ${groups}`);
    const causal = intAttr(ctx.attrs, "causal", 0);
    if (causal !== 0 && causal !== 1) fail(`causal must be 0 or 1, got ${causal}`);
    const qs = rank4(q.shape, "Q"), ks = rank4(inputType(ctx, 1, "K").shape, "K"), vs = rank4(inputType(ctx, 2, "V").shape, "V");
    if (!qs || !ks || !vs) return { types: [{ dtype: q.dtype, shape: null }] };
    checkDim(qs[1]!, mulDims(ks[1]!, groups), `Q heads (K heads x kv_groups ${groups})`);
    checkDim(vs[1]!, ks[1]!, "V heads");
    checkDim(ks[3]!, qs[3]!, "K head size");
    checkDim(vs[2]!, ks[2]!, "V sequence length");
    const out: Dim[] = [qs[0]!, qs[1]!, qs[2]!, vs[3]!];
    if (hasInput(ctx, 3)) {
      const mask = inputType(ctx, 3, "mask").shape;
      if (mask) broadcastShapes([qs[0]!, qs[1]!, qs[2]!, ks[2]!], mask);
    }
    return { types: [{ dtype: q.dtype, shape: out }] };
  },
  cost: ([q, k, v], [out]) => {
    if (!q?.shape || !k?.shape || !v?.shape || !out?.shape) return { flops: 0 };
    const scores = mulDims(numel(q.shape.slice(0, 3)), k.shape[2]!);
    const matmuls = mulDims(2, mulDims(scores, addDims(q.shape[3]!, v.shape[3]!)));
    return { flops: addDims(matmuls, mulDims(6, scores)) };
  },
  decompose(node) {
    const d = new Decomposition(node);
    const [q, k, v, mask] = node.inputs;
    const groups = intAttr(node.attrs, "kv_groups", 1);
    // Grouped KV heads: [b, kvh, s, d] -> [b, kvh, groups, s, d] -> [b, kvh * groups, s, d], as repeat_kv does.
    const repeat = (x: string) => {
      if (groups === 1) return x;
      const expanded = d.one("Expand", [d.one("Unsqueeze", [x, d.ints([2])]), d.ints([1, 1, groups, 1, 1])]);
      const shape = d.one("Concat", [d.one("Shape", [x], { start: attr.int(0), end: attr.int(1) }), d.ints([-1]),
        d.one("Shape", [x], { start: attr.int(2) })], { axis: attr.int(0) });
      return d.one("Reshape", [expanded, shape]);
    };
    const keys = d.one("Transpose", [repeat(k!)], { perm: attr.ints([0, 1, 3, 2]) });
    let scores = d.one("Mul", [d.one("MatMul", [q!, keys]), d.scalarLike(floatAttr(node.attrs, "scale", 1), q!)]);
    if (mask) scores = d.one("Add", [scores, mask]);
    const probs = d.one("CastLike", [d.one("Softmax", [d.toF32(scores)], { axis: attr.int(-1) }), q!]);
    d.result(0, "MatMul", [probs, repeat(v!)]);
    return d.nodes;
  },
});

const CACHE_APPEND = defineComposite({
  op: "CacheAppend", inputs: [2, 2],
  doc: `CacheAppend(past, new): a KV cache the graph takes and returns (a "with past" export), the new
  tokens' keys or values after the cached ones on the token axis: Concat(past, new) {axis = 2} of
  [batch, kv_heads, tokens, head_dim]. The mark-kv-cache pass writes it where a cache input is so
  concatenated into a cache output; the plan keeps the cache in its tier and appends in place.
  %present.0.key = "tierflow".CacheAppend(%past_key_values.0.key, %k) : f32[batch, 2, past_sequence+sequence, 16]`,
  infer(ctx) {
    const past = inputType(ctx, 0, "past"), added = inputType(ctx, 1, "new");
    checkSameDType(ctx, [0, 1]);
    rank4(past.shape, "past");
    rank4(added.shape, "new");
    if (!past.shape || !added.shape) return { types: [{ dtype: past.dtype, shape: null }] };
    for (const axis of [0, 1, 3]) checkDim(added.shape[axis]!, past.shape[axis]!, `dim ${axis} of new`);
    return { types: [{ dtype: past.dtype, shape: [past.shape[0]!, past.shape[1]!, addDims(past.shape[2]!, added.shape[2]!), past.shape[3]!] }] };
  },
  // Data movement: no arithmetic.
  cost: () => ({ flops: 0 }),
  decompose(node) {
    const d = new Decomposition(node);
    d.result(0, "Concat", [...node.inputs], { axis: attr.int(2) });
    return d.nodes;
  },
});

export const ATTENTION_OPS: readonly OpDef[] = [ROTARY, ATTENTION, CACHE_APPEND];
