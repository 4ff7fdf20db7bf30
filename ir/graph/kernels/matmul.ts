// MatMul and Gemm kernels. Floats go through one packed, register-blocked GEMM
// (below) that Conv reuses; integer dtypes use plain loops with wrap-around
// arithmetic (Math.imul for 32-bit and narrower, BigInt for 64-bit).

import { fail } from "../../diagnostics.js";
import { isFloat } from "../../dtype.js";
import type { Tensor, TensorData } from "../../tensor.js";
import { elementCount, makeTensor } from "../../tensor.js";
import { broadcastDims, broadcastIndex } from "./broadcast.js";
import { broadcastsTo, isBigData, roundToDType } from "./common.js";

/** A strided 2-D view: element (r, c) is data[offset + r * rowStride + c * colStride]. */
export interface MatView {
  readonly data: TensorData;
  readonly offset: number;
  readonly rowStride: number;
  readonly colStride: number;
}

/** Micro-tile of C computed in registers: MR x NR accumulators. */
const MR = 4, NR = 4;
/** Depth of one K block: a packed A block (M x KC doubles) should stay in L2. */
const KC = 256;

/**
 * Copy rows [0, rows) x cols [k0, k0 + kc) of `v` into MR-row panels, k-major and
 * interleaved (panel p, step k holds rows p*MR .. p*MR+MR-1), zero-padding the last panel.
 * B is packed the same way from its transpose, so the micro-kernel reads both unit-stride.
 */
function packPanels(v: MatView, rows: number, k0: number, kc: number, transposed: boolean, dst: Float64Array): void {
  const d = v.data as Float32Array;
  const rs = transposed ? v.colStride : v.rowStride, cs = transposed ? v.rowStride : v.colStride;
  const panels = Math.ceil(rows / MR);
  for (let p = 0; p < panels; p++) {
    const base = p * kc * MR;
    for (let r = 0; r < MR; r++) {
      const row = p * MR + r;
      if (row >= rows) {
        for (let k = 0; k < kc; k++) dst[base + k * MR + r] = 0;
        continue;
      }
      let src = v.offset + row * rs + k0 * cs;
      for (let k = 0; k < kc; k++, src += cs) dst[base + k * MR + r] = d[src]!;
    }
  }
}

/** C[i0.., j0..] += Apanel * Bpanel over kc steps; writes only the mr x nr valid corner. */
function microKernel(kc: number, ap: Float64Array, aOff: number, bp: Float64Array, bOff: number,
  c: Float64Array, cOff: number, ldc: number, mr: number, nr: number): void {
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let k = 0; k < kc; k++, aOff += 4, bOff += 4) {
    const a0 = ap[aOff]!, a1 = ap[aOff + 1]!, a2 = ap[aOff + 2]!, a3 = ap[aOff + 3]!;
    const b0 = bp[bOff]!, b1 = bp[bOff + 1]!, b2 = bp[bOff + 2]!, b3 = bp[bOff + 3]!;
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  if (mr === 4 && nr === 4) {
    c[cOff]! += c00; c[cOff + 1]! += c01; c[cOff + 2]! += c02; c[cOff + 3]! += c03; cOff += ldc;
    c[cOff]! += c10; c[cOff + 1]! += c11; c[cOff + 2]! += c12; c[cOff + 3]! += c13; cOff += ldc;
    c[cOff]! += c20; c[cOff + 1]! += c21; c[cOff + 2]! += c22; c[cOff + 3]! += c23; cOff += ldc;
    c[cOff]! += c30; c[cOff + 1]! += c31; c[cOff + 2]! += c32; c[cOff + 3]! += c33;
    return;
  }
  const tile = [c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33];
  for (let i = 0; i < mr; i++) for (let j = 0; j < nr; j++) c[cOff + i * ldc + j]! += tile[i * 4 + j]!;
}

/**
 * C = A * B for fewer rows than a micro-tile (vector-matrix products, depthwise Conv), where
 * padding A to MR rows would waste most of the work: B's rows are added in, four per pass.
 */
function gemmFewRows(m: number, n: number, k: number, a: MatView, b: MatView): Float64Array {
  const c = new Float64Array(m * n), ad = a.data as Float32Array, bd = b.data as Float64Array;
  const rs = b.rowStride, as = a.colStride;
  for (let r = 0; r < m; r++) {
    const ab = a.offset + r * a.rowStride, dst = r * n;
    let p = 0;
    for (; p + 4 <= k; p += 4) {
      const a0 = ad[ab + p * as]!, a1 = ad[ab + (p + 1) * as]!, a2 = ad[ab + (p + 2) * as]!, a3 = ad[ab + (p + 3) * as]!;
      const s0 = b.offset + p * rs, s1 = s0 + rs, s2 = s1 + rs, s3 = s2 + rs;
      for (let j = 0; j < n; j++) c[dst + j]! += a0 * bd[s0 + j]! + a1 * bd[s1 + j]! + a2 * bd[s2 + j]! + a3 * bd[s3 + j]!;
    }
    for (; p < k; p++) {
      const av = ad[ab + p * as]!, src = b.offset + p * rs;
      for (let j = 0; j < n; j++) c[dst + j]! += av * bd[src + j]!;
    }
  }
  return c;
}

/**
 * C (m x n, row-major float64) = A (m x k) * B (k x n) for non-BigInt data. Goto-style blocking:
 * K blocks of KC, A and B packed into float64 panels, 4x4 register tiles; the loop over
 * A panels is innermost so one 4-column B panel stays in L1 while A streams from L2.
 */
export function gemmFloat(m: number, n: number, k: number, a: MatView, b: MatView): Float64Array {
  if (m < MR && b.colStride === 1) return gemmFewRows(m, n, k, a, b);
  const c = new Float64Array(m * n);
  if (m === 0 || n === 0 || k === 0) return c;
  const mPanels = Math.ceil(m / MR), nPanels = Math.ceil(n / NR);
  const kcMax = Math.min(k, KC);
  const ap = new Float64Array(mPanels * MR * kcMax), bp = new Float64Array(nPanels * NR * kcMax);
  for (let k0 = 0; k0 < k; k0 += KC) {
    const kc = Math.min(KC, k - k0);
    packPanels(a, m, k0, kc, false, ap);
    packPanels(b, n, k0, kc, true, bp);
    for (let jp = 0; jp < nPanels; jp++) {
      const j0 = jp * NR, nr = Math.min(NR, n - j0);
      for (let ip = 0; ip < mPanels; ip++) {
        const i0 = ip * MR;
        microKernel(kc, ap, ip * kc * MR, bp, jp * kc * NR, c, i0 * n + j0, n, Math.min(MR, m - i0), nr);
      }
    }
  }
  return c;
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
  const out = makeTensor(a.dtype, outDims);
  const batches = elementCount(batch);
  const ia = broadcastIndex(aBatch, batch), ib = broadcastIndex(bBatch, batch);
  for (let t = 0; t < batches; t++) {
    const av: MatView = { data: a.data, offset: (ia ? ia[t]! : t) * m * k, rowStride: k, colStride: 1 };
    const bv: MatView = { data: b.data, offset: (ib ? ib[t]! : t) * k * n, rowStride: n, colStride: 1 };
    if (isFloat(a.dtype)) (out.data as Float32Array).set(gemmFloat(m, n, k, av, bv), t * m * n);
    else gemmInt(m, n, k, av, bv, out.data, t * m * n);
  }
  return roundToDType(out);
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
  let cIndex: Int32Array | null = null;
  if (c) {
    if (!broadcastsTo(c.dims, [m, n])) {
      fail(`Gemm C of shape [${c.dims.join(", ")}] does not broadcast to [${m}, ${n}]`);
    }
    cIndex = broadcastIndex(c.dims, [m, n]);
  }
  const out = makeTensor(a.dtype, [m, n]);
  const od = out.data;
  const at = (i: number) => (cIndex ? cIndex[i]! : i);
  if (isBigData(od)) {
    if (!Number.isInteger(alpha) || !Number.isInteger(beta)) fail(`Gemm on ${a.dtype} needs integer alpha and beta`);
    gemmInt(m, n, k, av, bv, od, 0);
    const al = BigInt(alpha), be = BigInt(beta), cd = c?.data as BigInt64Array | undefined;
    for (let i = 0; i < od.length; i++) od[i] = al * od[i]! + (cd ? be * cd[at(i)]! : 0n);
    return out;
  }
  const cd = c?.data as Float32Array | undefined;
  if (isFloat(a.dtype)) {
    const prod = gemmFloat(m, n, k, av, bv);
    for (let i = 0; i < prod.length; i++) (od as Float32Array)[i] = alpha * prod[i]! + (cd ? beta * cd[at(i)]! : 0);
    return roundToDType(out);
  }
  const prod = makeTensor(a.dtype, [m, n]).data as Int32Array;
  gemmInt(m, n, k, av, bv, prod, 0);
  for (let i = 0; i < prod.length; i++) (od as Int32Array)[i] = Math.trunc(alpha * prod[i]! + (cd ? beta * cd[at(i)]! : 0));
  return out;
}
