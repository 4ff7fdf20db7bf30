// Element types shared by every IR level. One table: short name (used in the
// textual form), ONNX TensorProto.DataType code, bits per element. int4 and
// uint4 are stored packed (two per byte), so a tensor's size is byteSize(),
// never elements * bytes per element.

import { TierflowError } from "./diagnostics.js";

export type DType =
  | "f32" | "f16" | "bf16" | "f64"
  | "i8" | "i16" | "i32" | "i64"
  | "u8" | "u16" | "u32" | "u64"
  | "i4" | "u4"
  | "bool" | "str";

interface DTypeInfo {
  readonly onnx: number;
  readonly bits: number;
  readonly kind: "float" | "int" | "uint" | "bool" | "string";
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  f32: { onnx: 1, bits: 32, kind: "float" },
  u8: { onnx: 2, bits: 8, kind: "uint" },
  i8: { onnx: 3, bits: 8, kind: "int" },
  u16: { onnx: 4, bits: 16, kind: "uint" },
  i16: { onnx: 5, bits: 16, kind: "int" },
  i32: { onnx: 6, bits: 32, kind: "int" },
  i64: { onnx: 7, bits: 64, kind: "int" },
  str: { onnx: 8, bits: 0, kind: "string" },
  bool: { onnx: 9, bits: 8, kind: "bool" },
  f16: { onnx: 10, bits: 16, kind: "float" },
  f64: { onnx: 11, bits: 64, kind: "float" },
  u32: { onnx: 12, bits: 32, kind: "uint" },
  u64: { onnx: 13, bits: 64, kind: "uint" },
  bf16: { onnx: 16, bits: 16, kind: "float" },
  u4: { onnx: 21, bits: 4, kind: "uint" },
  i4: { onnx: 22, bits: 4, kind: "int" },
};

const BY_ONNX = new Map<number, DType>(
  (Object.entries(DTYPES) as [DType, DTypeInfo][]).map(([name, info]) => [info.onnx, name]),
);

export function isDType(name: string): name is DType {
  return Object.hasOwn(DTYPES, name);
}

/** ONNX element types tierflow has no dtype for, by name (for refusals). */
const UNSUPPORTED_ONNX: Readonly<Record<number, string>> = {
  14: "complex64", 15: "complex128", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2", 20: "float8e5m2fnuz",
  23: "float4e2m1", 24: "float8e8m0", 25: "uint2", 26: "int2",
};

/** An ONNX TensorProto.DataType code as a message names it: "float8e4m3fn (17)", or the tierflow dtype. */
export function onnxTypeName(code: number): string {
  const ours = BY_ONNX.get(code);
  if (ours) return ours;
  const name = UNSUPPORTED_ONNX[code];
  return name ? `${name} (${code})` : String(code);
}

/** The tierflow dtype for an ONNX TensorProto.DataType code, or undefined if we have none. */
export function dtypeFromOnnx(code: number): DType | undefined {
  return BY_ONNX.get(code);
}

export function dtypeBits(dtype: DType): number {
  return DTYPES[dtype].bits;
}

/** True for int4/uint4: stored two elements per byte, held unpacked (one per Int8Array/Uint8Array element) in memory. */
export function isSubByte(dtype: DType): boolean {
  const bits = DTYPES[dtype].bits;
  return bits > 0 && bits < 8;
}

/**
 * Bytes per element of a whole-byte dtype. Sub-byte dtypes have none: size their
 * tensors with byteSize, so no fractional byte count ever appears.
 */
export function dtypeBytes(dtype: DType): number {
  const bits = DTYPES[dtype].bits;
  if (bits % 8 !== 0) throw new TierflowError(`${dtype} elements take ${bits} bits, not a whole byte (size ${dtype} tensors by element count)`);
  return bits / 8;
}

/** Bytes per element as a ratio (0.5 for int4), for sizing runs of elements that byteSize or a ceiling rounds. */
export function elementBytes(dtype: DType): number {
  return DTYPES[dtype].bits / 8;
}

/** Bytes of `count` elements stored packed: int4 two to a byte, rounded up. */
export function byteSize(dtype: DType, count: number): number {
  return Math.ceil((count * DTYPES[dtype].bits) / 8);
}

export function isFloat(dtype: DType): boolean {
  return DTYPES[dtype].kind === "float";
}

export function isInteger(dtype: DType): boolean {
  const kind = DTYPES[dtype].kind;
  return kind === "int" || kind === "uint";
}

/** [lowest, highest] value of an integer dtype of at most 32 bits (what quantization saturates to). */
export function integerRange(dtype: DType): readonly [number, number] {
  const { bits, kind } = DTYPES[dtype];
  if ((kind !== "int" && kind !== "uint") || bits > 32) throw new TierflowError(`${dtype} has no 32-bit integer range`);
  return kind === "int" ? [-(2 ** (bits - 1)), 2 ** (bits - 1) - 1] : [0, 2 ** bits - 1];
}

/** Dtypes arithmetic ops accept: ONNX allows int4/uint4 only in casts, quantization and data movement. */
export const NUMERIC_DTYPES: readonly DType[] = (Object.keys(DTYPES) as DType[]).filter((d) => d !== "str" && !isSubByte(d));
export const FLOAT_DTYPES: readonly DType[] = ["f32", "f16", "bf16", "f64"];
export const INT_DTYPES: readonly DType[] = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"];

/** The most negative finite value of a float dtype: onnxruntime's value for ONNX Attention's masked scores. */
export function lowestOf(dtype: DType): number {
  return dtype === "f16" ? -65504 : dtype === "bf16" ? -3.3895313892515355e38 : -3.4028234663852886e38;
}
