// Cast between dtypes with ONNX semantics: float -> int truncates toward zero,
// anything -> bool is "not zero", int64 <-> float goes through BigInt exactly
// where the target can hold the value.

import type { DType } from "../../../ir/dtype.js";
import { isFloat } from "../../../ir/dtype.js";
import type { Tensor, TensorData } from "../../../ir/tensor.js";
import { allocate } from "../../../ir/tensor.js";
import { allocateOverwritten } from "./buffers.js";

const F16_MAX = 65504;

const bf16Value = new Float32Array(1);
const bf16Bits = new Uint32Array(bf16Value.buffer);

/** Round a float to the nearest value representable as bfloat16 (round-to-nearest-even). */
function roundBF16(v: number): number {
  if (!Number.isFinite(v)) return v;
  bf16Value[0] = v;
  const bits = bf16Bits[0]!;
  bf16Bits[0] = ((bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000) >>> 0;
  return bf16Value[0]!;
}

/** Round to the nearest float16 value (keeps it in float32 storage). */
function roundF16(v: number): number {
  if (!Number.isFinite(v) || v === 0) return v;
  const a = Math.abs(v);
  if (a >= F16_MAX + 16) return v > 0 ? Infinity : -Infinity; // 65520 is the tie between 65504 and 2^16: it rounds to infinity
  const exp = Math.max(Math.floor(Math.log2(a)), -14);
  const quantum = 2 ** (exp - 10);
  const q = a / quantum;
  let r = Math.round(q);
  if (Math.abs(q - Math.trunc(q) - 0.5) < 1e-12 && r % 2 === 1) r -= 1; // ties to even
  return Math.sign(v) * r * quantum;
}

export function castValue(v: number, to: DType): number {
  if (to === "bool") return v !== 0 ? 1 : 0; // NaN is "not zero", so true (as numpy and C++ casts give)
  if (to === "f16") return roundF16(v);
  if (to === "bf16") return roundBF16(v);
  if (isFloat(to)) return v;
  if (!Number.isFinite(v)) return 0;
  return Math.trunc(v);
}

type NumberData = Exclude<TensorData, BigInt64Array | BigUint64Array>;
type BigData = BigInt64Array | BigUint64Array;
const isBig = (d: TensorData): d is BigData => d instanceof BigInt64Array || d instanceof BigUint64Array;

/**
 * Cast a tensor. Whole-array paths, each giving what castValue would element by
 * element: a cast that changes neither storage nor values shares the buffer
 * (tensors are read-only views); number-to-number casts use TypedArray.set,
 * whose conversions on store are exactly castValue's (float to int: NaN and
 * +-Infinity become 0, the rest truncates and wraps; float64 to float32 rounds
 * to nearest); bool, f16, bf16 and int64 targets have their own loops.
 */
export function castTensor(x: Tensor, to: DType): Tensor {
  const src = x.data;
  // bool to bool: the values are already 0 and 1; f16 and bf16 to themselves round (roundToDType relies on it).
  const rounds = to === "f16" || to === "bf16" || (to === "bool" && x.dtype !== "bool");
  if (!rounds && src.constructor === allocate(to, 0).constructor) return { dtype: to, dims: [...x.dims], data: src };
  const out = allocateOverwritten(to, x.dims);
  const dst = out.data, n = src.length;
  if (isBig(dst)) {
    if (isBig(src)) dst.set(src); // storing wraps to 64 bits, as BigInt.asIntN / asUintN do
    else if (isFloat(x.dtype)) castFloatsToBig(src, dst, n);
    else for (let i = 0; i < n; i++) dst[i] = BigInt(src[i]!);
  } else if (to === "bool") {
    // NaN is "not zero", so true (as numpy and C++ casts give).
    const d = dst as Uint8Array;
    if (isBig(src)) for (let i = 0; i < n; i++) d[i] = src[i] !== 0n ? 1 : 0;
    else for (let i = 0; i < n; i++) d[i] = src[i] !== 0 ? 1 : 0;
  } else if (to === "f16" || to === "bf16") {
    const round = to === "f16" ? roundF16 : roundBF16, d = dst as Float32Array;
    if (isBig(src)) for (let i = 0; i < n; i++) d[i] = round(Number(src[i]!));
    else for (let i = 0; i < n; i++) d[i] = round(src[i]!);
  } else if (isBig(src)) {
    const d = dst as NumberData;
    for (let i = 0; i < n; i++) d[i] = Number(src[i]!);
  } else {
    (dst as NumberData).set(src);
  }
  return out;
}

/** Float to int64/uint64: truncate toward zero, wrap to 64 bits; NaN and +-Infinity become 0. */
function castFloatsToBig(src: NumberData, dst: BigData, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    dst[i] = Number.isFinite(v) ? BigInt(Math.trunc(v)) : 0n;
  }
}
