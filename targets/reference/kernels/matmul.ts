// MatMul and Gemm kernels. Floats go through the batched GEMM of gemm.ts, which
// Conv shares; integer dtypes use plain loops with wrap-around arithmetic
// (Math.imul for 32-bit and narrower, BigInt for 64-bit).

import { fail } from "../../../ir/diagnostics.js";
import { isFloat } from "../../../ir/dtype.js";
import type { Tensor, TensorData } from "../../../ir/tensor.js";
import { elementCount, makeTensor } from "../../../ir/tensor.js";
import { broadcastDims, broadcastIndex } from "./broadcast.js";
import { broadcastsTo, isBigData, roundToDType } from "./common.js";
import { gemmFloatBatch } from "./gemm.js";
import { SKC } from "./gemm-f32-wasm.js";
import type { MatView, StoreC } from "./gemm.js";
import { allocateOverwritten } from "./buffers.js";
import { binaryF32 } from "./simd.js";
import { batchOffsets, broadcastStrides, collapseStrides, contiguousStrides } from "./strided.js";

export { gemmFloat } from "./gemm.js";
export type { MatView } from "./gemm.js";

/** A StoreC that copies C into a row-major float array (rounding to float32 where it is one). */
function storeInto(out: Float32Array | Float64Array, offsetOf: (t: number) => number, n: number): StoreC {
  return (t, row0, col0, rows, cols, c, off, ldc) => {
    if (cols === n && ldc === n) {
      out.set(c.subarray(off, off + rows * n), offsetOf(t) + row0 * n);
      return;
    }
    for (let r = 0; r < rows; r++) {
      const dst = offsetOf(t) + (row0 + r) * n + col0, src = off + r * ldc;
      out.set(c.subarray(src, src + cols), dst);
    }
  };
}

/** C = A * B with wrap-around integer arithmetic; i-k-j order keeps the inner loop unit-stride. */
function gemmInt(m: number, n: number, k: number, a: MatView, b: MatView, c: TensorData, cOff: number): void {
  if (isBigData(c)) {
    const ad = a.data as BigInt64Array, bd = b.data as BigInt64Array, acc = new Array<bigint>(n);
    for (let i = 0; i < m; i++) {
      acc.fill(0n);
      for (let p = 0; p < k; p++) {
        const av = ad[a.offset + i * a.rowStride + p * a.colStride]!;
        const bRow = b.offset + p * b.rowStride;
        for (let j = 0; j < n; j++) acc[j] = acc[j]! + av * bd[bRow + j * b.colStride]!;
      }
      for (let j = 0; j < n; j++) c[cOff + i * n + j] = acc[j]!;
    }
    return;
  }
  const ad = a.data as Int32Array, bd = b.data as Int32Array, acc = new Int32Array(n);
  for (let i = 0; i < m; i++) {
    acc.fill(0);
    for (let p = 0; p < k; p++) {
      const av = ad[a.offset + i * a.rowStride + p * a.colStride]!;
      const bRow = b.offset + p * b.rowStride;
      for (let j = 0; j < n; j++) acc[j] = (acc[j]! + Math.imul(av, bd[bRow + j * b.colStride]!)) | 0;
    }
    // Storing the int32 sum into a narrower (or unsigned) array wraps it modulo that width.
    for (let j = 0; j < n; j++) (c as Int32Array)[cOff + i * n + j] = acc[j]!;
  }
}

/** Numpy matmul: 1-D operands are promoted (and the added axis dropped), batch dims broadcast. */
export function matmulKernel(a: Tensor, b: Tensor): Tensor {
  return matmulAndBias(a, b, undefined).out;
}

/**
 * MatMul, then Add(bias) where the GEMM can add a float32 bias row (of the result's last
 * axis' length) as it writes C: one float32 addition per element, the Add's bits.
 * `added` says whether it did; if not, the caller adds the bias.
 */
export function matmulAndBias(a: Tensor, b: Tensor, bias: Tensor | undefined): { out: Tensor; added: boolean } {
  if (a.dtype !== b.dtype) fail(`MatMul operands have dtypes ${a.dtype} and ${b.dtype}`);
  if (a.dtype === "bool" || a.dtype === "str") fail(`MatMul is not defined for ${a.dtype}`);
  if (a.dims.length === 0 || b.dims.length === 0) fail("MatMul operands must have rank >= 1");
  const ad = a.dims.length === 1 ? [1, a.dims[0]!] : a.dims;
  const bd = b.dims.length === 1 ? [b.dims[0]!, 1] : b.dims;
  const m = ad[ad.length - 2]!, k = ad[ad.length - 1]!, n = bd[bd.length - 1]!;
  if (bd[bd.length - 2] !== k) fail(`MatMul inner dims differ: [${a.dims.join(", ")}] x [${b.dims.join(", ")}]`);
  const aBatch = ad.slice(0, -2), bBatch = bd.slice(0, -2);
  const batch = broadcastDims(aBatch, bBatch);
  const outDims = [...batch, ...(a.dims.length > 1 ? [m] : []), ...(b.dims.length > 1 ? [n] : [])];
  const out = allocateOverwritten(a.dtype, outDims);
  const batches = elementCount(batch);
  if (isFloat(a.dtype)) {
    const f32Result = out.data instanceof Float32Array;
    if (elementCount(bBatch) === 1) {
      // One B for every batch: A's batches are consecutive rows of one taller GEMM, and so are C's.
      const rows = batches * m;
      const view = (data: TensorData, rowStride: number): MatView => ({ data, offset: 0, rowStride, colStride: 1 });
      const row = bias && isBiasRow(bias, outDims) && out.dtype === "f32" ? bias.data as Float32Array : undefined;
      const added = gemmFloatBatch({ m: rows, n, k, count: 1, a: () => view(a.data, k), b: () => view(b.data, n), f32Result, bias: row },
        storeInto(out.data as Float32Array, () => 0, n));
      return { out: roundToDType(out), added };
    } else {
      const ia = broadcastIndex(aBatch, batch), ib = broadcastIndex(bBatch, batch);
      gemmFloatBatch({
        m, n, k, count: batches,
        a: (t) => ({ data: a.data, offset: (ia ? ia[t]! : t) * m * k, rowStride: k, colStride: 1 }),
        b: (t) => ({ data: b.data, offset: (ib ? ib[t]! : t) * k * n, rowStride: n, colStride: 1 }),
        f32Result,
      }, storeInto(out.data as Float32Array, (t) => t * m * n, n));
    }
    return { out: roundToDType(out), added: false };
  }
  const ia = broadcastIndex(aBatch, batch), ib = broadcastIndex(bBatch, batch);
  for (let t = 0; t < batches; t++) {
    const av: MatView = { data: a.data, offset: (ia ? ia[t]! : t) * m * k, rowStride: k, colStride: 1 };
    const bv: MatView = { data: b.data, offset: (ib ? ib[t]! : t) * k * n, rowStride: n, colStride: 1 };
    gemmInt(m, n, k, av, bv, out.data, t * m * n);
  }
  return { out, added: false };
}

/** A float32 row of the last axis of `dims` that Add would broadcast over them without widening them. */
function isBiasRow(bias: Tensor, dims: readonly number[]): boolean {
  const n = dims[dims.length - 1];
  return bias.dtype === "f32" && bias.dims.length <= dims.length && bias.dims.length > 0 && bias.dims[bias.dims.length - 1] === n &&
    bias.dims.slice(0, -1).every((d) => d === 1);
}

/** One row of Gemm's result without C: alpha * product (+ 0 turns -0 into 0, as before). */
function gemmRow(fo: Float32Array | Float64Array, i: number, prod: Float32Array | Float64Array, p: number, cols: number, alpha: number): void {
  if (alpha === 1) for (let j = 0; j < cols; j++) fo[i + j] = prod[p + j]! + 0;
  else for (let j = 0; j < cols; j++) fo[i + j] = alpha * prod[p + j]! + 0;
}

/** One row of Gemm's result: alpha * product + beta * C, C's columns cCol apart (0 where C broadcasts along them). */
function gemmRowWithC(fo: Float32Array | Float64Array, i: number, prod: Float32Array | Float64Array, p: number, cols: number,
  alpha: number, beta: number, cd: Float32Array | Float64Array, ci: number, cCol: number): void {
  // alpha and beta of 1 multiply exactly, so the short loop gives the same bits
  if (alpha === 1 && beta === 1 && cCol === 1) for (let j = 0; j < cols; j++) fo[i + j] = prod[p + j]! + cd[ci + j]!;
  else for (let j = 0; j < cols; j++) fo[i + j] = alpha * prod[p + j]! + beta * cd[ci + j * cCol]!;
}

/** Gemm: alpha * op(A) * op(B) + beta * C, with C broadcast unidirectionally to [M, N]. */
export function gemmKernel(a: Tensor, b: Tensor, c: Tensor | undefined, alpha: number, beta: number,
  transA: boolean, transB: boolean): Tensor {
  if (a.dims.length !== 2 || b.dims.length !== 2) fail("Gemm operands must be 2-D");
  if (a.dtype !== b.dtype || (c && c.dtype !== a.dtype)) fail("Gemm inputs must share one dtype");
  if (a.dtype === "bool" || a.dtype === "str") fail(`Gemm is not defined for ${a.dtype}`);
  const [m, k] = transA ? [a.dims[1]!, a.dims[0]!] : [a.dims[0]!, a.dims[1]!];
  const [kb, n] = transB ? [b.dims[1]!, b.dims[0]!] : [b.dims[0]!, b.dims[1]!];
  if (k !== kb) fail(`Gemm inner dims differ: ${k} vs ${kb}`);
  const av: MatView = transA
    ? { data: a.data, offset: 0, rowStride: 1, colStride: m }
    : { data: a.data, offset: 0, rowStride: k, colStride: 1 };
  const bv: MatView = transB
    ? { data: b.data, offset: 0, rowStride: 1, colStride: k }
    : { data: b.data, offset: 0, rowStride: n, colStride: 1 };
  // C broadcast to [m, n] as strides: element (i, j) of C is cd[i * cRow + j * cCol].
  let cRow = 0, cCol = 0;
  if (c) {
    if (!broadcastsTo(c.dims, [m, n])) {
      fail(`Gemm C of shape [${c.dims.join(", ")}] does not broadcast to [${m}, ${n}]`);
    }
    const [rows, cols] = c.dims.length === 2 ? [c.dims[0]!, c.dims[1]!] : [1, c.dims[0] ?? 1];
    cRow = rows === 1 ? 0 : cols;
    cCol = cols === 1 ? 0 : 1;
  }
  const out = allocateOverwritten(a.dtype, [m, n]);
  const od = out.data;
  const at = (i: number) => Math.floor(i / n) * cRow + (i % n) * cCol;
  if (isBigData(od)) {
    if (!Number.isInteger(alpha) || !Number.isInteger(beta)) fail(`Gemm on ${a.dtype} needs integer alpha and beta`);
    gemmInt(m, n, k, av, bv, od, 0);
    const al = BigInt(alpha), be = BigInt(beta), cd = c?.data as BigInt64Array | undefined;
    for (let i = 0; i < od.length; i++) od[i] = al * od[i]! + (cd ? be * cd[at(i)]! : 0n);
    return out;
  }
  const cd = c?.data as Float32Array | undefined;
  if (isFloat(a.dtype)) {
    const fo = od as Float32Array;
    // With K in one block the float64 product holds a float32 sum already: asking for it as
    // float32 changes no bits and halves what the epilogue reads.
    const f32Result = a.dtype === "f32" && k <= SKC;
    if (f32Result && cd && alpha === 1 && beta === 1) {
      // The float32 product plus C rounded once is float32 addition: the SIMD Add's bits. A
      // row of C the kernel adds as it writes; otherwise C is added after.
      const row = isBiasRow(c!, [m, n]) ? cd : undefined;
      if (gemmFloatBatch({ m, n, k, count: 1, a: () => av, b: () => bv, f32Result, bias: row }, storeInto(fo, () => 0, n))) return out;
      const plan = collapseStrides([m, n], [[n, 1], broadcastStrides(c!.dims, [m, n]), [n, 1]]);
      if (m * n >= 1024 && binaryF32("Add", plan, fo, cd, fo)) return out;
      for (let i = 0; i < fo.length; i++) fo[i] = fo[i]! + cd[at(i)]!;
      return out;
    }
    gemmFloatBatch({ m, n, k, count: 1, a: () => av, b: () => bv, f32Result }, (_, row0, col0, rows, cols, prod, off, ldc) => {
      for (let r = 0; r < rows; r++) {
        const i = (row0 + r) * n + col0, p = off + r * ldc;
        if (cd) gemmRowWithC(fo, i, prod, p, cols, alpha, beta, cd, (row0 + r) * cRow + col0 * cCol, cCol);
        else gemmRow(fo, i, prod, p, cols, alpha);
      }
    });
    return roundToDType(out);
  }
  const prod = makeTensor(a.dtype, [m, n]).data as Int32Array;
  gemmInt(m, n, k, av, bv, prod, 0);
  for (let i = 0; i < prod.length; i++) (od as Int32Array)[i] = Math.trunc(alpha * prod[i]! + (cd ? beta * cd[at(i)]! : 0));
  return out;
}

/** A float tensor read through strides: element (i0, i1, ...) is data[sum of ik * strides[k]] (a transposed view, say). */
export interface StridedOperand {
  readonly tensor: Tensor;
  readonly dims: readonly number[];
  readonly strides: readonly number[];
}

/** `x` with its axes permuted (Transpose's result) as a view, without moving its data. */
export function permutedView(x: Tensor, perm: readonly number[]): StridedOperand {
  const strides = contiguousStrides(x.dims);
  return { tensor: x, dims: perm.map((p) => x.dims[p]!), strides: perm.map((p) => strides[p]!) };
}

/**
 * MatMul of float operands of rank >= 2 given as strided views: the GEMM packs its tiles from
 * any strides, and its sums do not depend on them, so this gives the bits of MatMul on the
 * materialised operands. Undefined (computing nothing) for other dtypes, ranks or shapes.
 */
export function matmulStrided(a: StridedOperand, b: StridedOperand): Tensor | undefined {
  const ra = a.dims.length, rb = b.dims.length, dtype = a.tensor.dtype;
  if (ra < 2 || rb < 2 || !isFloat(dtype) || b.tensor.dtype !== dtype) return undefined;
  const m = a.dims[ra - 2]!, k = a.dims[ra - 1]!, n = b.dims[rb - 1]!;
  if (b.dims[rb - 2] !== k) return undefined;
  const aBatch = a.dims.slice(0, -2), bBatch = b.dims.slice(0, -2);
  const batch = broadcastDims(aBatch, bBatch), batches = elementCount(batch);
  const out = allocateOverwritten(dtype, [...batch, m, n]);
  const ao = batchOffsets(batch, aBatch, a.strides), bo = batchOffsets(batch, bBatch, b.strides);
  gemmFloatBatch({
    m, n, k, count: batches,
    a: (t) => ({ data: a.tensor.data, offset: ao[t]!, rowStride: a.strides[ra - 2]!, colStride: a.strides[ra - 1]! }),
    b: (t) => ({ data: b.tensor.data, offset: bo[t]!, rowStride: b.strides[rb - 2]!, colStride: b.strides[rb - 1]! }),
    f32Result: out.data instanceof Float32Array,
  }, storeInto(out.data as Float32Array, (t) => t * m * n, n));
  return roundToDType(out);
}
