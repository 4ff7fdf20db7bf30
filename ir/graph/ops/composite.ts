// Composite ops: what fusion (compiler/fusion) turns exported decompositions
// into, so later stages see one node per normalisation, activation, attention
// or MoE block. Domain "tierflow". Each has a decomposition into primitive ONNX
// nodes (ops/decompose.ts) that is its specification, and what the reference
// backend runs. Normalisations and activations live here; rotary and attention in
// composite-attention.ts, MoE routing and experts in composite-moe.ts.

import type { OpDef } from "../op-def.js";
import type { Dim } from "../../symbolic.js";
import { addDims, mulDims } from "../../symbolic.js";
import { fail } from "../../diagnostics.js";
import { FLOATS, broadcastShapes, checkDType, checkSameDType, floatAttr, inputType, numel } from "./util.js";
import type { Shape } from "./util.js";
import { matmulShape } from "./nn.js";
import { Decomposition, attr, checkDim, defineComposite } from "./decompose.js";
import { ATTENTION_OPS } from "./composite-attention.js";
import { MOE_OPS } from "./composite-moe.js";
import { QUANT_COMPOSITE_OPS } from "./composite-quant.js";

/** A per-channel vector over the last axis of `x` (norm weights, biases). */
function checkChannelVector(x: Shape | null, v: Shape | null, what: string): void {
  if (!v) return;
  if (v.length !== 1) fail(`${what} must be 1-D, got rank ${v.length}`);
  if (x && x.length > 0) checkDim(v[0]!, x[x.length - 1]!, `${what} length`);
}

const flopsPerElement = (k: number) => (_: unknown, [out]: readonly { shape: readonly Dim[] | null }[]) =>
  ({ flops: out?.shape ? mulDims(k, numel(out.shape)) : 0 });

const RMS_NORM = defineComposite({
  op: "RMSNorm", inputs: [2, 2],
  doc: `RMSNorm(x, weight): root-mean-square normalisation over the last axis, statistics in f32.
  y = CastLike(xf / sqrt(mean(xf * xf, axis=-1) + epsilon), x) * weight, where xf = Cast(x, f32)
  %y = "tierflow".RMSNorm(%x, %w) {epsilon = 1e-06} : f32[batch, seq, 64]`,
  attrs: { epsilon: { type: "float", default: 1e-6 } },
  infer(ctx) {
    const x = inputType(ctx, 0, "X");
    checkDType(x.dtype, FLOATS, "X");
    checkSameDType(ctx, [0, 1]);
    checkChannelVector(x.shape, inputType(ctx, 1, "weight").shape, "weight");
    return { types: [x] };
  },
  cost: flopsPerElement(4),
  decompose(node) {
    const d = new Decomposition(node);
    const [x, weight] = node.inputs as [string, string];
    const xf = d.toF32(x);
    const mean = d.one("ReduceMean", [d.one("Pow", [xf, d.scalarLike(2, xf)]), d.ints([-1])], { keepdims: attr.int(1) });
    const eps = d.scalarLike(floatAttr(node.attrs, "epsilon", 1e-6), xf);
    const inv = d.one("Reciprocal", [d.one("Sqrt", [d.one("Add", [mean, eps])])]);
    d.result(0, "Mul", [d.one("CastLike", [d.one("Mul", [xf, inv]), x]), weight]);
    return d.nodes;
  },
});

const SILU = defineComposite({
  op: "SiLU", inputs: [1, 1],
  doc: `SiLU(x) = x * sigmoid(x) (also called swish).
  %y = "tierflow".SiLU(%x) : f32[batch, seq, 128]`,
  infer(ctx) {
    const x = inputType(ctx, 0, "X");
    checkDType(x.dtype, FLOATS, "X");
    return { types: [x] };
  },
  cost: flopsPerElement(4),
  decompose(node) {
    const d = new Decomposition(node);
    const x = node.inputs[0]!;
    d.result(0, "Mul", [x, d.one("Sigmoid", [x])]);
    return d.nodes;
  },
});

const SWIGLU = defineComposite({
  op: "SwiGLU", inputs: [2, 2],
  doc: `SwiGLU(gate, up) = silu(gate) * up: the gated MLP activation of Llama-family models.
  %h = "tierflow".SwiGLU(%gate, %up) : f32[batch, seq, 128]`,
  infer(ctx) {
    const gate = inputType(ctx, 0, "gate");
    checkDType(gate.dtype, FLOATS, "gate");
    checkSameDType(ctx, [0, 1]);
    const up = inputType(ctx, 1, "up");
    return { types: [{ dtype: gate.dtype, shape: gate.shape && up.shape ? broadcastShapes(gate.shape, up.shape) : null }] };
  },
  cost: flopsPerElement(5),
  decompose(node) {
    const d = new Decomposition(node);
    const [gate, up] = node.inputs as [string, string];
    d.result(0, "Mul", [d.one("Mul", [gate, d.one("Sigmoid", [gate])]), up]);
    return d.nodes;
  },
});

const MATMUL_BIAS = defineComposite({
  op: "MatMulBias", inputs: [3, 3],
  doc: `MatMulBias(x, w, b) = MatMul(x, w) + b, b a vector over the output's last axis (a linear layer).
  %y = "tierflow".MatMulBias(%x, %w, %b) : f32[batch, seq, 128]`,
  infer(ctx) {
    const x = inputType(ctx, 0, "X");
    checkDType(x.dtype, FLOATS, "X");
    checkSameDType(ctx, [0, 1, 2]);
    const w = inputType(ctx, 1, "W");
    const shape = x.shape && w.shape ? matmulShape(x.shape, w.shape) : null;
    checkChannelVector(shape, inputType(ctx, 2, "B").shape, "bias");
    return { types: [{ dtype: x.dtype, shape }] };
  },
  cost: ([x], [out]) => {
    if (!x?.shape || !out?.shape || x.shape.length === 0) return { flops: 0 };
    const n = numel(out.shape);
    return { flops: addDims(mulDims(2, mulDims(n, x.shape[x.shape.length - 1]!)), n) };
  },
  decompose(node) {
    const d = new Decomposition(node);
    const [x, w, b] = node.inputs as [string, string, string];
    d.result(0, "Add", [d.one("MatMul", [x, w]), b]);
    return d.nodes;
  },
});

export const COMPOSITE_OPS: readonly OpDef[] = [RMS_NORM, SILU, SWIGLU, MATMUL_BIAS, ...ATTENTION_OPS, ...MOE_OPS, ...QUANT_COMPOSITE_OPS];
