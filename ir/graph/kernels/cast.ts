// Cast between dtypes with ONNX semantics: float -> int truncates toward zero,
// anything -> bool is "not zero", int64 <-> float goes through BigInt exactly
// where the target can hold the value.

import type { DType } from "../../dtype.js";
import { isFloat } from "../../dtype.js";
import type { Tensor } from "../../tensor.js";
import { makeTensor } from "../../tensor.js";

const F16_MAX = 65504;

/** Round a float to the nearest value representable as bfloat16 (round-to-nearest-even). */
function roundBF16(v: number): number {
  if (!Number.isFinite(v)) return v;
  const f = new Float32Array([v]);
  const u = new Uint32Array(f.buffer);
  const bits = u[0]!;
  const rounded = (bits + 0x7fff + ((bits >>> 16) & 1)) & 0xffff0000;
  u[0] = rounded >>> 0;
  return f[0]!;
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

export function castTensor(x: Tensor, to: DType): Tensor {
  const out = makeTensor(to, x.dims);
  const src = x.data, dst = out.data;
  const n = src.length;
  const srcBig = src instanceof BigInt64Array || src instanceof BigUint64Array;
  const dstBig = dst instanceof BigInt64Array || dst instanceof BigUint64Array;
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    if (dstBig) {
      const big = typeof v === "bigint" ? v : BigInt(castValue(v, to));
      (dst as BigInt64Array)[i] = to === "i64" ? BigInt.asIntN(64, big) : BigInt.asUintN(64, big);
    } else if (srcBig) {
      (dst as Float32Array)[i] = castValue(Number(v), to);
    } else {
      (dst as Float32Array)[i] = castValue(v as number, to);
    }
  }
  return out;
}
