// Tensor bytes: little-endian bytes as ONNX raw data, tensor files and plan
// weights hold them, decoded into tensor storage and encoded back. Kept in
// ir/ so that the front end, the reference backend and the runtime share one
// codec.

import type { DType } from "./dtype.js";
import { byteSize, dtypeBytes, isSubByte } from "./dtype.js";
import { fail } from "./diagnostics.js";
import type { Tensor } from "./tensor.js";
import { makeTensor, packNibbles, unpackNibbles } from "./tensor.js";

/** IEEE half bits -> float32 value. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

const scratch = new DataView(new ArrayBuffer(4));
/** bfloat16 bits -> float32 value. */
export function bf16ToF32(bits: number): number {
  scratch.setUint32(0, (bits & 0xffff) << 16);
  return scratch.getFloat32(0);
}

/** Little-endian bytes -> tensor storage; f16/bf16 are widened to f32 values, int4/uint4 unpacked one to an element. */
export function decodeBytes(dtype: DType, dims: readonly number[], bytes: Uint8Array): Tensor {
  const t = makeTensor(dtype, dims);
  const n = t.data.length;
  if (bytes.byteLength !== byteSize(dtype, n)) {
    fail(`tensor data has ${bytes.byteLength} bytes, ${dtype}[${dims.join(", ")}] needs ${byteSize(dtype, n)}`);
  }
  if (isSubByte(dtype)) {
    unpackNibbles(bytes, n, dtype === "i4", t.data as Int8Array | Uint8Array);
    return t;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = t.data;
  for (let i = 0; i < n; i++) {
    switch (dtype) {
      case "f32": (out as Float32Array)[i] = view.getFloat32(4 * i, true); break;
      case "f64": (out as Float64Array)[i] = view.getFloat64(8 * i, true); break;
      case "f16": (out as Float32Array)[i] = f16ToF32(view.getUint16(2 * i, true)); break;
      case "bf16": (out as Float32Array)[i] = bf16ToF32(view.getUint16(2 * i, true)); break;
      case "i8": (out as Int8Array)[i] = view.getInt8(i); break;
      case "u8": case "bool": (out as Uint8Array)[i] = view.getUint8(i); break;
      case "i16": (out as Int16Array)[i] = view.getInt16(2 * i, true); break;
      case "u16": (out as Uint16Array)[i] = view.getUint16(2 * i, true); break;
      case "i32": (out as Int32Array)[i] = view.getInt32(4 * i, true); break;
      case "u32": (out as Uint32Array)[i] = view.getUint32(4 * i, true); break;
      case "i64": (out as BigInt64Array)[i] = view.getBigInt64(8 * i, true); break;
      case "u64": (out as BigUint64Array)[i] = view.getBigUint64(8 * i, true); break;
      case "i4": case "u4": break; // unpacked above
      case "str": fail("string tensors are not supported");
    }
  }
  return t;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 value -> IEEE half bits, round to nearest even (subnormals and overflow to inf included). */
export function f16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent rounds up correctly
  return sign | half;
}

/** float32 value -> bfloat16 bits, round to nearest even. */
export function bf16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if (Number.isNaN(v)) return ((x >>> 16) & 0x8000) | 0x7fc0;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Tensor storage -> little-endian bytes in the dtype's ONNX/numpy layout. */
export function encodeBytes(t: Tensor): Uint8Array {
  if (isSubByte(t.dtype)) return packNibbles(t.data as Int8Array | Uint8Array);
  const n = t.data.length;
  const out = new Uint8Array(n * dtypeBytes(t.dtype));
  const view = new DataView(out.buffer);
  const d = t.data;
  for (let i = 0; i < n; i++) {
    switch (t.dtype) {
      case "f32": view.setFloat32(4 * i, d[i] as number, true); break;
      case "f64": view.setFloat64(8 * i, d[i] as number, true); break;
      case "f16": view.setUint16(2 * i, f16Bits(d[i] as number), true); break;
      case "bf16": view.setUint16(2 * i, bf16Bits(d[i] as number), true); break;
      case "i8": view.setInt8(i, d[i] as number); break;
      case "u8": view.setUint8(i, d[i] as number); break;
      case "bool": view.setUint8(i, d[i] ? 1 : 0); break;
      case "i16": view.setInt16(2 * i, d[i] as number, true); break;
      case "u16": view.setUint16(2 * i, d[i] as number, true); break;
      case "i32": view.setInt32(4 * i, d[i] as number, true); break;
      case "u32": view.setUint32(4 * i, d[i] as number, true); break;
      case "i64": view.setBigInt64(8 * i, d[i] as bigint, true); break;
      case "u64": view.setBigUint64(8 * i, d[i] as bigint, true); break;
      case "i4": case "u4": break; // packed above
      case "str": fail("string tensors are not supported");
    }
  }
  return out;
}
