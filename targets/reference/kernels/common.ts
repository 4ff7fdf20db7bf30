// Small helpers shared by the compute kernels (matmul, conv, pooling,
// normalisation, softmax, reductions).

import { fail } from "../../../ir/diagnostics.js";
import type { DType } from "../../../ir/dtype.js";
import type { Tensor, TensorData } from "../../../ir/tensor.js";
import { castTensor } from "./cast.js";

export function isBigData(data: TensorData): data is BigInt64Array | BigUint64Array {
  return data instanceof BigInt64Array || data instanceof BigUint64Array;
}

/** f16/bf16 results are computed in float32 storage; round them to the dtype's precision. */
export function roundToDType(t: Tensor): Tensor {
  return t.dtype === "f16" || t.dtype === "bf16" ? castTensor(t, t.dtype) : t;
}

/** Refuse dtypes a float-only kernel cannot compute on (int64 data would be read as bigints). */
export function requireFloat(t: Tensor, allowed: readonly DType[], what: string): void {
  if (!allowed.includes(t.dtype)) fail(`${what} has dtype ${t.dtype}, expected one of ${allowed.join(", ")}`);
}

/** Whether `from` broadcasts unidirectionally to `to` (numpy rules, `to` unchanged). */
export function broadcastsTo(from: readonly number[], to: readonly number[]): boolean {
  const skip = to.length - from.length;
  return skip >= 0 && from.every((d, i) => d === 1 || d === to[skip + i]);
}

/** Product of dims[from, to). */
export function sizeOf(dims: readonly number[], from = 0, to = dims.length): number {
  let n = 1;
  for (let i = from; i < to; i++) n *= dims[i]!;
  return n;
}
