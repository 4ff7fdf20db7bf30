// ReduceSum/Mean/Max/Min/Prod and ArgMax/ArgMin. Each input element is folded
// into the output element it maps to (broadcastIndex of the keepdims shape),
// so any set of axes costs one pass. Floats accumulate in float64; 32-bit and
// narrower ints wrap like their C counterparts; int64 stays in BigInt.

import { fail } from "../../../ir/diagnostics.js";
import type { DType } from "../../../ir/dtype.js";
import { isFloat } from "../../../ir/dtype.js";
import type { Tensor, TensorData } from "../../../ir/tensor.js";
import { makeTensor } from "../../../ir/tensor.js";
import { broadcastIndex } from "./broadcast.js";
import { isBigData, roundToDType, sizeOf } from "./common.js";
import { allocateOutput } from "./buffers.js";

export type ReduceOp = "ReduceSum" | "ReduceMean" | "ReduceMax" | "ReduceMin" | "ReduceProd";

/** [lowest, highest] of each int dtype: ReduceMax/Min over an empty set yield these (ONNX spec). */
const INT_RANGE: Partial<Record<DType, readonly [number | bigint, number | bigint]>> = {
  i8: [-128, 127], u8: [0, 255], i16: [-32768, 32767], u16: [0, 65535], i32: [-(2 ** 31), 2 ** 31 - 1],
  u32: [0, 2 ** 32 - 1], i64: [-(2n ** 63n), 2n ** 63n - 1n], u64: [0n, 2n ** 64n - 1n],
};

function initial(op: ReduceOp, dtype: DType): number | bigint {
  const big = dtype === "i64" || dtype === "u64";
  if (op === "ReduceMax") return isFloat(dtype) ? -Infinity : INT_RANGE[dtype]![0];
  if (op === "ReduceMin") return isFloat(dtype) ? Infinity : INT_RANGE[dtype]![1];
  const v = op === "ReduceProd" ? 1 : 0;
  return big ? BigInt(v) : v;
}

/**
 * `axes` are normalised; undefined or empty means all axes, or none with noop_with_empty_axes.
 * Max and Min propagate NaN (as the elementwise Max and Min do); the mean of an empty set is 0,
 * as onnxruntime computes it (the spec leaves it undefined).
 */
export function reduceKernel(op: ReduceOp, x: Tensor, axes: readonly number[] | undefined, keepDims: boolean,
  noopWithEmptyAxes: boolean): Tensor {
  if (x.dtype === "bool" || x.dtype === "str") fail(`${op} is not defined for ${x.dtype}`);
  if ((axes === undefined || axes.length === 0) && noopWithEmptyAxes) {
    return makeTensor(x.dtype, x.dims, x.data.slice() as TensorData);
  }
  const reduced = (i: number) => axes === undefined || axes.length === 0 || axes.includes(i);
  const kept = x.dims.map((d, i) => (reduced(i) ? 1 : d));
  const out = allocateOutput(x.dtype, keepDims ? kept : x.dims.filter((_, i) => !reduced(i)));
  // The element-to-output map, built only by the paths that read it (the row and column folds do not).
  let index: Int32Array | null | undefined;
  const count = out.data.length === 0 ? 0 : x.data.length / out.data.length;
  const n = x.data.length, xd = x.data, od = out.data;
  const at = (i: number) => {
    if (index === undefined) index = broadcastIndex(kept, x.dims);
    return index ? index[i]! : i;
  };
  if (isBigData(xd)) {
    // Sums stay exact (for the mean); products wrap at each step so they cannot grow without bound.
    const acc = new Array<bigint>(od.length).fill(initial(op, x.dtype) as bigint), bx = xd as BigInt64Array;
    const wrap = x.dtype === "i64" ? (v: bigint) => BigInt.asIntN(64, v) : (v: bigint) => BigInt.asUintN(64, v);
    for (let i = 0; i < n; i++) {
      const v = bx[i]!, o = at(i);
      if (op === "ReduceSum" || op === "ReduceMean") acc[o] = acc[o]! + v;
      else if (op === "ReduceProd") acc[o] = wrap(acc[o]! * v);
      else if (op === "ReduceMax" ? v > acc[o]! : v < acc[o]!) acc[o] = v;
    }
    const bo = od as BigInt64Array;
    for (let o = 0; o < acc.length; o++) bo[o] = wrap(op === "ReduceMean" && count > 0 ? acc[o]! / BigInt(count) : acc[o]!);
    return out;
  }
  const fx = xd as Float32Array;
  if (!isFloat(x.dtype) && (op === "ReduceSum" || op === "ReduceProd")) {
    // Int32 arithmetic with wrap-around; storing into a narrower array wraps again, as C does.
    const acc = new Int32Array(od.length).fill(op === "ReduceProd" ? 1 : 0);
    if (op === "ReduceSum") for (let i = 0; i < n; i++) acc[at(i)] = (acc[at(i)]! + fx[i]!) | 0;
    else for (let i = 0; i < n; i++) acc[at(i)] = Math.imul(acc[at(i)]!, fx[i]!);
    for (let o = 0; o < acc.length; o++) (od as Int32Array)[o] = acc[o]!;
    return out;
  }
  const acc = new Float64Array(od.length).fill(initial(op, x.dtype) as number);
  // Reduced axes that form one block [first, last]: x is [outer, count, inner] and output element
  // (o, i) folds x[o, k, i] for k = 0, 1, ..., in the same order as the general loop below.
  const first = kept.findIndex((_, i) => reduced(i));
  let last = first;
  while (last + 1 < kept.length && reduced(last + 1)) last++;
  const block = first < 0 || kept.every((_, i) => (i >= first && i <= last) || !reduced(i));
  const inner = first < 0 ? 1 : sizeOf(x.dims, last + 1);
  if (block && inner === 1) {
    foldRows(op, fx, acc, count);
  } else if (block) {
    foldColumns(op, fx, acc, count, inner);
  } else {
    for (let i = 0; i < n; i++) {
      const v = fx[i]!, o = at(i);
      if (op === "ReduceSum" || op === "ReduceMean") acc[o]! += v;
      else if (op === "ReduceProd") acc[o]! *= v;
      else if (v !== v || (op === "ReduceMax" ? v > acc[o]! : v < acc[o]!)) acc[o] = v;
    }
  }
  const intMean = op === "ReduceMean" && !isFloat(x.dtype);
  for (let o = 0; o < acc.length; o++) {
    const v = op === "ReduceMean" ? (count > 0 ? acc[o]! / count : 0) : acc[o]!;
    (od as Float32Array)[o] = intMean ? Math.trunc(v) : v;
  }
  return roundToDType(out);
}

/** acc[o] folded with x[o * count + j] for j < count, one loop per op. */
function foldRows(op: ReduceOp, x: Float32Array, acc: Float64Array, count: number): void {
  for (let o = 0, base = 0; o < acc.length; o++, base += count) {
    let a = acc[o]!;
    const end = base + count;
    if (op === "ReduceSum" || op === "ReduceMean") for (let i = base; i < end; i++) a += x[i]!;
    else if (op === "ReduceProd") for (let i = base; i < end; i++) a *= x[i]!;
    else if (op === "ReduceMax") {
      for (let i = base; i < end; i++) {
        const v = x[i]!;
        if (v !== v || v > a) a = v;
      }
    } else {
      for (let i = base; i < end; i++) {
        const v = x[i]!;
        if (v !== v || v < a) a = v;
      }
    }
    acc[o] = a;
  }
}

/** acc[o * inner + i] folded with x[(o * count + k) * inner + i] for k < count. */
function foldColumns(op: ReduceOp, x: Float32Array, acc: Float64Array, count: number, inner: number): void {
  const outer = acc.length / inner;
  for (let o = 0; o < outer; o++) {
    const a0 = o * inner;
    for (let k = 0; k < count; k++) {
      const x0 = (o * count + k) * inner;
      if (op === "ReduceSum" || op === "ReduceMean") for (let i = 0; i < inner; i++) acc[a0 + i]! += x[x0 + i]!;
      else if (op === "ReduceProd") for (let i = 0; i < inner; i++) acc[a0 + i]! *= x[x0 + i]!;
      else if (op === "ReduceMax") {
        for (let i = 0; i < inner; i++) {
          const v = x[x0 + i]!;
          if (v !== v || v > acc[a0 + i]!) acc[a0 + i] = v;
        }
      } else {
        for (let i = 0; i < inner; i++) {
          const v = x[x0 + i]!;
          if (v !== v || v < acc[a0 + i]!) acc[a0 + i] = v;
        }
      }
    }
  }
}

/**
 * Index of the max (min) along `axis`, first occurrence unless selectLast. A NaN beats every
 * number (numpy and onnxruntime agree), so the first (last) NaN wins.
 */
export function argKernel(max: boolean, x: Tensor, axis: number, keepDims: boolean, selectLast: boolean): Tensor {
  if (x.dtype === "bool" || x.dtype === "str") fail(`${max ? "ArgMax" : "ArgMin"} is not defined for ${x.dtype}`);
  const n = x.dims[axis]!;
  if (n === 0) fail(`${max ? "ArgMax" : "ArgMin"} over axis ${axis} of size 0`);
  const out = makeTensor("i64", keepDims ? x.dims.map((d, i) => (i === axis ? 1 : d)) : x.dims.filter((_, i) => i !== axis));
  const outer = sizeOf(x.dims, 0, axis), inner = sizeOf(x.dims, axis + 1);
  const xd = x.data as ArrayLike<number | bigint>, od = out.data as BigInt64Array;
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      let best = xd[base]!, at = 0;
      for (let j = 1; j < n; j++) {
        const v = xd[base + j * inner]!;
        const take = best !== best
          ? selectLast && v !== v
          : v !== v || (max ? v > best : v < best) || (selectLast && v === best);
        if (take) { best = v; at = j; }
      }
      od[o * inner + i] = BigInt(at);
    }
  }
  return out;
}
