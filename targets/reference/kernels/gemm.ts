// Float GEMM for MatMul, Gemm and Conv: C = A * B. Two orders of summation,
// chosen by the data: float32 operands sum in float32 within K blocks of 256
// whose sums are added in float64 (gemm-f32-wasm.ts states the order and its
// error bound; gemm-f32.ts is its JavaScript); anything float64 (a float64
// tensor, Conv's float64 column matrix) keeps float64 products and sums, in K
// blocks of KC, each from zero, blocks added in turn. Within each order every
// path gives the same bits (except gemmFewRows, float64 only), so the answer
// does not depend on the path, the tiling or the number of threads:
// - gemmFloat: JavaScript (small problems);
// - gemmFloatBatch over GEMM_WASM_MIN_FLOPS: WebAssembly SIMD kernels on a
//   shared workspace (float32: sgemm, or sgemv under 4 columns; float64:
//   gemm-wasm.ts), over GEMM_PARALLEL_MIN_FLOPS split into chunks of rows (or
//   columns, or whole GEMMs of a batch) that worker threads share (gemm-pool.ts).

import type { TensorData } from "../../../ir/tensor.js";
import { KC, KERNEL_ARGS, MR, NR, WORKSPACE_BYTES } from "./gemm-wasm.js";
import type { KernelKind } from "./gemm-wasm.js";
import { GEMV_ROWS, SKC, SMR, SNR } from "./gemm-f32-wasm.js";
import { gemmF32Js } from "./gemm-f32.js";
import { CHUNK_TABLE_BASE, MAX_CHUNKS, gemmThreads, runChunks, workspace } from "./gemm-pool.js";

/** A strided 2-D view: element (r, c) is data[offset + r * rowStride + c * colStride]. */
export interface MatView {
  readonly data: TensorData;
  readonly offset: number;
  readonly rowStride: number;
  readonly colStride: number;
}

/** Below this much work (2*m*n*k summed over a batch) the JavaScript kernel is as fast as copying into WebAssembly. */
export const GEMM_WASM_MIN_FLOPS = 1e5;
/** The same for float32 operands, whose JavaScript loop (float32 rounding emulated) is slower: measured crossover about 5e3. */
export const GEMM_F32_WASM_MIN_FLOPS = 8192;
/** Above this much work a batch is split across threads (waking a worker costs tens of microseconds). */
export const GEMM_PARALLEL_MIN_FLOPS = 4e6;

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
 * C = A * B for fewer columns than a micro-tile (matrix-vector products, such as a mixture of
 * experts' per-token weights): dot products in K blocks like the packed kernel, with no packing
 * (it would cost as much as the products), four rows at a time so the four sums, each still
 * in order, overlap in the pipeline.
 */
function gemmFewCols(m: number, n: number, k: number, a: MatView, b: MatView): Float64Array {
  const c = new Float64Array(m * n), ad = a.data as Float32Array, bd = b.data as Float32Array;
  const as = a.colStride, ar = a.rowStride, bs = b.rowStride;
  for (let j = 0; j < n; j++) {
    let i = 0;
    for (; i + 4 <= m; i += 4) {
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k0 = 0; k0 < k; k0 += KC) {
        const end = Math.min(k, k0 + KC);
        let a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        let pa = a.offset + i * ar + k0 * as, pb = b.offset + j * b.colStride + k0 * bs;
        for (let p = k0; p < end; p++, pa += as, pb += bs) {
          const bv = bd[pb]!;
          a0 += ad[pa]! * bv; a1 += ad[pa + ar]! * bv; a2 += ad[pa + 2 * ar]! * bv; a3 += ad[pa + 3 * ar]! * bv;
        }
        s0 += a0; s1 += a1; s2 += a2; s3 += a3;
      }
      c[i * n + j] = s0; c[(i + 1) * n + j] = s1; c[(i + 2) * n + j] = s2; c[(i + 3) * n + j] = s3;
    }
    for (; i < m; i++) {
      let sum = 0;
      for (let k0 = 0; k0 < k; k0 += KC) {
        const end = Math.min(k, k0 + KC);
        let acc = 0, pa = a.offset + i * ar + k0 * as, pb = b.offset + j * b.colStride + k0 * bs;
        for (let p = k0; p < end; p++, pa += as, pb += bs) acc += ad[pa]! * bd[pb]!;
        sum += acc;
      }
      c[i * n + j] = sum;
    }
  }
  return c;
}

const isF32 = (v: MatView) => v.data instanceof Float32Array;

/**
 * C (m x n, row-major float64) = A (m x k) * B (k x n) for non-BigInt data, in JavaScript:
 * float32 A and B in the float32 order (gemm-f32.ts), anything else as below.
 * Goto-style blocking: K blocks of KC, A and B packed into float64 panels, 4x4 register tiles;
 * the loop over A panels is innermost so one 4-column B panel stays in L1 while A streams from L2.
 */
export function gemmFloat(m: number, n: number, k: number, a: MatView, b: MatView): Float64Array {
  if (isF32(a) && isF32(b)) return gemmF32Js(m, n, k, a, b);
  if (m < MR && b.colStride === 1) return gemmFewRows(m, n, k, a, b);
  if (n < NR) return gemmFewCols(m, n, k, a, b);
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

/** A batch of GEMMs with one shape: C_t = A_t * B_t for t < count. */
export interface GemmBatch {
  readonly m: number;
  readonly n: number;
  readonly k: number;
  readonly count: number;
  readonly a: (t: number) => MatView;
  readonly b: (t: number) => MatView;
  /** The caller only wants C rounded to float32: StoreC may then get a Float32Array (cheaper to copy out). */
  readonly f32Result?: boolean;
  /**
   * With f32Result, a row of n float32s to add to every row of C (one float32 addition, a bias
   * Add's), where the kernel can: gemmFloatBatch says whether it did, else the caller adds it.
   */
  readonly bias?: Float32Array | undefined;
  /** The same for a value per row of C: C_t's row i gets rowBias[rowBiasAt(t) + i] (a Conv's bias per channel). */
  readonly rowBias?: Float32Array | undefined;
  readonly rowBiasAt?: (t: number) => number;
}

/**
 * Receives part of C_t: rows [row0, row0 + rows) x cols [col0, col0 + cols) are
 * c[off + r * ldc + j] (r, j from 0), float64 (or float32 with f32Result). `c` may be
 * reused after the call returns.
 */
export type StoreC = (t: number, row0: number, col0: number, rows: number, cols: number,
  c: Float64Array | Float32Array, off: number, ldc: number) => void;

/**
 * Compute every C_t of a batch and hand it to `store`, on the fastest path for its size.
 * Returns whether job.bias was added (only the float32 kernel with K in one block adds it).
 */
export function gemmFloatBatch(job: GemmBatch, store: StoreC): boolean {
  const { m, n, k, count } = job;
  if (m === 0 || n === 0 || count === 0) return false;
  const work = 2 * m * n * k * count;
  if (k > 0 && work >= GEMM_F32_WASM_MIN_FLOPS) {
    const views = { as: Array.from({ length: count }, (_, t) => job.a(t)), bs: Array.from({ length: count }, (_, t) => job.b(t)) };
    const variant = variantOf(job, views);
    const enough = work >= (variant && variant.kind >= 2 ? GEMM_F32_WASM_MIN_FLOPS : GEMM_WASM_MIN_FLOPS);
    if (variant && enough && gemmWasm(job, views, variant, store, work >= GEMM_PARALLEL_MIN_FLOPS)) return variant.kind === 5 || variant.kind === 6;
  }
  for (let t = 0; t < count; t++) store(t, 0, 0, m, n, gemmFloat(m, n, k, job.a(t), job.b(t)), 0, n);
  return false;
}

const roundUp = (x: number, to: number) => Math.ceil(x / to) * to;
const sameView = (x: MatView, y: MatView) =>
  x.data === y.data && x.offset === y.offset && x.rowStride === y.rowStride && x.colStride === y.colStride;

/** Copy rows [r0, r0 + rows) of A (all k columns) row-major into dst at `at`, then zero rows up to `padded`. */
function copyRows(v: MatView, r0: number, rows: number, padded: number, k: number, dst: Float32Array | Float64Array, at: number): void {
  const src = v.data as Float32Array;
  if (v.colStride === 1 && v.rowStride === k) {
    const start = v.offset + r0 * k;
    dst.set(src.subarray(start, start + rows * k), at);
  } else {
    for (let r = 0; r < rows; r++) {
      const base = v.offset + (r0 + r) * v.rowStride, d = at + r * k;
      if (v.colStride === 1) dst.set(src.subarray(base, base + k), d);
      else for (let p = 0; p < k; p++) dst[d + p] = src[base + p * v.colStride]!;
    }
  }
  dst.fill(0, at + rows * k, at + padded * k);
}

/** Pack cols [c0, c0 + cols) of B into nr-column panels over all K (as the kernel reads them), zero-padded. */
function packColumns(v: MatView, c0: number, cols: number, k: number, nr: number, dst: Float32Array | Float64Array, at: number): void {
  const src = v.data as Float32Array, rs = v.rowStride, cs = v.colStride;
  for (let p = 0; p * nr < cols; p++) {
    const base = at + p * k * nr, first = c0 + p * nr, width = Math.min(nr, cols - p * nr);
    if (width < nr) dst.fill(0, base, base + k * nr);
    if (cs === 1 && width === nr && nr === 8) {
      for (let kk = 0, s = v.offset + first, d = base; kk < k; kk++, s += rs, d += 8) {
        dst[d] = src[s]!; dst[d + 1] = src[s + 1]!; dst[d + 2] = src[s + 2]!; dst[d + 3] = src[s + 3]!;
        dst[d + 4] = src[s + 4]!; dst[d + 5] = src[s + 5]!; dst[d + 6] = src[s + 6]!; dst[d + 7] = src[s + 7]!;
      }
    } else if (cs === 1 && width === nr && nr === 4) {
      for (let kk = 0, s = v.offset + first, d = base; kk < k; kk++, s += rs, d += 4) {
        dst[d] = src[s]!; dst[d + 1] = src[s + 1]!; dst[d + 2] = src[s + 2]!; dst[d + 3] = src[s + 3]!;
      }
    } else if (nr === 1 && rs === 1 && src instanceof Float32Array && dst instanceof Float32Array) {
      dst.set(src.subarray(v.offset + first * cs, v.offset + first * cs + k), base);
    } else {
      for (let j = 0; j < width; j++) {
        for (let kk = 0, s = v.offset + (first + j) * cs, d = base + j; kk < k; kk++, s += rs, d += nr) dst[d] = src[s]!;
      }
    }
  }
}

/** Which WebAssembly kernel a batch runs on, with its tile: rows (mr) and columns (nr) per step, bytes of A and packed B. */
interface Variant {
  readonly kind: KernelKind;
  readonly mr: number;
  readonly nr: number;
  readonly aBytes: 4 | 8;
  readonly bBytes: 4 | 8;
  /** The kernel writes C as float32 (sgemm_c32: K of one block, f32Result), not float64. */
  readonly c32?: boolean;
}

/** Bytes of distinct A's per block of a batch of narrow products (see gemmWasm). */
const BLOCK_A_BYTES = 1 << 19;

/** Rows of A one chunk covers at most, so that its K block of A stays in L2 while B's panels stream through. */
const CHUNK_ROWS = 256;

/** float32 operands: sgemm, or sgemv for fewer than 4 columns; otherwise the float64 kernel; undefined for mixed float64 A. */
/** A batch's A and B views, t = 0 .. count - 1. */
interface BatchViews {
  readonly as: readonly MatView[];
  readonly bs: readonly MatView[];
}

function variantOf(job: GemmBatch, { as, bs }: BatchViews): Variant | undefined {
  if (as.every(isF32) && bs.every(isF32)) {
    if (job.n < 4) return { kind: 3, mr: GEMV_ROWS, nr: 1, aBytes: 4, bBytes: 4 };
    const c32 = job.k <= SKC && job.f32Result === true, bias = c32 && job.bias?.length === job.n, rowBias = c32 && !bias && job.rowBias !== undefined;
    return { kind: bias ? 5 : rowBias ? 6 : c32 ? 4 : 2, mr: SMR, nr: SNR, aBytes: 4, bBytes: 4, c32 };
  }
  if (job.m < MR || job.n < NR) return undefined;
  const aF64 = as[0]!.data instanceof Float64Array;
  if (as.some((v) => (v.data instanceof Float64Array) !== aF64)) return undefined;
  return { kind: aF64 ? 1 : 0, mr: MR, nr: NR, aBytes: aF64 ? 8 : 4, bBytes: 8 };
}

/**
 * The batch on a WebAssembly kernel. The workspace holds, per block of the batch, A rows
 * (row-major, as A's dtype), B packed in the variant's panels and C as float64; a batch too
 * large for it is done in blocks of batches, then of columns, then of rows. Returns false
 * (the caller falls back to JavaScript) for shapes the workspace cannot hold at all.
 */
function gemmWasm(job: GemmBatch, { as, bs }: BatchViews, variant: Variant, store: StoreC, parallel: boolean): boolean {
  const { m, n, k, count } = job;
  const { mr, nr, aBytes, bBytes } = variant;
  const aShared = as.every((v) => sameView(v, as[0]!)), bShared = bs.every((v) => sameView(v, bs[0]!));
  const cElem = variant.c32 ? 4 : 8, cBytes = variant.c32 ? 4 : job.f32Result ? 8 + 4 : 8;
  // The bias row, padded to whole vectors, or the values per row of every C_t (read 4 rows past the last).
  const biases = variant.kind === 5 ? job.bias! : variant.kind === 6 ? job.rowBias! : undefined;
  const biasBytes = biases ? roundUp(4 * biases.length + 32, 16) : 0;
  const bytes = (tb: number, mb: number, nb: number) => {
    const mp = roundUp(mb, mr), np = roundUp(nb, nr);
    return (aShared ? 1 : tb) * mp * k * aBytes + (bShared ? 1 : tb) * np * k * bBytes + tb * mp * np * cBytes + 32 + biasBytes;
  };
  // A batch whose A's are each used by few columns streams A once: in blocks of about
  // BLOCK_A_BYTES, A is copied into the workspace and read back while still in cache.
  const perGemmA = roundUp(m, mr) * k * aBytes;
  const streamed = !aShared && n < 4 * nr ? Math.max(1, Math.floor(BLOCK_A_BYTES / Math.max(1, perGemmA))) : count;
  let tb = Math.min(count, MAX_CHUNKS, streamed), mb = m, nb = n;
  while (tb > 1 && bytes(tb, mb, nb) > WORKSPACE_BYTES) tb = Math.ceil(tb / 2);
  while (bytes(tb, mb, nb) > WORKSPACE_BYTES && (mb > mr || nb > nr)) {
    if (nb > nr && nb * bBytes >= mb * aBytes) nb = roundUp(Math.ceil(nb / 2), nr);
    else mb = roundUp(Math.ceil(mb / 2), mr);
  }
  const ws = workspace();
  if (!ws || bytes(tb, mb, nb) > WORKSPACE_BYTES) return false;

  const f64 = new Float64Array(ws.memory.buffer), f32 = new Float32Array(ws.memory.buffer);
  const aView = aBytes === 8 ? f64 : f32, bView = bBytes === 8 ? f64 : f32;
  const table = ws.control, base = CHUNK_TABLE_BASE;
  const threads = parallel ? gemmThreads() : 1;
  // The bias row sits at the end of the workspace, out of the way of every block.
  const biasBase = WORKSPACE_BYTES - biasBytes;
  if (biases) f32.set(biases, biasBase / 4);
  for (let t0 = 0; t0 < count; t0 += tb) {
    const nt = Math.min(tb, count - t0);
    for (let i0 = 0; i0 < m; i0 += mb) {
      const rows = Math.min(mb, m - i0), mp = roundUp(rows, mr);
      for (let j0 = 0; j0 < n; j0 += nb) {
        const cols = Math.min(nb, n - j0), np = roundUp(cols, nr);
        const aSize = mp * k * aBytes, bSize = np * k * bBytes, cSize = mp * np * cElem;
        const bBase = roundUp((aShared ? 1 : nt) * aSize, 16), cBase = roundUp(bBase + (bShared ? 1 : nt) * bSize, 16);
        for (let t = 0; t < (aShared ? 1 : nt); t++) copyRows(as[t0 + t]!, i0, rows, mp, k, aView, (t * aSize) / aBytes);
        for (let t = 0; t < (bShared ? 1 : nt); t++) packColumns(bs[t0 + t]!, j0, cols, k, nr, bView, (bBase + t * bSize) / bBytes);
        // Chunks: whole GEMMs when the batch alone keeps every thread busy, else row (then column)
        // ranges; rows also in blocks of at most CHUNK_ROWS, for the cache. Threads only for a
        // block with enough work (a streamed block of matrix-vector products has too little).
        const shared = threads > 1 && 2 * rows * cols * k * nt >= GEMM_PARALLEL_MIN_FLOPS;
        const wanted = shared ? Math.min(4 * threads, MAX_CHUNKS) : 1;
        const mPanels = mp / mr, nPanels = np / nr, parts = Math.ceil(wanted / nt);
        const rowParts = Math.min(Math.max(parts, Math.ceil(mp / CHUNK_ROWS)), mPanels, Math.max(1, Math.floor(MAX_CHUNKS / nt)));
        const colParts = Math.min(Math.ceil(parts / rowParts), nPanels, Math.max(1, Math.floor(MAX_CHUNKS / (nt * rowParts))));
        let chunks = 0;
        for (let t = 0; t < nt; t++) {
          for (let rp = 0; rp < rowParts; rp++) {
            for (let cp = 0; cp < colParts; cp++, chunks++) {
              const p = base + chunks * KERNEL_ARGS;
              table[p] = aShared ? 0 : t * aSize; table[p + 1] = k * aBytes;
              table[p + 2] = bBase + (bShared ? 0 : t * bSize); table[p + 3] = cBase + t * cSize; table[p + 4] = np * cElem;
              table[p + 5] = k;
              table[p + 6] = Math.floor((rp * mPanels) / rowParts) * mr; table[p + 7] = Math.floor(((rp + 1) * mPanels) / rowParts) * mr;
              table[p + 8] = Math.floor((cp * nPanels) / colParts) * nr; table[p + 9] = Math.floor(((cp + 1) * nPanels) / colParts) * nr;
              table[p + 10] = variant.kind === 6 ? biasBase + 4 * ((job.rowBiasAt?.(t0 + t) ?? 0) + i0) : biasBase + 4 * j0;
            }
          }
        }
        runChunks(ws, chunks, variant.kind, shared);
        if (variant.c32) {
          for (let t = 0; t < nt; t++) store(t0 + t, i0, j0, rows, cols, f32, (cBase + t * cSize) / 4, np);
        } else if (job.f32Result) {
          const c32 = cBase + nt * cSize;
          ws.demote(cBase, c32, nt * mp * np);
          for (let t = 0; t < nt; t++) store(t0 + t, i0, j0, rows, cols, f32, c32 / 4 + t * mp * np, np);
        } else {
          for (let t = 0; t < nt; t++) store(t0 + t, i0, j0, rows, cols, f64, (cBase + t * cSize) / 8, np);
        }
      }
    }
  }
  return true;
}
