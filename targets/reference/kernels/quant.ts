// Reference kernels of the quantization ops (ir/graph/ops/quant.ts): ONNX's
// QuantizeLinear and DequantizeLinear at every granularity, and onnxruntime's
// MatMulNBits as its definition reads: dequantize the packed weight to float32,
// then a float32 matrix product. Quantized values are held unpacked (int4 one
// to an Int8Array element), so only MatMulNBits' uint8 blobs are unpacked here.

import type { DType } from "../../../ir/dtype.js";
import { integerRange } from "../../../ir/dtype.js";
import type { Tensor } from "../../../ir/tensor.js";
import { makeTensor } from "../../../ir/tensor.js";
import { allocateOverwritten } from "./buffers.js";
import { roundToDType, sizeOf } from "./common.js";
import { castTensor } from "./cast.js";
import { matmulAndBias } from "./matmul.js";
import type { Granularity, NBitsLayout } from "../../../ir/graph/ops/quant-layout.js";
import { nbitsBlocks, zeroPointBytes } from "../../../ir/graph/ops/quant-layout.js";

/**
 * Visit every element of x with the index of its scale: x seen as [outer, D, inner]
 * around the quantized axis; a blocked scale is [outer, ceil(D / block), inner].
 */
function forEachWithScale(dims: readonly number[], g: Granularity, visit: (i: number, s: number) => void): void {
  if (g.kind === "tensor") {
    const n = sizeOf(dims);
    for (let i = 0; i < n; i++) visit(i, 0);
    return;
  }
  const outer = sizeOf(dims, 0, g.axis), d = dims[g.axis]!, inner = sizeOf(dims, g.axis + 1);
  const blocks = g.kind === "block" ? Math.ceil(d / g.block) : 0;
  let i = 0;
  for (let o = 0; o < outer; o++) {
    for (let a = 0; a < d; a++) {
      const row = g.kind === "axis" ? -1 : (o * blocks + Math.floor(a / g.block)) * inner;
      for (let j = 0; j < inner; j++, i++) visit(i, g.kind === "axis" ? a : row + j);
    }
  }
}

/** y = (x - zero_point) * scale, in float32, rounded to `to` (the scale's dtype unless output_dtype says otherwise). */
export function dequantizeLinear(x: Tensor, scale: Tensor, zeroPoint: Tensor | undefined, g: Granularity, to: DType): Tensor {
  const out = allocateOverwritten(to, x.dims);
  const y = out.data as Float32Array, xd = x.data as Int32Array, sd = scale.data as Float32Array;
  const zd = zeroPoint?.data as Int32Array | undefined;
  // x - zp as a float32 (exact for every type but int32 beyond 2^24, which rounds as onnxruntime's does), then one f32.mul.
  const fround = Math.fround;
  if (zd) forEachWithScale(x.dims, g, (i, s) => { y[i] = fround(xd[i]! - zd[s]!) * sd[s]!; });
  else forEachWithScale(x.dims, g, (i, s) => { y[i] = fround(xd[i]!) * sd[s]!; });
  return roundToDType(out);
}

/** Round half to even (ONNX's rounding of x / scale). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves go up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** y = saturate(round_half_even(x / scale) + zero_point); the division in float32. */
export function quantizeLinear(x: Tensor, scale: Tensor, zeroPoint: Tensor | undefined, g: Granularity, to: DType): Tensor {
  const out = allocateOverwritten(to, x.dims);
  const y = out.data as Int32Array, xd = x.data as Float32Array, sd = scale.data as Float32Array;
  const zd = zeroPoint?.data as Int32Array | undefined;
  const [lo, hi] = integerRange(to), fround = Math.fround;
  forEachWithScale(x.dims, g, (i, s) => {
    const q = roundHalfEven(fround(xd[i]! / sd[s]!)) + (zd ? zd[s]! : 0);
    y[i] = q < lo ? lo : q > hi ? hi : q; // NaN stores as 0
  });
  return out;
}

/** Element `j` of a row packed `bits` to a value, low bits first (bits divides 8, so no value straddles bytes). */
function unpacked(bytes: Uint8Array, start: number, j: number, bits: number): number {
  const at = j * bits;
  return (bytes[start + (at >> 3)]! >> (at & 7)) & ((1 << bits) - 1);
}

/**
 * MatMulNBits' weight as float32 W' [K, N] (transposed, ready for A @ W'): B is [N, blocks, blob],
 * element k of row n in blob k / block_size at bits (k % block_size) * bits; w = (q - zp) * scale.
 */
export function dequantizeNBits(b: Tensor, scales: Tensor, zeroPoints: Tensor | undefined, l: NBitsLayout): Float32Array {
  const { blocks, blob } = nbitsBlocks(l);
  const w = new Float32Array(l.k * l.n);
  const bd = b.data as Uint8Array, sd = scales.data as Float32Array;
  const packedZp = zeroPoints?.dtype === "u8", zpRow = zeroPointBytes(l), defaultZp = 2 ** (l.bits - 1);
  for (let n = 0; n < l.n; n++) {
    for (let blk = 0; blk < blocks; blk++) {
      const s = n * blocks + blk;
      const zp = !zeroPoints ? defaultZp : packedZp ? unpacked(zeroPoints.data as Uint8Array, n * zpRow, blk, l.bits) : (zeroPoints.data as Float32Array)[s]!;
      const scale = sd[s]!, start = s * blob, k0 = blk * l.blockSize, count = Math.min(l.blockSize, l.k - k0);
      for (let j = 0; j < count; j++) w[(k0 + j) * l.n + n] = (unpacked(bd, start, j, l.bits) - zp) * scale;
    }
  }
  return w;
}

/** Y = A @ dequantize(B)' (+ bias), all in float32 as MatMul computes it, rounded once to A's dtype. */
export function matmulNBits(a: Tensor, b: Tensor, scales: Tensor, zeroPoints: Tensor | undefined, bias: Tensor | undefined, l: NBitsLayout): Tensor {
  // f16 and bf16 are held widened in Float32Array: seen as f32, the bias joins the sum before the one rounding.
  const asF32 = (t: Tensor): Tensor => ({ ...t, dtype: "f32" });
  const w = makeTensor("f32", [l.k, l.n], dequantizeNBits(b, scales, zeroPoints, l));
  const { out, added } = matmulAndBias(asF32(a), w, bias && asF32(bias));
  let y = out;
  if (bias && !added) {
    y = allocateOverwritten("f32", out.dims);
    const z = y.data as Float32Array, o = out.data as Float32Array, bd = bias.data as Float32Array;
    for (let i = 0; i < z.length; i++) z[i] = o[i]! + bd[i % l.n]!;
  }
  return a.dtype === "f32" ? y : castTensor(y, a.dtype);
}
