// RMS normalisation as exporters write it (Llama, Mistral, Mixtral):
//   w * (x * (1 / sqrt(ReduceMean(Pow(x, 2), last axis) + eps)))
// in one pass over x (rms-norm-wasm.ts via simd.ts), for the reference
// backend's rms-norm fusion (targets/reference/fusions.ts). The bits are the
// nodes'; undefined where the kernel does not apply, and the nodes run instead.

import type { Tensor } from "../../../ir/tensor.js";
import { allocateOverwritten } from "./buffers.js";
import { sizeOf } from "./common.js";
import { rmsNormF32 } from "./simd.js";

/** The one float32 value of a tensor that broadcasts as a scalar against rank `rank`, or undefined. */
function scalarOf(t: Tensor, rank: number): number | undefined {
  return t.dtype === "f32" && t.data.length === 1 && t.dims.length <= rank ? (t.data as Float32Array)[0]! : undefined;
}

/**
 * The fused result, or undefined where it does not apply: float32 x, the exponent 2, eps
 * and the numerator 1 (when the reciprocal is a Div) single values, the weight a row of the
 * last axis' length (perhaps with leading 1s), the last axis a multiple of 4 long.
 */
export function rmsNorm(x: Tensor, exponent: Tensor, eps: Tensor, one: Tensor | undefined, weight: Tensor): Tensor | undefined {
  const rank = x.dims.length, n = x.dims[rank - 1] ?? 0;
  if (x.dtype !== "f32" || weight.dtype !== "f32" || rank === 0) return undefined;
  const e = exponent.data.length === 1 && exponent.dims.length <= rank ? Number(exponent.data[0]) : NaN;
  const epsilon = scalarOf(eps, rank);
  if (e !== 2 || epsilon === undefined || (one && scalarOf(one, rank) !== 1)) return undefined;
  if (weight.dims.length > rank || weight.data.length !== n || weight.dims.slice(0, -1).some((d) => d !== 1)) return undefined;
  const out = allocateOverwritten("f32", x.dims);
  const done = rmsNormF32(x.data as Float32Array, weight.data as Float32Array, epsilon, out.data as Float32Array, sizeOf(x.dims, 0, rank - 1), n);
  return done ? out : undefined;
}
