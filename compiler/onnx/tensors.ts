// TensorProto -> tierflow constants. Small tensors become literals (shape
// arithmetic needs their values); large ones stay on disk as weight references
// into the model file or its external data file, read only when needed.

import type { Constant } from "../../ir/graph/graph.js";
import type { DType } from "../../ir/dtype.js";
import { byteSize, dtypeFromOnnx, isSubByte, onnxTypeName } from "../../ir/dtype.js";
import { TierflowError, fail } from "../../ir/diagnostics.js";
import type { Tensor } from "../../ir/tensor.js";
import { elementCount, makeTensor, tensorFromValues, unpackNibbles } from "../../ir/tensor.js";
import { bf16ToF32, decodeBytes, f16ToF32 } from "../../ir/tensor-bytes.js";
import type { TensorProto } from "./proto.js";
import { toBigInt, toNumber } from "./proto.js";
import { externalDataRef } from "./external-data.js";

/** Tensors up to this many bytes are kept as literals in the IR. */
export const LITERAL_LIMIT_BYTES = 4096;

export function tensorDType(proto: TensorProto, what: string): DType {
  const code = proto.dataType ?? 0;
  const dtype = dtypeFromOnnx(code);
  if (!dtype) fail(`${what} has ONNX data type ${onnxTypeName(code)}, which tierflow does not support`);
  if (dtype === "str") fail(`${what} is a string tensor, which tierflow does not support`);
  return dtype;
}

export function tensorDims(proto: TensorProto, what: string): number[] {
  const dims = (proto.dims ?? []).map((d) => toNumber(d, `${what} dim`));
  if (dims.some((d) => d < 0)) fail(`${what} has a negative dim: [${dims.join(", ")}]`);
  elementCount(dims);
  return dims;
}

/** What each int32_data entry may hold for a dtype stored there: its bits (f16, bf16), its value, or a packed byte. */
const INT32_DATA_RANGE: Partial<Record<DType, readonly [number, number]>> = {
  f16: [0, 0xffff], bf16: [0, 0xffff], u16: [0, 0xffff], i16: [-0x8000, 0x7fff], u8: [0, 0xff], i8: [-0x80, 0x7f],
  bool: [0, 1], i4: [0, 0xff], u4: [0, 0xff],
};

/** int32_data, each entry checked against what the dtype stores there (a larger value would be cut silently). */
function int32Data(proto: TensorProto, dtype: DType, what: string): number[] {
  const entries = proto.int32Data ?? [];
  const range = INT32_DATA_RANGE[dtype];
  if (range) {
    const bad = entries.findIndex((v) => !Number.isInteger(v) || v < range[0] || v > range[1]);
    if (bad >= 0) fail(`${what}: int32_data entry ${bad} is ${entries[bad]}, outside ${range[0]}..${range[1]}, what a ${dtype} entry holds`);
  }
  return entries;
}

/** Values stored in the typed repeated fields (float_data, int64_data, ...). */
function typedFieldValues(proto: TensorProto, dtype: DType, what: string): ArrayLike<number | bigint> {
  switch (dtype) {
    case "f32": return proto.floatData ?? [];
    case "f64": return proto.doubleData ?? [];
    case "i64": return (proto.int64Data ?? []).map(toBigInt);
    case "u64": case "u32": return (proto.uint64Data ?? []).map(toBigInt);
    case "f16": return int32Data(proto, dtype, what).map(f16ToF32);
    case "bf16": return int32Data(proto, dtype, what).map(bf16ToF32);
    default: return int32Data(proto, dtype, what);
  }
}

/** int4/uint4 in int32_data: one packed byte (two elements, the first in the low nibble) per entry. */
function packedNibbleValues(proto: TensorProto, dtype: DType, dims: readonly number[], what: string): Tensor {
  const entries = int32Data(proto, dtype, what);
  const count = elementCount(dims), need = byteSize(dtype, count);
  if (entries.length !== need) {
    fail(`${what} has ${entries.length} int32_data entries, ${dtype}[${dims.join(", ")}] packs into ${need} (two elements an entry)`);
  }
  const t = makeTensor(dtype, dims);
  unpackNibbles(Uint8Array.from(entries, (v) => v & 0xff), count, dtype === "i4", t.data as Int8Array | Uint8Array);
  return t;
}

export interface ImportContext {
  /** Folder of the model file (external data resolves inside it). */
  readonly modelDir: string;
  /** The model file's name relative to modelDir (for inline raw data references). */
  readonly modelFile: string;
  /** The whole model file, to locate raw_data views inside it. */
  readonly fileBytes: Uint8Array;
}

/** TensorProto -> Constant (literal or weight reference). */
export function importTensor(proto: TensorProto, what: string, ctx: ImportContext): Constant {
  const dtype = tensorDType(proto, what);
  const dims = tensorDims(proto, what);
  const count = elementCount(dims);
  const byteLength = byteSize(dtype, count);
  if (proto.dataLocation === 1) {
    const ref = externalDataRef(proto, byteLength, what, ctx.modelDir);
    return { kind: "weight", ref, dims, dtype };
  }
  const raw = proto.rawData;
  if (raw && raw.byteLength > 0) {
    if (raw.byteLength !== byteLength) {
      fail(`${what} has ${raw.byteLength} bytes of raw data, ${dtype}[${dims.join(", ")}] needs ${byteLength}`);
    }
    const inFile = raw.buffer === ctx.fileBytes.buffer;
    if (byteLength > LITERAL_LIMIT_BYTES && inFile) {
      const offset = raw.byteOffset - ctx.fileBytes.byteOffset;
      return { kind: "weight", ref: { file: ctx.modelFile, offset, length: byteLength }, dims, dtype };
    }
    return { kind: "literal", tensor: decodeBytes(dtype, dims, raw) };
  }
  if (isSubByte(dtype)) return { kind: "literal", tensor: packedNibbleValues(proto, dtype, dims, what) };
  const values = typedFieldValues(proto, dtype, what);
  if (values.length !== count) {
    fail(`${what} has ${values.length} values, ${dtype}[${dims.join(", ")}] needs ${count}`);
  }
  return { kind: "literal", tensor: tensorFromValues(dtype, dims, values) };
}

/** A literal tensor from a TensorProto, for attributes (never a weight reference). */
export function importLiteral(proto: TensorProto, what: string, ctx: ImportContext): Tensor {
  const c = importTensor(proto, what, { ...ctx, fileBytes: new Uint8Array(0) });
  if (c.kind !== "literal") throw new TierflowError(`${what}: tensor attributes with external data are not supported`);
  return c.tensor;
}
