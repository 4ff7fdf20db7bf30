// Quantized weights: ONNX QuantizeLinear and DequantizeLinear (opsets 10 to 23:
// per-tensor, per-axis and, from opset 21, blocked scales) and onnxruntime's
// MatMulNBits (com.microsoft), following the ONNX operator spec and
// onnxruntime's contrib-op documentation. Quantized tensors (int8, uint8,
// int16, uint16, int4, uint4) are held one value an element; the kernels
// compute in float32. What tierflow does not compute (float8 and float4
// types, MatMulNBits' g_idx) is refused by name.

import type { Attrs, TensorType } from "../graph.js";
import type { InferContext, OpDef } from "../op-def.js";
import type { DType } from "../../dtype.js";
import { dtypeFromOnnx, onnxTypeName } from "../../dtype.js";
import { fail } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import { addDims, mulDims } from "../../symbolic.js";
import type { Tensor } from "../../tensor.js";
import { checkDType, defineOp, hasInput, inputType, intAttr, normalizeAxis, numel } from "./util.js";
import type { Shape } from "./util.js";
import { CONTRIB_DOMAIN } from "./util.js";
import type { Granularity, NBitsLayout } from "./quant-layout.js";
import { nbitsBlocks, zeroPointBytes } from "./quant-layout.js";

/** Types a quantized tensor (QuantizeLinear's output, DequantizeLinear's input) can have. */
const QUANTIZED: readonly DType[] = ["i8", "u8", "i16", "u16", "i4", "u4"];
/** DequantizeLinear also reads int32 (biases; onnxruntime's quantizer gives them a zero point of 0). */
const DEQUANTIZABLE: readonly DType[] = [...QUANTIZED, "i32"];
const SCALES: readonly DType[] = ["f32", "f16", "bf16"];
const QUANTIZABLE: readonly DType[] = [...SCALES, "i32"];

/** Work per element beyond the data itself: dequantizing is a subtract and a multiply; quantizing a divide, a round, an add and a clamp. */
const DEQUANTIZE_FLOPS = 2;
const QUANTIZE_FLOPS = 4;

const fmt = (s: Shape) => `[${s.join(", ")}]`;
const known = (s: Shape): s is readonly number[] => s.every((d) => typeof d === "number");

/** A scalar or one-element vector is a per-tensor parameter: exporters pair a scale [1] with a zero point [] (onnxruntime takes it). */
const perTensor = (s: Shape) => s.length === 0 || (s.length === 1 && s[0] === 1);
const sameParameterShape = (a: Shape, b: Shape) =>
  (perTensor(a) && perTensor(b)) || (a.length === b.length && a.every((d, i) => d === b[i]));

/**
 * The granularity a scale of shape `scale` gives over x: a scalar (or one element) is per
 * tensor; a 1-D scale runs along `axis`; with block_size, the scale has x's shape with the
 * axis divided by block_size, rounded up.
 */
export function granularityOf(op: string, x: Shape, scale: Shape, axisAttr: number, block: number): Granularity {
  const rank = x.length;
  if (block > 0) {
    if (scale.length !== rank || rank === 0) fail(`${op} with block_size ${block} needs a scale of x's rank ${rank}, got ${fmt(scale)}`);
    const axis = normalizeAxis(axisAttr, rank);
    const expected = x.map((d, i) => (i === axis && typeof d === "number" ? Math.ceil(d / block) : d));
    scale.forEach((s, i) => {
      const e = expected[i]!;
      if (typeof s === "number" && typeof e === "number" && s !== e) {
        fail(`${op}: a blocked scale over x ${fmt(x)} with block_size ${block} along axis ${axis} has shape ${fmt(expected)}, got ${fmt(scale)}`);
      }
    });
    return { kind: "block", axis, block };
  }
  if (perTensor(scale)) return { kind: "tensor" };
  if (scale.length === 1 && rank > 0) {
    const axis = normalizeAxis(axisAttr, rank), d = x[axis]!, s = scale[0]!;
    if (typeof s === "number" && typeof d === "number" && s !== d) {
      fail(`${op}: a per-axis scale along axis ${axis} of x ${fmt(x)} needs ${d} elements, got ${s}`);
    }
    return { kind: "axis", axis };
  }
  return fail(`${op}: a scale of shape ${fmt(scale)} over x ${fmt(x)} is neither a scalar, a 1-D per-axis scale, nor blocked (block_size is 0)`);
}

function blockSizeOf(op: string, attrs: Attrs, opset: number): number {
  const block = intAttr(attrs, "block_size", 0);
  if (block < 0) fail(`${op}: block_size ${block} is negative`);
  if (block > 0 && opset > 0 && opset < 21) fail(`${op} with block_size (blocked quantization) needs opset 21 or later, the model imports opset ${opset}`);
  return block;
}

/** Scale and zero point checks shared by both ops; the granularity when the shapes are known. */
function checkParameters(op: string, ctx: InferContext, x: TensorType, zeroPointDType: DType | undefined): void {
  const scale = inputType(ctx, 1, `${op} scale`);
  checkDType(scale.dtype, SCALES, `${op} scale`);
  if (hasInput(ctx, 2)) {
    const zp = inputType(ctx, 2, `${op} zero point`);
    if (zeroPointDType !== undefined && zp.dtype !== zeroPointDType) fail(`${op} zero point has dtype ${zp.dtype}, the quantized tensor ${zeroPointDType}`);
    if (zp.shape && scale.shape && !sameParameterShape(zp.shape, scale.shape)) {
      fail(`${op} zero point has shape ${fmt(zp.shape)}, the scale ${fmt(scale.shape)}: they must match`);
    }
  }
  if (x.shape && scale.shape) granularityOf(op, x.shape, scale.shape, intAttr(ctx.attrs, "axis", 1), blockSizeOf(op, ctx.attrs, ctx.opset));
  else blockSizeOf(op, ctx.attrs, ctx.opset);
}

export function granularityOfTensors(op: string, x: Tensor, scale: Tensor, attrs: Attrs, opset: number): Granularity {
  return granularityOf(op, x.dims, scale.dims, intAttr(attrs, "axis", 1), blockSizeOf(op, attrs, opset));
}

const elementwiseCost = (flops: number) => (_: unknown, [out]: readonly TensorType[]) => ({ flops: out?.shape ? mulDims(flops, numel(out.shape)) : 0 });

/** QuantizeLinear's output type: output_dtype, else the zero point's, else uint8. */
export function quantizedType(ctx: { attrs: Attrs }, zeroPoint: DType | undefined): DType {
  const code = intAttr(ctx.attrs, "output_dtype", 0);
  if (code === 0) return zeroPoint ?? "u8";
  const to = dtypeFromOnnx(code);
  if (!to || !QUANTIZED.includes(to)) fail(`QuantizeLinear to ${onnxTypeName(code)} is not supported (it quantizes to ${QUANTIZED.join(", ")})`);
  if (zeroPoint !== undefined && zeroPoint !== to) fail(`QuantizeLinear output_dtype ${to} differs from its zero point's dtype ${zeroPoint}`);
  return to;
}

export function checkPrecision(attrs: Attrs): void {
  const precision = intAttr(attrs, "precision", 0);
  if (precision !== 0 && precision !== 1) fail(`QuantizeLinear with precision ${onnxTypeName(precision)} is not supported (it divides in float32)`);
}

const QUANTIZE_LINEAR = defineOp({
  op: "QuantizeLinear", inputs: [2, 3],
  doc: `QuantizeLinear(x, y_scale, y_zero_point?) (ONNX opsets 10-23; tierflow imports 13 on): y = saturate(round_half_even(x / y_scale) + y_zero_point), the division in float32.
  The scale is a scalar (per tensor), 1-D along \`axis\` (per axis) or, with \`block_size\`, x's shape with the axis divided by block_size rounded up;
  y is int8, uint8, int16, uint16, int4 or uint4: \`output_dtype\`, else the zero point's dtype, else uint8. float8 and float4 outputs are refused.
  %q = QuantizeLinear(%x, %scale, %zp) {axis = 1} : u8[batch, 64]`,
  attrs: {
    axis: { type: "int", default: 1 }, block_size: { type: "int", default: 0 }, output_dtype: { type: "int", default: 0 },
    saturate: { type: "int", default: 1 }, precision: { type: "int", default: 0 },
  },
  infer(ctx) {
    const x = inputType(ctx, 0, "QuantizeLinear x");
    checkDType(x.dtype, QUANTIZABLE, "QuantizeLinear x");
    checkPrecision(ctx.attrs);
    const zp = hasInput(ctx, 2) ? inputType(ctx, 2, "QuantizeLinear zero point").dtype : undefined;
    if (zp !== undefined) checkDType(zp, QUANTIZED, "QuantizeLinear zero point");
    const to = quantizedType(ctx, zp);
    checkParameters("QuantizeLinear", ctx, x, to);
    return { types: [{ dtype: to, shape: x.shape }] };
  },
  cost: elementwiseCost(QUANTIZE_FLOPS),
});

/** ONNX gives int32 no zero point; onnxruntime's quantizer writes zeros, the only value tierflow takes. */
export function checkInt32ZeroPoint(x: DType, zeroPoint: Tensor | undefined): void {
  if (x === "i32" && zeroPoint && (zeroPoint.data as Int32Array).some((v) => v !== 0)) {
    fail("DequantizeLinear of int32 with a non-zero zero point is not supported (ONNX defines int32 without one)");
  }
}

/** DequantizeLinear's output type: output_dtype (opset 23), else the scale's. */
export function dequantizedType(attrs: Attrs, scale: DType): DType {
  const code = intAttr(attrs, "output_dtype", 0);
  if (code === 0) return scale;
  const to = dtypeFromOnnx(code);
  if (!to || !SCALES.includes(to)) fail(`DequantizeLinear to ${onnxTypeName(code)} is not supported (it dequantizes to ${SCALES.join(", ")})`);
  return to;
}

const DEQUANTIZE_LINEAR = defineOp({
  op: "DequantizeLinear", inputs: [2, 3],
  doc: `DequantizeLinear(x, x_scale, x_zero_point?) (ONNX opsets 10-23; tierflow imports 13 on): y = (x - x_zero_point) * x_scale, computed in float32 and rounded to
  the scale's dtype (f32, f16, bf16) or \`output_dtype\`. x is int8, uint8, int16, uint16, int4, uint4 or int32 (whose zero point must be 0); the scale is a
  scalar, 1-D along \`axis\`, or blocked with \`block_size\` as in QuantizeLinear. float8 and float4 inputs are refused on import.
  %w = DequantizeLinear(%wq, %scale, %zp) {axis = 0, block_size = 32} : f32[256, 128]`,
  attrs: { axis: { type: "int", default: 1 }, block_size: { type: "int", default: 0 }, output_dtype: { type: "int", default: 0 } },
  infer(ctx) {
    const x = inputType(ctx, 0, "DequantizeLinear x");
    checkDType(x.dtype, DEQUANTIZABLE, "DequantizeLinear x");
    checkInt32ZeroPoint(x.dtype, ctx.inputs[2]?.value);
    checkParameters("DequantizeLinear", ctx, x, x.dtype);
    return { types: [{ dtype: dequantizedType(ctx.attrs, inputType(ctx, 1).dtype), shape: x.shape }] };
  },
  cost: elementwiseCost(DEQUANTIZE_FLOPS),
});

const ACCURACY_LEVELS = "0 (unset), 1 (fp32), 2 (fp16), 3 (bf16) or 4 (int8)";

/** MatMulNBits' attributes, checked: bits 2, 4 or 8; block_size a power of two of at least 16. */
export function nbitsLayout(attrs: Attrs): NBitsLayout {
  const k = intAttr(attrs, "K", 0), n = intAttr(attrs, "N", 0), bits = intAttr(attrs, "bits", 4), blockSize = intAttr(attrs, "block_size", 0);
  if (k < 1 || n < 1) fail(`MatMulNBits needs K and N of at least 1, got K = ${k}, N = ${n}`);
  if (![2, 4, 8].includes(bits)) fail(`MatMulNBits with bits = ${bits} is not supported (2, 4 or 8)`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) fail(`MatMulNBits block_size ${blockSize} must be a power of two of at least 16`);
  const level = intAttr(attrs, "accuracy_level", 0);
  if (!Number.isInteger(level) || level < 0 || level > 4) fail(`MatMulNBits accuracy_level ${level} is not one of ${ACCURACY_LEVELS}`);
  return { k, n, bits, blockSize };
}

/** A shape equal to one of `options` (where its dims are known), or a refusal naming them. */
function checkShapeOneOf(what: string, shape: Shape | null, options: readonly (readonly number[])[]): void {
  if (!shape || !known(shape)) return;
  if (!options.some((o) => o.length === shape.length && o.every((d, i) => d === shape[i]))) {
    fail(`MatMulNBits ${what} has shape ${fmt(shape)}, expected ${options.map(fmt).join(" or ")}`);
  }
}

export interface NBitsOperands {
  readonly a: TensorType;
  readonly b: TensorType;
  readonly scales: TensorType;
  readonly zeroPoints: TensorType | undefined;
  readonly gIdx: boolean;
  readonly bias: TensorType | undefined;
}

export function checkNBits(l: NBitsLayout, o: NBitsOperands): void {
  if (o.gIdx) fail("MatMulNBits with g_idx (act-order) is not supported");
  const { blocks, blob } = nbitsBlocks(l);
  checkDType(o.a.dtype, SCALES, "MatMulNBits A");
  if (o.a.shape) {
    if (o.a.shape.length === 0) fail("MatMulNBits A must have rank >= 1");
    const k = o.a.shape[o.a.shape.length - 1]!;
    if (typeof k === "number" && k !== l.k) fail(`MatMulNBits A has ${k} columns, K is ${l.k}`);
  }
  checkDType(o.b.dtype, ["u8"], "MatMulNBits B");
  checkShapeOneOf("B", o.b.shape, [[l.n, blocks, blob]]);
  if (o.scales.dtype !== o.a.dtype) fail(`MatMulNBits scales have dtype ${o.scales.dtype}, A ${o.a.dtype}: they must match`);
  checkShapeOneOf("scales", o.scales.shape, [[l.n * blocks], [l.n, blocks]]);
  if (o.zeroPoints) {
    if (o.zeroPoints.dtype === "u8") checkShapeOneOf("zero_points (packed uint8)", o.zeroPoints.shape, [[l.n * zeroPointBytes(l)], [l.n, zeroPointBytes(l)]]);
    else if (o.zeroPoints.dtype === o.a.dtype) checkShapeOneOf("zero_points", o.zeroPoints.shape, [[l.n * blocks], [l.n, blocks]]);
    else fail(`MatMulNBits zero_points have dtype ${o.zeroPoints.dtype}, expected u8 (packed) or A's dtype ${o.a.dtype}`);
  }
  if (o.bias) {
    if (o.bias.dtype !== o.a.dtype) fail(`MatMulNBits bias has dtype ${o.bias.dtype}, A ${o.a.dtype}: they must match`);
    checkShapeOneOf("bias", o.bias.shape, [[l.n]]);
  }
}

const MATMUL_NBITS = defineOp({
  op: "MatMulNBits", domain: CONTRIB_DOMAIN, inputs: [3, 6],
  doc: `MatMulNBits(A, B, scales, zero_points?, g_idx?, bias?) (onnxruntime): Y = A @ W' + bias, W [N, K] dequantized from B blockwise along K:
  B is uint8 [N, ceil(K / block_size), block_size * bits / 8], each row's values packed low bits first (bits 2, 4 or 8); w = (q - zero_point) * scale,
  scales [N * blocks] or [N, blocks]; zero_points packed like B per row (uint8) or unpacked in A's dtype, 2^(bits - 1) when absent.
  The reference computes in float32 from the dequantized weight whatever accuracy_level asks: within 1e-4 relative of onnxruntime at
  levels 0-3 (float32 there too), within 2e-2 of the output's largest magnitude at 4 (onnxruntime quantizes A to int8 per block). g_idx is refused.
  %y = "com.microsoft".MatMulNBits(%x, %wq, %scales, %zp) {K = 128, N = 256, bits = 4, block_size = 32} : f32[batch, seq, 256]`,
  attrs: {
    K: { type: "int", required: true }, N: { type: "int", required: true }, bits: { type: "int", default: 4 },
    block_size: { type: "int", required: true }, accuracy_level: { type: "int", default: 0 },
  },
  infer(ctx) {
    const l = nbitsLayout(ctx.attrs);
    const a = inputType(ctx, 0, "MatMulNBits A");
    checkNBits(l, {
      a, b: inputType(ctx, 1, "MatMulNBits B"), scales: inputType(ctx, 2, "MatMulNBits scales"),
      zeroPoints: hasInput(ctx, 3) ? inputType(ctx, 3) : undefined, gIdx: hasInput(ctx, 4), bias: hasInput(ctx, 5) ? inputType(ctx, 5) : undefined,
    });
    return { types: [{ dtype: a.dtype, shape: a.shape ? [...a.shape.slice(0, -1), l.n] : null }] };
  },
  // The product's FLOPs plus dequantizing every weight once (and the bias).
  cost: ([, , , , , bias], [out], attrs) => {
    const k = intAttr(attrs, "K", 0), n = intAttr(attrs, "N", 0);
    if (!out?.shape) return { flops: 0 };
    const product: Dim = mulDims(numel(out.shape), 2 * k + (bias ? 1 : 0));
    return { flops: addDims(product, DEQUANTIZE_FLOPS * n * k) };
  },
});

export const QUANT_OPS: readonly OpDef[] = [QUANTIZE_LINEAR, DEQUANTIZE_LINEAR, MATMUL_NBITS];
