// Kernels that move elements without arithmetic: reshape, transpose, concat,
// slice, gather/scatter, expand, range, trilu. Index inputs out of range are
// errors, never wrong answers.

import { fail } from "../../diagnostics.js";
import type { DType } from "../../dtype.js";
import type { Tensor, TensorData } from "../../tensor.js";
import { elementCount, makeTensor } from "../../tensor.js";
import { broadcastDims, broadcastIndex } from "./broadcast.js";

export function stridesOf(dims: readonly number[]): number[] {
  const strides = new Array<number>(dims.length);
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= dims[i]!;
  }
  return strides;
}

type Writable = { [i: number]: number | bigint; length: number };

function copyElement(dst: TensorData, di: number, src: TensorData, si: number): void {
  (dst as Writable)[di] = src[si]!;
}

export function reshapeKernel(x: Tensor, dims: readonly number[]): Tensor {
  if (elementCount(dims) !== x.data.length) {
    fail(`cannot reshape ${x.data.length} elements into [${dims.join(", ")}]`);
  }
  return { dtype: x.dtype, dims: [...dims], data: x.data };
}

export function transposeKernel(x: Tensor, perm: readonly number[]): Tensor {
  const dims = perm.map((p) => x.dims[p]!);
  const out = makeTensor(x.dtype, dims);
  const inStrides = stridesOf(x.dims);
  const permStrides = perm.map((p) => inStrides[p]!);
  const rank = dims.length;
  const counter = new Array<number>(rank).fill(0);
  let src = 0;
  for (let i = 0; i < out.data.length; i++) {
    copyElement(out.data, i, x.data, src);
    for (let a = rank - 1; a >= 0; a--) {
      counter[a]!++;
      src += permStrides[a]!;
      if (counter[a]! < dims[a]!) break;
      src -= permStrides[a]! * counter[a]!;
      counter[a] = 0;
    }
  }
  return out;
}

export function concatKernel(inputs: readonly Tensor[], axis: number): Tensor {
  const first = inputs[0]!;
  const dims = [...first.dims];
  dims[axis] = inputs.reduce((s, t) => s + t.dims[axis]!, 0);
  const out = makeTensor(first.dtype, dims);
  const outer = first.dims.slice(0, axis).reduce((p, d) => p * d, 1);
  let offset = 0;
  const rowOut = elementCount(dims.slice(axis));
  for (const t of inputs) {
    const row = elementCount(t.dims.slice(axis));
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < row; j++) copyElement(out.data, o * rowOut + offset + j, t.data, o * row + j);
    }
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
  const out = makeTensor(x.dtype, count);
  const strides = stridesOf(x.dims);
  const rank = count.length;
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < out.data.length; i++) {
    let src = 0;
    for (let a = 0; a < rank; a++) src += (start[a]! + idx[a]! * step[a]!) * strides[a]!;
    copyElement(out.data, i, x.data, src);
    for (let a = rank - 1; a >= 0; a--) {
      if (++idx[a]! < count[a]!) break;
      idx[a] = 0;
    }
  }
  return out;
}

function indexAt(indices: Tensor, i: number, bound: number, what: string): number {
  let v = Number(indices.data[i]!);
  if (v < -bound || v >= bound) fail(`${what} index ${v} is out of range [${-bound}, ${bound - 1}]`);
  if (v < 0) v += bound;
  return v;
}

export function gatherKernel(data: Tensor, indices: Tensor, axis: number): Tensor {
  const dims = [...data.dims.slice(0, axis), ...indices.dims, ...data.dims.slice(axis + 1)];
  const out = makeTensor(data.dtype, dims);
  const outer = elementCount(data.dims.slice(0, axis));
  const inner = elementCount(data.dims.slice(axis + 1));
  const axisLen = data.dims[axis]!;
  const n = indices.data.length;
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < n; j++) {
      const k = indexAt(indices, j, axisLen, "Gather");
      const src = (o * axisLen + k) * inner, dst = (o * n + j) * inner;
      for (let e = 0; e < inner; e++) copyElement(out.data, dst + e, data.data, src + e);
    }
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
      const dst = (b * perBatch + j) * inner;
      for (let e = 0; e < inner; e++) copyElement(out.data, dst + e, data.data, src + e);
    }
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
    for (let e = 0; e < inner; e++) {
      const u = ud[r * inner + e]!, cur = od[dst + e]!;
      switch (reduction) {
        case "add": od[dst + e] = (cur as number) + (u as number); break;
        case "mul": od[dst + e] = (cur as number) * (u as number); break;
        case "max": od[dst + e] = cur > u ? cur : u; break;
        case "min": od[dst + e] = cur < u ? cur : u; break;
        default: od[dst + e] = u;
      }
    }
  }
  return out;
}

export function expandKernel(x: Tensor, shape: readonly number[]): Tensor {
  const dims = broadcastDims(x.dims, shape);
  const out = makeTensor(x.dtype, dims);
  const index = broadcastIndex(x.dims, dims);
  for (let i = 0; i < out.data.length; i++) copyElement(out.data, i, x.data, index ? index[i]! : i);
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
