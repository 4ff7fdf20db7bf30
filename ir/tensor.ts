// Concrete tensors: literal constants in the IR and the values kernels compute on.
// int64/uint64 are kept in BigInt64Array/BigUint64Array so no precision is lost;
// f16 and bf16 are held widened in Float32Array (their values are exact there);
// int4/uint4 one value per Int8Array/Uint8Array element (packed only on disk).

import type { DType } from "./dtype.js";
import { TierflowError } from "./diagnostics.js";

export type TensorData =
  | Float32Array | Float64Array
  | Int8Array | Int16Array | Int32Array | BigInt64Array
  | Uint8Array | Uint16Array | Uint32Array | BigUint64Array;

/**
 * A concrete tensor: element type, dims and a flat typed array in row-major order. int64 and
 * uint64 are held in BigInt64Array/BigUint64Array; f16 and bf16 widened in a Float32Array.
 */
export interface Tensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** The elements, row-major; its length is the product of `dims`. */
  readonly data: TensorData;
}

/** Largest element count a tensor may have before it is refused (2^31 - 1). */
export const MAX_ELEMENTS = 2 ** 31 - 1;

export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new TierflowError(`tensor of shape [${dims.join(", ")}] has a dim that is not a non-negative integer`);
    n *= d;
    if (!Number.isSafeInteger(n)) throw new TierflowError(`tensor of shape [${dims.join(", ")}] is too large`);
  }
  return n;
}

export function checkElementLimit(count: number): void {
  if (count > MAX_ELEMENTS) throw new TierflowError(`tensor of ${count} elements exceeds the limit of ${MAX_ELEMENTS}`);
}

/** Run `make`, which allocates `bytes` of storage: the engine's refusal (a RangeError) becomes a diagnostic. */
export function allocating<T>(bytes: number, make: () => T): T {
  try {
    return make();
  } catch (err) {
    if (err instanceof RangeError) throw new TierflowError(`cannot allocate a tensor of ${bytes} bytes (${err.message})`);
    throw err;
  }
}

export function allocate(dtype: DType, count: number): TensorData {
  checkElementLimit(count);
  return allocating(count * storedBytes(dtype), () => storageOf(dtype, count));
}

/** Bytes of one element as held in memory (f16 and bf16 widened to float32, int4 and uint4 a byte each). */
function storedBytes(dtype: DType): number {
  switch (dtype) {
    case "f64": case "i64": case "u64": return 8;
    case "f32": case "f16": case "bf16": case "i32": case "u32": return 4;
    case "i16": case "u16": return 2;
    default: return 1;
  }
}

function storageOf(dtype: DType, count: number): TensorData {
  switch (dtype) {
    case "f32": case "f16": case "bf16": return new Float32Array(count);
    case "f64": return new Float64Array(count);
    case "i8": case "i4": return new Int8Array(count);
    case "i16": return new Int16Array(count);
    case "i32": return new Int32Array(count);
    case "i64": return new BigInt64Array(count);
    case "u8": case "u4": case "bool": return new Uint8Array(count);
    case "u16": return new Uint16Array(count);
    case "u32": return new Uint32Array(count);
    case "u64": return new BigUint64Array(count);
    case "str": throw new TierflowError("string tensors are not supported");
  }
}

export function makeTensor(dtype: DType, dims: readonly number[], data?: TensorData): Tensor {
  const count = elementCount(dims);
  const buf = data ?? allocate(dtype, count);
  if (buf.length !== count) {
    throw new TierflowError(`tensor data has ${buf.length} elements, shape [${dims.join(", ")}] needs ${count}`);
  }
  return { dtype, dims: [...dims], data: buf };
}

/** Build a tensor from plain numbers or bigints, converting to the dtype's storage. */
export function tensorFromValues(dtype: DType, dims: readonly number[], values: ArrayLike<number | bigint>): Tensor {
  const t = makeTensor(dtype, dims);
  const data = t.data;
  const big = data instanceof BigInt64Array || data instanceof BigUint64Array;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (big) (data as BigInt64Array)[i] = typeof v === "bigint" ? v : BigInt(Math.trunc(v));
    else (data as Float32Array)[i] = Number(v);
  }
  return t;
}

/** Element i as a JS number (int64 beyond 2^53 loses precision here: use only for indices and shapes). */
export function elementAsNumber(t: Tensor, i: number): number {
  return Number(t.data[i]!);
}

/** All elements as numbers (shape tensors, axes, small constants). */
export function valuesAsNumbers(t: Tensor): number[] {
  return Array.from(t.data as ArrayLike<number | bigint>, (v) => Number(v));
}

export function scalarTensor(dtype: DType, value: number | bigint): Tensor {
  return tensorFromValues(dtype, [], [value]);
}

/**
 * Packed 4-bit elements (ONNX's int4/uint4 layout, and MatMulNBits' weights): two to a
 * byte, the first in the low nibble. `out` receives `count` values; signed ones are
 * sign-extended.
 */
export function unpackNibbles(bytes: Uint8Array, count: number, signed: boolean, out: Int8Array | Uint8Array): void {
  for (let i = 0; i < count; i++) {
    const byte = bytes[i >> 1]!;
    const nibble = i & 1 ? byte >> 4 : byte & 0xf;
    out[i] = signed && nibble >= 8 ? nibble - 16 : nibble;
  }
}

/** Values (int4/uint4, unpacked) -> two to a byte, the first in the low nibble; an odd count leaves the last high nibble 0. */
export function packNibbles(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(Math.ceil(values.length / 2));
  for (let i = 0; i < values.length; i++) out[i >> 1]! |= (values[i]! & 0xf) << (i & 1 ? 4 : 0);
  return out;
}
