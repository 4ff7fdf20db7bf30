// Runs the float32 SIMD kernels of simd-wasm.ts: operands are copied into the
// module's memory (a memcpy, about 0.3 ns an element), computed there four
// lanes at a time and copied back. Kernels whose work splits into independent
// rows or runs of elements (softmax, exp, sigmoid, tanh, erf, layernorm) run
// on the worker pool's threads as well as the calling one (gemm-pool.ts) once
// there is enough of it; the split never changes a value, since each element's
// arithmetic is the same wherever it runs. Callers fall back to their
// JavaScript loops when WebAssembly is not available or the operands do not
// fit in the memory (SIMD_MEMORY_BYTES).

import { SIMD_BINARY_OPS, SIMD_MEMORY_BYTES } from "./simd-wasm.js";
import { ATTENTION_DESC_BYTES, ATTENTION_UNIT_BYTES, attentionScratchBytes } from "./attention-wasm.js";
import { SKC } from "./gemm-f32-wasm.js";
import { CONV2D_DESC_WORDS, convScratch } from "./conv2d-wasm.js";
import type { SimdBinaryOp } from "./simd-wasm.js";
import { KERNEL_ARGS } from "./gemm-wasm.js";
import { CHUNK_TABLE_BASE, MAX_CHUNKS, gemmThreads, runChunks, simdKind, workspace } from "./gemm-pool.js";
import type { Workspace } from "./gemm-pool.js";
import type { StridedPlan } from "./strided.js";
import { stridedLoopSource } from "./strided.js";

type Fn = (...args: number[]) => void;

interface Simd {
  readonly f32: Float32Array;
  readonly i32: Int32Array;
  readonly fn: (name: string) => Fn;
  readonly ws: Workspace;
}

let simd: Simd | null | undefined;

function instance(): Simd | null {
  if (simd !== undefined) return simd;
  const ws = workspace();
  simd = ws?.simd ? { f32: new Float32Array(ws.simd.memory.buffer), i32: new Int32Array(ws.simd.memory.buffer), fn: ws.simd.fn, ws } : null;
  return simd;
}

/** Elements a chunk of split work should have at least: well above a hand-off to a worker (tens of microseconds). */
const CHUNK_ELEMENTS = 32768;

/** Chunks `units` units of `perUnit` elements split into: 1 below two chunks' worth or with one thread. */
function chunksFor(units: number, perUnit: number): number {
  const chunks = Math.min(MAX_CHUNKS, Math.floor((units * perUnit) / CHUNK_ELEMENTS), units);
  return chunks < 2 || gemmThreads() < 2 ? 1 : chunks;
}

/**
 * Run SIMD function `name` over `units` independent units of `perUnit` elements (rows, or
 * vectors of 4), in chunks across the pool's threads when there are enough (chunksFor):
 * args(first, count, chunk) gives the function's arguments for units [first, first + count),
 * chunk numbering the chunks from 0 (for per-chunk scratch).
 */
function split(s: Simd, name: string, units: number, perUnit: number, args: (first: number, count: number, chunk: number) => number[]): void {
  const chunks = chunksFor(units, perUnit);
  if (chunks < 2) {
    s.fn(name)(...args(0, units, 0));
    return;
  }
  const size = Math.ceil(units / chunks);
  let count = 0;
  for (let first = 0; first < units; first += size, count++) {
    s.ws.control.set(args(first, Math.min(size, units - first), count), CHUNK_TABLE_BASE + count * KERNEL_ARGS);
  }
  runChunks(s.ws, count, simdKind(name), true);
}

/** Float32s the memory holds, less room for padding. */
const CAPACITY = SIMD_MEMORY_BYTES / 4 - 64;

/**
 * Byte addresses for regions of `sizes` bytes laid one after another from `start`, each
 * 16-byte aligned; undefined where they would not fit the memory.
 */
function layout(start: number, ...sizes: number[]): number[] | undefined {
  const at: number[] = [];
  let end = start;
  for (const size of sizes) {
    const base = Math.ceil(end / 16) * 16;
    at.push(base);
    end = base + size;
  }
  return end <= 4 * CAPACITY ? at : undefined;
}
/** Element offsets rounded up to whole vectors, plus one vector of padding. */
const region = (n: number) => Math.ceil(n / 4) * 4 + 4;

type RowLoop = (ext: readonly number[], n: number, ...views: unknown[]) => void;
const rowLoops = new Map<SimdBinaryOp, RowLoop>();

function rowLoop(op: SimdBinaryOp, s: Simd): RowLoop {
  let loop = rowLoops.get(op);
  if (!loop) {
    // Views a, b, o are byte addresses in the memory; ai, bi, oi element offsets from them.
    const row = `
        if (sa === 1 && sb === 1) vv(a + 4 * ai, b + 4 * bi, o + 4 * oi, n);
        else if (sa === 1) vs(a + 4 * ai, b + 4 * bi, o + 4 * oi, n);
        else sv(a + 4 * ai, b + 4 * bi, o + 4 * oi, n);`;
    const source = stridedLoopSource(`${op}Simd`, ["a", "b", "o"], row);
    loop = (new Function("vv", "vs", "sv", source) as (...f: Fn[]) => RowLoop)(s.fn(`${op}_vv`), s.fn(`${op}_vs`), s.fn(`${op}_sv`));
    rowLoops.set(op, loop);
  }
  return loop;
}

export function isSimdBinaryOp(op: string): op is SimdBinaryOp {
  return Object.hasOwn(SIMD_BINARY_OPS, op);
}

/**
 * o = a op b over a collapsed broadcast plan (pointwise.ts), all float32 and contiguous
 * from offset 0. Returns false, computing nothing, where the SIMD path cannot take it.
 */
export function binaryF32(op: SimdBinaryOp, plan: StridedPlan, a: Float32Array, b: Float32Array, o: Float32Array): boolean {
  const [sa, sb] = plan.steps as [number, number];
  if (sa === 0 && sb === 0) return false;
  const s = instance();
  if (!s || region(a.length) + region(b.length) + region(o.length) > CAPACITY) return false;
  const pa = 0, pb = region(a.length), po = pb + region(b.length);
  s.f32.set(a, pa);
  s.f32.set(b, pb);
  const [as, bs, os] = plan.strides;
  rowLoop(op, s)(plan.outer, plan.n, 4 * pa, 0, as, sa, 4 * pb, 0, bs, sb, 4 * po, 0, os, 1);
  o.set(s.f32.subarray(po, po + o.length));
  return true;
}

/** Where unary kernels find their float64 parameters (HardSigmoid's alpha and beta): in the slack past CAPACITY. */
const PARAMS_BYTE = 4 * CAPACITY + 16;

/** dst[i] = f(src[i]) by the module's function `name`, in chunks through its memory; false where SIMD is not available. */
function mapF32(name: string, src: Float32Array, dst: Float32Array, params: readonly number[] = []): boolean {
  const s = instance();
  if (!s || src.length !== dst.length) return false;
  new Float64Array(s.f32.buffer, PARAMS_BYTE, 2).set(params);
  const chunk = Math.floor(CAPACITY / 4) * 4;
  for (let at = 0; at < src.length; at += chunk) {
    const n = Math.min(chunk, src.length - at);
    s.f32.set(src.subarray(at, at + n), 0);
    split(s, name, Math.ceil(n / 4), 4, (v, count) => [16 * v, 16 * v, 4 * count, PARAMS_BYTE]);
    dst.set(s.f32.subarray(0, n), at);
  }
  return true;
}

/** dst[i] = exp(src[i]) in float32 (max relative error about 1.5e-7); false where SIMD is not available. */
export function expF32(src: Float32Array, dst: Float32Array): boolean {
  return mapF32("exp", src, dst);
}

/**
 * The float32 functions of simd-math-wasm.ts: the bits of math.ts's laneSigmoid, laneTanh and
 * laneErf, and of pointwise.ts's HardSwish, HardSigmoid and Relu loops.
 */
export type SimdUnaryOp = "sigmoid" | "tanh" | "erf" | "hardswish" | "hardsigmoid" | "relu";

/** dst[i] = f(src[i]) for a SimdUnaryOp (p and q: HardSigmoid's alpha and beta); false where SIMD is not available. */
export function unaryF32(op: SimdUnaryOp, src: Float32Array, dst: Float32Array, p = 0, q = 0): boolean {
  return mapF32(op, src, dst, [p, q]);
}

/**
 * Softmax of `rows` contiguous rows of n float32s from x into out. Rows whose length is
 * not a multiple of 4 are copied one by one with -Infinity padding. False where SIMD is not available.
 */
export function softmaxF32(x: Float32Array, out: Float32Array, rows: number, n: number): boolean {
  const s = instance();
  if (!s || n === 0 || rows === 0) return !!s;
  const stride = Math.ceil(n / 4) * 4, perChunk = Math.floor(CAPACITY / stride);
  if (perChunk === 0) return false;
  const f32 = s.f32;
  for (let r0 = 0; r0 < rows; r0 += perChunk) {
    const count = Math.min(perChunk, rows - r0);
    if (stride === n) {
      f32.set(x.subarray(r0 * n, (r0 + count) * n), 0);
    } else {
      for (let r = 0; r < count; r++) {
        f32.set(x.subarray((r0 + r) * n, (r0 + r + 1) * n), r * stride);
        f32.fill(-Infinity, r * stride + n, (r + 1) * stride);
      }
    }
    split(s, "softmax", count, stride, (r, rows) => [4 * r * stride, rows, stride]);
    if (stride === n) out.set(f32.subarray(0, count * n), r0 * n);
    else for (let r = 0; r < count; r++) out.set(f32.subarray(r * stride, r * stride + n), (r0 + r) * n);
  }
  return true;
}

/** A float32 operand broadcast over the rows of a softmax: its data and its collapsed plan against them. */
export interface BroadcastOperand {
  readonly data: Float32Array;
  readonly plan: StridedPlan;
}

/**
 * Softmax along rows of n float32s (n a multiple of 4) of (x op scale) + mask, op Mul or
 * Div by one float32, the mask (when given) broadcast to x by its plan (views: x, mask, x).
 * Each step is the float32 SIMD kernel its node would run (binaryF32, softmaxF32), on the
 * same values in the same order, so the bits are those of the nodes run one by one; the
 * products and sums never leave the module's memory. False, computing nothing, where SIMD
 * is not available or the operands do not fit.
 */
export function scaledMaskedSoftmaxF32(x: Float32Array, op: "Mul" | "Div", scale: number, mask: BroadcastOperand | undefined,
  out: Float32Array, rows: number, n: number): boolean {
  const s = instance(), total = rows * n;
  if (!s || n % 4 !== 0 || total === 0 || x.length !== total || out.length !== total) return false;
  const pScale = region(total), pMask = pScale + 4;
  if (pMask + (mask ? region(mask.data.length) : 0) > CAPACITY) return false;
  if (mask && mask.plan.steps[0] !== 1) return false;
  const f32 = s.f32;
  f32.set(x, 0);
  f32[pScale] = scale;
  s.fn(`${op}_vs`)(0, 4 * pScale, 0, total); // memory-bound: the calling thread alone
  if (mask) {
    f32.set(mask.data, pMask);
    const [xs, ms] = mask.plan.strides;
    rowLoop("Add", s)(mask.plan.outer, mask.plan.n, 0, 0, xs, 1, 4 * pMask, 0, ms, mask.plan.steps[1], 0, 0, xs, 1);
  }
  split(s, "softmax", rows, n, (r, count) => [4 * r * n, count, n]);
  out.set(f32.subarray(0, total));
  return true;
}

/**
 * LayerNormalization of `rows` contiguous rows of n float32s (n a multiple of 4) from x into
 * out, with scale and bias (or none) of n values each; stats gets (mean, inv) per row.
 * The bits of normalize.ts's JavaScript loop (simd-norm-wasm.ts says why). False where
 * SIMD is not available or n is not a multiple of 4.
 */
export function layerNormF32(x: Float32Array, scale: Float32Array, bias: Float32Array | undefined, epsilon: number,
  out: Float32Array, stats: Float32Array, rows: number, n: number): boolean {
  const s = instance();
  if (!s || n % 4 !== 0) return false;
  if (rows === 0 || n === 0) return true;
  const pScale = 0, pBias = n, pEps = 2 * n, at = 2 * n + 4; // pEps: a float64, 8-byte aligned
  const perChunk = Math.floor((CAPACITY - at) / (n + 2));
  if (perChunk === 0) return false;
  const f32 = s.f32, name = bias ? "layernorm" : "layernorm_nobias";
  f32.set(scale, pScale);
  if (bias) f32.set(bias, pBias);
  new Float64Array(f32.buffer, 4 * pEps, 1)[0] = epsilon;
  for (let r0 = 0; r0 < rows; r0 += perChunk) {
    const count = Math.min(perChunk, rows - r0), pStats = at + count * n;
    f32.set(x.subarray(r0 * n, (r0 + count) * n), at);
    split(s, name, count, n, (r, rows) => [4 * (at + r * n), rows, n, 4 * pScale, 4 * pBias, 4 * (pStats + 2 * r), 4 * pEps]);
    out.set(f32.subarray(at, at + count * n), r0 * n);
    stats.set(f32.subarray(pStats, pStats + 2 * count), 2 * r0);
  }
  return true;
}

/** A float32 operand of attentionF32: rows of contiguous elements, `rowStride` apart (0: one row repeated). */
export interface AttentionOperand {
  readonly data: Float32Array;
  /** Per unit (batch and head), the element offset of its first row. */
  readonly offsets: readonly number[];
  readonly rowStride: number;
}

/**
 * One attention per unit: O = softmax(Q K^T op scale + mask) V, Q `queries` rows of d, K
 * `keys` rows of d, V `keys` rows of dv, the mask `queries` rows of `keys`.
 */
export interface AttentionJob {
  readonly queries: number;
  readonly keys: number;
  readonly d: number;
  readonly dv: number;
  readonly q: AttentionOperand;
  readonly k: AttentionOperand;
  readonly v: AttentionOperand;
  readonly mask: AttentionOperand | undefined;
  readonly op: "Mul" | "Div";
  readonly scale: number;
}

/**
 * out (units x queries x dv, contiguous) = the job, by attention-wasm.ts's kernel: the bits of
 * its nodes one by one. False, computing nothing, where the kernel does not apply (keys or
 * d not a multiple of 4, dv not of 8, d over one GEMM block) or the operands do not fit.
 */
export function attentionF32(job: AttentionJob, out: Float32Array): boolean {
  const s = instance();
  const { queries, keys, d, dv, q, k, v, mask } = job, units = q.offsets.length;
  if (!s || units === 0 || queries === 0 || keys === 0 || keys % 4 !== 0 || d % 4 !== 0 || dv % 8 !== 0) return false;
  if (d > SKC || out.length !== units * queries * dv) return false;
  const scratch = attentionScratchBytes(keys, d), chunks = chunksFor(units, queries * keys);
  // Byte layout: descriptor, unit table, Q (and room for 3 rows past it), K, V, mask, O, scratch per chunk.
  const regions = layout(ATTENTION_DESC_BYTES + units * ATTENTION_UNIT_BYTES, 4 * q.data.length + 12 * q.rowStride + 16,
    4 * k.data.length + 16, 4 * v.data.length + 16, mask ? 4 * mask.data.length + 16 : 0, 4 * out.length, chunks * scratch);
  if (!regions) return false;
  const [, , , , oBase, scratchBase] = regions as [number, number, number, number, number, number];
  const { f32, i32 } = s;
  [q, k, v, mask].forEach((x, w) => x && f32.set(x.data, regions[w]! / 4));
  i32.set([queries, keys, d, dv, 4 * q.rowStride, 4 * k.rowStride, 4 * v.rowStride, 4 * (mask?.rowStride ?? 0), 4 * dv], 0);
  f32[9] = job.scale;
  for (let u = 0; u < units; u++) {
    const e = (ATTENTION_DESC_BYTES + u * ATTENTION_UNIT_BYTES) / 4;
    [q, k, v, mask].forEach((x, w) => (i32[e + w] = x ? regions[w]! + 4 * x.offsets[u]! : 0));
    i32[e + 4] = oBase + 4 * u * queries * dv;
  }
  const name = `attention_${job.op === "Mul" ? "mul" : "div"}${mask ? "" : "_nomask"}`;
  split(s, name, units, queries * keys, (first, count, chunk) => [0, ATTENTION_DESC_BYTES, first, count, scratchBase + chunk * scratch]);
  out.set(f32.subarray(oBase / 4, oBase / 4 + out.length));
  return true;
}

/**
 * w * (x * (1 / sqrt(mean(x^2) + eps))) over `rows` contiguous rows of n float32s (n a
 * multiple of 4) from x into out, w n values: rms-norm-wasm.ts, the bits of the nodes.
 * False where SIMD is not available or n is not a multiple of 4.
 */
export function rmsNormF32(x: Float32Array, w: Float32Array, eps: number, out: Float32Array, rows: number, n: number): boolean {
  const s = instance();
  if (!s || n % 4 !== 0) return false;
  if (rows === 0 || n === 0) return true;
  const pW = 0, pEps = n, at = n + 4;
  const perChunk = Math.floor((CAPACITY - at) / n);
  if (perChunk === 0) return false;
  const f32 = s.f32;
  f32.set(w, pW);
  f32[pEps] = eps;
  for (let r0 = 0; r0 < rows; r0 += perChunk) {
    const count = Math.min(perChunk, rows - r0);
    f32.set(x.subarray(r0 * n, (r0 + count) * n), at);
    split(s, "rmsnorm", count, n, (r, rows) => [4 * (at + r * n), rows, n, 4 * pW, 4 * pEps]);
    out.set(f32.subarray(at, at + count * n), r0 * n);
  }
  return true;
}

/**
 * out = the activation pattern `name` (ir/graph/ops/activation-expressions.ts) over float32 inputs of out's
 * length and constant values, by activation-wasm.ts's kernel: the nodes' bits. False where
 * SIMD is not available or the operands do not fit.
 */
export function activationF32(name: string, inputs: readonly Float32Array[], constants: readonly number[], out: Float32Array): boolean {
  const s = instance(), n = out.length;
  if (!s || inputs.some((x) => x.length !== n) || constants.length > 16) return false;
  const pConsts = 0, bases = inputs.map((_, k) => 16 + k * region(n)), pOut = 16 + inputs.length * region(n);
  if (pOut + region(n) > CAPACITY) return false;
  const f32 = s.f32;
  f32.set(constants, pConsts);
  inputs.forEach((x, k) => f32.set(x, bases[k]!));
  const in0 = bases[0] ?? 0, in1 = bases[1] ?? in0;
  split(s, `act_${name}`, Math.ceil(n / 4), 4, (v, count) => [4 * in0 + 16 * v, 4 * in1 + 16 * v, 4 * pOut + 16 * v, 4 * count, 4 * pConsts]);
  out.set(f32.subarray(pOut, pOut + n));
  return true;
}

/** A 2-D convolution's geometry: input planes h x w, kernel kh x kw, output oh x ow. */
export interface Conv2dJob {
  readonly images: number;
  readonly groups: number;
  /** Input and output channels per group. */
  readonly inputs: number;
  readonly outputs: number;
  readonly h: number;
  readonly w: number;
  readonly oh: number;
  readonly ow: number;
  readonly kh: number;
  readonly kw: number;
  readonly stride: readonly [number, number];
  readonly dilation: readonly [number, number];
  /** Padding before the first row and column. */
  readonly pad: readonly [number, number];
}

/**
 * out [images, groups * outputs, oh, ow] = the convolution of x [images, groups * inputs, h, w]
 * with w [groups * outputs, inputs, kh, kw] plus bias (0s when none), by conv2d-wasm.ts: the
 * bits of im2col and the GEMM. False where SIMD is not available or the operands do not fit.
 */
export function conv2dF32(job: Conv2dJob, x: Float32Array, w: Float32Array, bias: Float32Array | undefined, out: Float32Array): boolean {
  const s = instance();
  const { images, groups, inputs, outputs, h, w: iw, oh, ow, kh, kw, stride, dilation, pad } = job;
  const m = groups * outputs, units = images * groups;
  if (!s || units === 0 || oh === 0 || ow === 0 || outputs === 0) return !!s;
  const planes = convScratch(inputs, oh, ow, kh, kw, stride[0], stride[1], dilation[0], dilation[1]);
  const chunks = chunksFor(units, outputs * oh * ow * inputs * kh * kw);
  const regions = layout(4 * CONV2D_DESC_WORDS, 4 * x.length, 4 * w.length, 4 * m, 4 * out.length, chunks * planes.bytes);
  if (!regions) return false;
  const [px, pw, pb, po, pScratch] = regions as [number, number, number, number, number];
  const { f32, i32 } = s;
  f32.set(x, px / 4);
  f32.set(w, pw / 4);
  if (bias) f32.set(bias, pb / 4);
  else f32.fill(0, pb / 4, pb / 4 + m);
  i32.set([px, pw, pb, po, inputs, outputs, h, iw, oh, ow, kh, kw, stride[0], stride[1], dilation[0], dilation[1], pad[0], pad[1],
    planes.rows, planes.width, groups], 0);
  split(s, "conv2d", units, outputs * oh * ow * inputs * kh * kw, (first, count, chunk) => [0, first, count, pScratch + chunk * planes.bytes]);
  out.set(f32.subarray(po / 4, po / 4 + out.length));
  return true;
}

/**
 * The rotate-half rotary embedding (rotary.ts) over rows of d float32s (d a multiple of 8):
 * x's row r with the cos and sin rows at element offset rowOffsets[r]; rotary-wasm.ts, the
 * nodes' bits. False where SIMD is not available or the operands do not fit.
 */
export function rotaryF32(x: Float32Array, cos: Float32Array, sin: Float32Array, rowOffsets: readonly number[], d: number, out: Float32Array): boolean {
  const s = instance(), rows = rowOffsets.length;
  if (!s || d % 8 !== 0 || x.length !== rows * d || out.length !== x.length) return false;
  const regions = layout(0, 4 * rows, 4 * x.length, 4 * cos.length, 4 * sin.length, 4 * out.length);
  if (!regions) return false;
  const [pTable, pX, pCos, pSin, pOut] = regions as [number, number, number, number, number];
  const { f32, i32 } = s;
  for (let r = 0; r < rows; r++) i32[pTable / 4 + r] = 4 * rowOffsets[r]!;
  f32.set(x, pX / 4);
  f32.set(cos, pCos / 4);
  f32.set(sin, pSin / 4);
  split(s, "rotary", rows, d, (first, count) => [pX, pCos, pSin, pOut, first, count, d, pTable]);
  out.set(f32.subarray(pOut / 4, pOut / 4 + out.length));
  return true;
}
