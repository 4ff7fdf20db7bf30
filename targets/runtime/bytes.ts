// Tensors as the bytes the arenas hold. A tensor is stored in the plan's dtype
// (bf16 for a bf16 plan of a float32 model) and computed on in the graph's
// dtype, as the reference kernels expect. Where the two agree and the bytes
// are aligned, a tensor is a typed-array view of the arena's bytes (no copy),
// so large weights are not duplicated on the JS heap.

import type { DType } from "../../ir/dtype.js";
import { byteSize, dtypeBytes } from "../../ir/dtype.js";
import type { Tensor, TensorData } from "../../ir/tensor.js";
import { elementCount } from "../../ir/tensor.js";
import { decodeBytes } from "../../ir/tensor-bytes.js";
import { encodeBytes } from "../../ir/tensor-bytes.js";

type ArrayCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => TensorData;

const VIEWS: Partial<Record<DType, ArrayCtor>> = {
  f32: Float32Array, f64: Float64Array, i8: Int8Array, i16: Int16Array, i32: Int32Array, i64: BigInt64Array,
  u8: Uint8Array, bool: Uint8Array, u16: Uint16Array, u32: Uint32Array, u64: BigUint64Array,
};

// Typed-array views read native byte order; arenas hold little-endian bytes.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bytes in `storage` dtype -> a tensor of `dtype` with `dims`; a view of the bytes where possible. */
export function bytesToTensor(bytes: Uint8Array, storage: DType, dtype: DType, dims: readonly number[]): Tensor {
  const count = elementCount(dims);
  const view = VIEWS[storage];
  if (storage === dtype && view && LITTLE_ENDIAN) {
    const size = dtypeBytes(storage);
    const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
    return { dtype, dims: [...dims], data: new view(aligned.buffer, aligned.byteOffset, count) };
  }
  const t = decodeBytes(storage, dims, bytes);
  return { dtype, dims: t.dims, data: t.data };
}

/** A tensor -> its bytes in `storage` dtype (a view of its data where the layouts agree). */
export function tensorToBytes(t: Tensor, storage: DType): Uint8Array {
  if (t.dtype === storage && VIEWS[storage] && LITTLE_ENDIAN) return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return encodeBytes({ dtype: storage, dims: t.dims, data: t.data });
}

export function storageBytes(dtype: DType, dims: readonly number[]): number {
  return byteSize(dtype, elementCount(dims));
}
