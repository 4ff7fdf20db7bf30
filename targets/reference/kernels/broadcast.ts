// Elementwise kernels with ONNX (numpy) broadcasting. Shared by constant
// folding and the reference backend. int64 arithmetic stays in BigInt.

import type { DType } from "../../../ir/dtype.js";
import { fail } from "../../../ir/diagnostics.js";
import type { Tensor, TensorData } from "../../../ir/tensor.js";
import { allocateOverwritten } from "./buffers.js";
import { broadcastStrides, collapseStrides, contiguousStrides } from "./strided.js";

export function broadcastDims(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[i - (rank - a.length)] ?? 1;
    const db = b[i - (rank - b.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      fail(`shapes [${a.join(", ")}] and [${b.join(", ")}] cannot be broadcast`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** For each output element, the flat index into a tensor of `dims` broadcast to `outDims`. */
export function broadcastIndex(dims: readonly number[], outDims: readonly number[]): Int32Array | null {
  const count = outDims.reduce((p, d) => p * d, 1);
  const same = dims.length === outDims.length && dims.every((d, i) => d === outDims[i]);
  if (same) return null;
  const rank = outDims.length;
  const strides = new Array<number>(rank).fill(0);
  let stride = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    const axis = rank - dims.length + i;
    strides[axis] = dims[i] === 1 ? 0 : stride;
    stride *= dims[i]!;
  }
  const index = new Int32Array(count);
  const counter = new Array<number>(rank).fill(0);
  let offset = 0;
  for (let flat = 0; flat < count; flat++) {
    index[flat] = offset;
    for (let axis = rank - 1; axis >= 0; axis--) {
      counter[axis]!++;
      offset += strides[axis]!;
      if (counter[axis]! < outDims[axis]!) break;
      offset -= strides[axis]! * counter[axis]!;
      counter[axis] = 0;
    }
  }
  return index;
}

export type NumFn = (a: number, b: number) => number;
export type BigFn = (a: bigint, b: bigint) => bigint;

function isBig(data: TensorData): data is BigInt64Array | BigUint64Array {
  return data instanceof BigInt64Array || data instanceof BigUint64Array;
}

/**
 * out[i] = f(a[i], b[i]) with broadcasting. `fBig` handles int64/uint64 inputs;
 * comparisons return numbers (0/1) into a bool output, so `outDType` decides storage.
 * The general form, for ops outside the specialised table of pointwise.ts.
 */
export function binaryKernel(
  a: Tensor, b: Tensor, outDType: DType, f: NumFn, fBig?: (x: bigint, y: bigint) => bigint | number,
): Tensor {
  const dims = broadcastDims(a.dims, b.dims);
  const plan = collapseStrides(dims, [broadcastStrides(a.dims, dims), broadcastStrides(b.dims, dims), contiguousStrides(dims)]);
  const out = allocateOverwritten(outDType, dims);
  const ad = a.data, bd = b.data, od = out.data;
  const big = isBig(ad) && isBig(bd);
  if (big && !fBig) fail(`operation is not defined for ${a.dtype}`);
  const outBig = isBig(od);
  const { n: inner, outer } = plan;
  const sa = plan.steps[0]!, sb = plan.steps[1]!, as = plan.strides[0]!, bs = plan.strides[1]!, k = outer.length;
  const counter = new Int32Array(k);
  const rows = plan.count === 0 ? 0 : plan.count / inner;
  let ai = 0, bi = 0;
  for (let r = 0, oi = 0; r < rows; r++, oi += inner) {
    if (big) {
      for (let i = 0; i < inner; i++) {
        const v = fBig!((ad as BigInt64Array)[ai + i * sa]!, (bd as BigInt64Array)[bi + i * sb]!);
        if (outBig) (od as BigInt64Array)[oi + i] = BigInt(v);
        else (od as Float32Array)[oi + i] = Number(v);
      }
    } else {
      const fa = ad as Float32Array, fb = bd as Float32Array, fo = od as Float32Array;
      for (let i = 0; i < inner; i++) fo[oi + i] = f(fa[ai + i * sa]!, fb[bi + i * sb]!);
    }
    for (let axis = k - 1; axis >= 0; axis--) {
      ai += as[axis]!;
      bi += bs[axis]!;
      if (++counter[axis]! < outer[axis]!) break;
      ai -= as[axis]! * outer[axis]!;
      bi -= bs[axis]! * outer[axis]!;
      counter[axis] = 0;
    }
  }
  return out;
}

/** out[i] = f(x[i]); for int64, fBig. */
export function unaryKernel(x: Tensor, outDType: DType, f: (v: number) => number, fBig?: (v: bigint) => bigint): Tensor {
  const out = allocateOverwritten(outDType, x.dims);
  const xd = x.data, od = out.data;
  if (isBig(xd)) {
    if (!fBig) fail(`operation is not defined for ${x.dtype}`);
    for (let i = 0; i < xd.length; i++) (od as BigInt64Array)[i] = fBig(xd[i]!);
    return out;
  }
  const fx = xd as Float32Array, fo = od as Float32Array;
  for (let i = 0; i < fx.length; i++) fo[i] = f(fx[i]!);
  return out;
}

/** Reduce a variadic list (Max, Min, Sum) pairwise with broadcasting. */
export function variadicKernel(inputs: readonly Tensor[], f: NumFn, fBig: BigFn): Tensor {
  let acc = inputs[0]!;
  for (const t of inputs.slice(1)) acc = binaryKernel(acc, t, acc.dtype, f, fBig);
  return acc;
}

export function isBigTensor(t: Tensor): boolean {
  return isBig(t.data);
}
