// Kernels that move elements without arithmetic: reshape, transpose, concat,
// slice, gather/scatter, expand, range, trilu. Index inputs out of range are
// errors, never wrong answers. Strided copies move 32-bit words where the
// layout allows (see copyPlan), so every copy is bit for bit.

import { fail } from "../../../ir/diagnostics.js";
import type { DType } from "../../../ir/dtype.js";
import type { Tensor, TensorData } from "../../../ir/tensor.js";
import { elementCount, makeTensor } from "../../../ir/tensor.js";
import { broadcastDims } from "./broadcast.js";
import { collapseStrides, contiguousStrides as stridesOf, stridedLoopSource } from "./strided.js";
import type { StridedPlan } from "./strided.js";
import { allocateOverwritten } from "./buffers.js";

/** Row-major strides of dims (the layout kernels' name for strided.ts's contiguousStrides). */
export { stridesOf };

type Writable = { [i: number]: number | bigint; length: number };

function copyElement(dst: TensorData, di: number, src: TensorData, si: number): void {
  (dst as Writable)[di] = src[si]!;
}

type CopyRun = (src: TensorData, si: number, dst: TensorData, di: number, n: number) => void;
type CopyLoop = (ext: readonly number[], n: number, ...views: unknown[]) => void;

// Rows at least this long are copied with set() on subarrays: creating the subarray costs about
// as much as 100 elements of the unrolled loop below (measured on Int32 words).
const SET_MIN = 128;

// Copy loops are compiled once per storage type (with `new Function`, as in pointwise.ts), so the
// element loads and stores in each see one array type (a single function shared by Float32Array,
// BigInt64Array and Uint8Array tensors would not be optimised for any of them). Contiguous rows
// shorter than SET_MIN are unrolled by 8: here a loop iteration costs more than the element it
// moves (Int32 words: 3.7 ns an element one at a time, 1.3 ns eight at a time).
const UNROLL = 8;
const CONTIGUOUS_COPY = `
            let j = 0;
            for (const e = n - ${UNROLL - 1}; j < e; j += ${UNROLL}) {
              ${Array.from({ length: UNROLL }, (_, u) => `d[di + j + ${u}] = s[si + j + ${u}];`).join(" ")}
            }
            for (; j < n; j++) d[di + j] = s[si + j];`;

const COPY_RUN_SOURCE = `"use strict";
return function copyRun(s, si, d, di, n) {
  if (n >= ${SET_MIN}) d.set(s.subarray(si, si + n), di);
  else {${CONTIGUOUS_COPY}
  }
};`;

const COPY_ROW = `
        if (sd === 1) {
          if (ss === 1) {
            if (n >= ${SET_MIN}) d.set(s.subarray(si, si + n), di);
            else {${CONTIGUOUS_COPY}
            }
          } else if (ss === 0) {
            const v = s[si];
            for (let j = 0; j < n; j++) d[di + j] = v;
          } else {
            for (let j = 0; j < n; j++) d[di + j] = s[si + j * ss];
          }
        } else {
          for (let j = 0; j < n; j++) d[di + j * sd] = s[si + j * ss];
        }`;

const copyRuns = new Map<unknown, CopyRun>();
const copyLoops = new Map<unknown, CopyLoop>();

function copyRunFor(data: TensorData): CopyRun {
  let run = copyRuns.get(data.constructor);
  if (!run) {
    run = (new Function(COPY_RUN_SOURCE) as () => CopyRun)();
    copyRuns.set(data.constructor, run);
  }
  return run;
}

/** Copy n contiguous elements (same storage type). */
export function copyRun(src: TensorData, si: number, dst: TensorData, di: number, n: number): void {
  copyRunFor(dst)(src, si, dst, di, n);
}

/** 32-bit words over `data` (the same memory), for storage of 4 or 8 bytes an element. */
function wordsOf(data: TensorData): Int32Array {
  // Division, not `>> 2`: a tensor over 2 GiB has a byte length past int32.
  return data instanceof Int32Array ? data : new Int32Array(data.buffer, data.byteOffset, Math.floor(data.byteLength / 4));
}

/**
 * A copy between two strided views, in the units its loop moves: elements, or 32-bit words.
 * Words move the bits unchanged (a Float32Array load and store may quiet a signalling NaN), read
 * int64 without allocating a BigInt, and move four bytes of a bool or int8 row at once.
 */
interface CopyPlan {
  readonly src: TensorData;
  readonly dst: TensorData;
  readonly srcOffset: number;
  readonly dstOffset: number;
  readonly plan: StridedPlan;
}

function copyPlan(dims: readonly number[], src: TensorData, srcOffset: number, srcStrides: readonly number[],
  dst: TensorData, dstOffset: number, dstStrides: readonly number[]): CopyPlan {
  const bytes = dst.BYTES_PER_ELEMENT;
  if (bytes >= 4) {
    // An element of w words is an extra inner axis of extent w, which the collapse merges into contiguous rows.
    const w = bytes / 4, scale = (st: readonly number[]) => [...st.map((x) => x * w), 1];
    const plan = collapseStrides([...dims, w], [scale(srcStrides), scale(dstStrides)]);
    return { src: wordsOf(src), dst: wordsOf(dst), srcOffset: srcOffset * w, dstOffset: dstOffset * w, plan };
  }
  const plan = collapseStrides(dims, [srcStrides, dstStrides]);
  const k = 4 / bytes, aligned = (x: number) => x % k === 0;
  // Rows contiguous on both sides and whole words everywhere: the same copy, a word per k elements.
  if (plan.steps[0] === 1 && plan.steps[1] === 1 && aligned(plan.n) && aligned(srcOffset) && aligned(dstOffset) &&
    aligned(src.byteOffset) && aligned(dst.byteOffset) && plan.strides.every((st) => st.every(aligned))) {
    const words = (data: TensorData) => new Int32Array(data.buffer, data.byteOffset, Math.floor(data.byteLength / 4));
    const down = (st: readonly number[]) => st.map((x) => x / k);
    return {
      src: words(src), dst: words(dst), srcOffset: srcOffset / k, dstOffset: dstOffset / k,
      plan: { count: plan.count / k, n: plan.n / k, steps: plan.steps, outer: plan.outer, strides: plan.strides.map(down) },
    };
  }
  return { src, dst, srcOffset, dstOffset, plan };
}

/**
 * Copy a strided view of `src` into a strided view of `dst`, both of shape `dims`
 * (same storage type): element (i0, i1, ...) goes from src[srcOffset + sum(ik * srcStrides[k])]
 * to dst[dstOffset + sum(ik * dstStrides[k])]. The axes are collapsed (strided.ts), so the work is
 * a loop nest around one row copy (in 32-bit words where copyPlan can): a block copy where the row
 * is contiguous on both sides, a fill where the source repeats.
 */
export function copyStrided(dims: readonly number[], src: TensorData, srcOffset: number, srcStrides: readonly number[],
  dst: TensorData, dstOffset: number, dstStrides: readonly number[]): void {
  const c = copyPlan(dims, src, srcOffset, srcStrides, dst, dstOffset, dstStrides);
  const plan = c.plan;
  if (plan.count === 0) return;
  let loop = copyLoops.get(c.dst.constructor);
  if (!loop) {
    loop = (new Function(stridedLoopSource("copyStrided", ["s", "d"], COPY_ROW)) as () => CopyLoop)();
    copyLoops.set(c.dst.constructor, loop);
  }
  loop(plan.outer, plan.n, c.src, c.srcOffset, plan.strides[0], plan.steps[0], c.dst, c.dstOffset, plan.strides[1], plan.steps[1]);
}

export function reshapeKernel(x: Tensor, dims: readonly number[]): Tensor {
  if (elementCount(dims) !== x.data.length) {
    fail(`cannot reshape ${x.data.length} elements into [${dims.join(", ")}]`);
  }
  return { dtype: x.dtype, dims: [...dims], data: x.data };
}

export function transposeKernel(x: Tensor, perm: readonly number[]): Tensor {
  const dims = perm.map((p) => x.dims[p]!);
  const out = allocateOverwritten(x.dtype, dims);
  const inStrides = stridesOf(x.dims);
  copyStrided(dims, x.data, 0, perm.map((p) => inStrides[p]!), out.data, 0, stridesOf(dims));
  return out;
}

export function concatKernel(inputs: readonly Tensor[], axis: number): Tensor {
  const first = inputs[0]!;
  const dims = [...first.dims];
  dims[axis] = inputs.reduce((s, t) => s + t.dims[axis]!, 0);
  const out = allocateOverwritten(first.dtype, dims);
  const outer = first.dims.slice(0, axis).reduce((p, d) => p * d, 1);
  let offset = 0;
  const rowOut = elementCount(dims.slice(axis));
  for (const t of inputs) {
    const row = elementCount(t.dims.slice(axis));
    copyStrided([outer, row], t.data, 0, [row, 1], out.data, offset, [rowOut, 1]);
    offset += row;
  }
  return out;
}

export interface SliceSpec {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  readonly axes: readonly number[];
  readonly steps: readonly number[];
}

/** Resolve ONNX Slice parameters against concrete dims: per-axis start, step and count. */
export function resolveSlice(dims: readonly number[], spec: SliceSpec): { start: number[]; step: number[]; count: number[] } {
  const start = dims.map(() => 0), step = dims.map(() => 1), count = [...dims];
  spec.axes.forEach((axis, i) => {
    const d = dims[axis]!;
    const st = spec.steps[i] ?? 1;
    if (st === 0) fail("Slice step cannot be 0");
    let s = spec.starts[i]!, e = spec.ends[i]!;
    if (s < 0) s += d;
    if (e < 0) e += d;
    if (st > 0) {
      s = Math.min(Math.max(s, 0), d);
      e = Math.min(Math.max(e, 0), d);
      count[axis] = Math.max(0, Math.ceil((e - s) / st));
    } else {
      s = Math.min(Math.max(s, -1), d - 1);
      e = Math.min(Math.max(e, -1), d - 1);
      count[axis] = Math.max(0, Math.ceil((s - e) / -st));
    }
    start[axis] = s;
    step[axis] = st;
  });
  return { start, step, count };
}

export function sliceKernel(x: Tensor, spec: SliceSpec): Tensor {
  const { start, step, count } = resolveSlice(x.dims, spec);
  const out = allocateOverwritten(x.dtype, count);
  if (out.data.length === 0) return out;
  const strides = stridesOf(x.dims);
  const offset = start.reduce((s, st, a) => s + st * strides[a]!, 0);
  copyStrided(count, x.data, offset, strides.map((s, a) => s * step[a]!), out.data, 0, stridesOf(count));
  return out;
}

function indexAt(indices: Tensor, i: number, bound: number, what: string): number {
  let v = Number(indices.data[i]!);
  if (v < -bound || v >= bound) fail(`${what} index ${v} is out of range [${-bound}, ${bound - 1}]`);
  if (v < 0) v += bound;
  return v;
}

/** The indices as positions in [0, bound), validated once. */
function positions(indices: Tensor, bound: number, what: string): Int32Array {
  const n = indices.data.length, at = new Int32Array(n);
  for (let j = 0; j < n; j++) at[j] = indexAt(indices, j, bound, what);
  return at;
}

export function gatherKernel(data: Tensor, indices: Tensor, axis: number): Tensor {
  const dims = [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)];
  const out = allocateOverwritten(data.dtype, dims);
  const outer = elementCount(data.dims.slice(0, axis));
  const inner = elementCount(data.dims.slice(axis + 1));
  const axisLen = data.dims[axis]!;
  if (outer === 0) return out;
  const at = positions(indices, axisLen, "Gather");
  const n = at.length;
  const run = copyRunFor(out.data);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) run(data.data, (o * axisLen + at[j]!) * inner, out.data, (o * n + j) * inner, inner);
  }
  return out;
}

export function gatherElementsKernel(data: Tensor, indices: Tensor, axis: number): Tensor {
  const out = makeTensor(data.dtype, indices.dims);
  const ds = stridesOf(data.dims), is = stridesOf(indices.dims);
  for (let i = 0; i < out.data.length; i++) {
    let src = 0, rem = i;
    for (let a = 0; a < indices.dims.length; a++) {
      const c = Math.floor(rem / is[a]!);
      rem -= c * is[a]!;
      src += (a === axis ? indexAt(indices, i, data.dims[axis]!, "GatherElements") : c) * ds[a]!;
    }
    copyElement(out.data, i, data.data, src);
  }
  return out;
}

export function gatherNDKernel(data: Tensor, indices: Tensor, batchDims: number): Tensor {
  const q = indices.dims.length, k = indices.dims[q - 1]!;
  const batch = elementCount(data.dims.slice(0, batchDims));
  const sliceDims = data.dims.slice(batchDims + k);
  const inner = elementCount(sliceDims);
  const dims = [...indices.dims.slice(0, q - 1), ...sliceDims];
  const out = makeTensor(data.dtype, dims);
  const perBatch = elementCount(indices.dims.slice(batchDims, q - 1));
  const ds = stridesOf(data.dims);
  const batchStride = elementCount(data.dims.slice(batchDims));
  for (let b = 0; b < batch; b++) {
    for (let j = 0; j < perBatch; j++) {
      const row = (b * perBatch + j) * k;
      let src = b * batchStride;
      for (let t = 0; t < k; t++) src += indexAt(indices, row + t, data.dims[batchDims + t]!, "GatherND") * ds[batchDims + t]!;
      copyRun(data.data, src, out.data, (b * perBatch + j) * inner, inner);
    }
  }
  return out;
}

/** Combine an existing element with an update under a Scatter op's `reduction`. */
function reduceInto(od: Writable, at: number, u: number | bigint, reduction: string): void {
  const cur = od[at]!;
  switch (reduction) {
    case "add": od[at] = (cur as number) + (u as number); break;
    case "mul": od[at] = (cur as number) * (u as number); break;
    case "max": od[at] = cur > u ? cur : u; break;
    case "min": od[at] = cur < u ? cur : u; break;
    default: od[at] = u;
  }
}

/**
 * ScatterElements: a copy of data where each element of updates goes to its
 * own position with the `axis` coordinate replaced by the matching index.
 * Updates are applied in element order, so with reduction "none" the last of
 * several writes to one position wins, as onnxruntime does.
 */
export function scatterElementsKernel(data: Tensor, indices: Tensor, updates: Tensor, axis: number, reduction: string): Tensor {
  if (indices.dims.length !== data.dims.length || updates.dims.length !== indices.dims.length || updates.dims.some((d, i) => d !== indices.dims[i])) {
    fail(`ScatterElements needs indices and updates of one shape and data's rank: data [${data.dims.join(", ")}], indices [${indices.dims.join(", ")}], updates [${updates.dims.join(", ")}]`);
  }
  const out = makeTensor(data.dtype, data.dims, data.data.slice() as TensorData);
  const ds = stridesOf(data.dims), is = stridesOf(indices.dims);
  const od = out.data as Writable, ud = updates.data as Writable;
  for (let i = 0; i < ud.length; i++) {
    let dst = 0, rem = i;
    for (let a = 0; a < indices.dims.length; a++) {
      const c = Math.floor(rem / is[a]!);
      rem -= c * is[a]!;
      if (a !== axis && c >= data.dims[a]!) fail(`ScatterElements: indices dim ${a} (${indices.dims[a]}) exceeds data's ${data.dims[a]}`);
      dst += (a === axis ? indexAt(indices, i, data.dims[axis]!, "ScatterElements") : c) * ds[a]!;
    }
    reduceInto(od, dst, ud[i]!, reduction);
  }
  return out;
}

export function scatterNDKernel(data: Tensor, indices: Tensor, updates: Tensor, reduction: string): Tensor {
  const out = makeTensor(data.dtype, data.dims, data.data.slice() as TensorData);
  const q = indices.dims.length, k = indices.dims[q - 1]!;
  const inner = elementCount(data.dims.slice(k));
  const ds = stridesOf(data.dims);
  const rows = elementCount(indices.dims.slice(0, q - 1));
  const od = out.data as Writable, ud = updates.data as Writable;
  for (let r = 0; r < rows; r++) {
    let dst = 0;
    for (let t = 0; t < k; t++) dst += indexAt(indices, r * k + t, data.dims[t]!, "ScatterND") * ds[t]!;
    for (let e = 0; e < inner; e++) reduceInto(od, dst + e, ud[r * inner + e]!, reduction);
  }
  return out;
}

export function expandKernel(x: Tensor, shape: readonly number[]): Tensor {
  const dims = broadcastDims(x.dims, shape);
  const out = allocateOverwritten(x.dtype, dims);
  const inStrides = stridesOf(x.dims), skip = dims.length - x.dims.length;
  const strides = dims.map((_, a) => (a < skip || x.dims[a - skip] === 1 ? 0 : inStrides[a - skip]!));
  copyStrided(dims, x.data, 0, strides, out.data, 0, stridesOf(dims));
  return out;
}

export function rangeKernel(dtype: DType, start: number | bigint, limit: number | bigint, delta: number | bigint): Tensor {
  const s = Number(start), l = Number(limit), d = Number(delta);
  if (d === 0) fail("Range delta cannot be 0");
  const n = Math.max(Math.ceil((l - s) / d), 0);
  const out = makeTensor(dtype, [n]);
  for (let i = 0; i < n; i++) {
    if (out.data instanceof BigInt64Array) out.data[i] = BigInt(start) + BigInt(i) * BigInt(delta);
    else (out.data as Writable)[i] = s + i * d;
  }
  return out;
}

export function triluKernel(x: Tensor, k: number, upper: boolean): Tensor {
  const out = makeTensor(x.dtype, x.dims, x.data.slice() as TensorData);
  const rows = x.dims[x.dims.length - 2]!, cols = x.dims[x.dims.length - 1]!;
  const mats = elementCount(x.dims.slice(0, -2));
  const zero = out.data instanceof BigInt64Array || out.data instanceof BigUint64Array ? 0n : 0;
  for (let m = 0; m < mats; m++) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const keep = upper ? c - r >= k : c - r <= k;
        if (!keep) (out.data as Writable)[m * rows * cols + r * cols + c] = zero;
      }
    }
  }
  return out;
}

export function splitKernel(x: Tensor, axis: number, sizes: readonly number[]): Tensor[] {
  let start = 0;
  return sizes.map((size) => {
    const t = sliceKernel(x, { starts: [start], ends: [start + size], axes: [axis], steps: [1] });
    start += size;
    return t;
  });
}
