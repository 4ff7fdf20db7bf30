// Element types shared by every IR level. One table: short name (used in the
// textual form), ONNX TensorProto.DataType code, bytes per element.

export type DType =
  | "f32" | "f16" | "bf16" | "f64"
  | "i8" | "i16" | "i32" | "i64"
  | "u8" | "u16" | "u32" | "u64"
  | "bool" | "str";

interface DTypeInfo {
  readonly onnx: number;
  readonly bytes: number;
  readonly kind: "float" | "int" | "uint" | "bool" | "string";
}

export const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  f32: { onnx: 1, bytes: 4, kind: "float" },
  u8: { onnx: 2, bytes: 1, kind: "uint" },
  i8: { onnx: 3, bytes: 1, kind: "int" },
  u16: { onnx: 4, bytes: 2, kind: "uint" },
  i16: { onnx: 5, bytes: 2, kind: "int" },
  i32: { onnx: 6, bytes: 4, kind: "int" },
  i64: { onnx: 7, bytes: 8, kind: "int" },
  str: { onnx: 8, bytes: 0, kind: "string" },
  bool: { onnx: 9, bytes: 1, kind: "bool" },
  f16: { onnx: 10, bytes: 2, kind: "float" },
  f64: { onnx: 11, bytes: 8, kind: "float" },
  u32: { onnx: 12, bytes: 4, kind: "uint" },
  u64: { onnx: 13, bytes: 8, kind: "uint" },
  bf16: { onnx: 16, bytes: 2, kind: "float" },
};

const BY_ONNX = new Map<number, DType>(
  (Object.entries(DTYPES) as [DType, DTypeInfo][]).map(([name, info]) => [info.onnx, name]),
);

export function isDType(name: string): name is DType {
  return Object.hasOwn(DTYPES, name);
}

/** The tierflow dtype for an ONNX TensorProto.DataType code, or undefined if we have none. */
export function dtypeFromOnnx(code: number): DType | undefined {
  return BY_ONNX.get(code);
}

export function dtypeBytes(dtype: DType): number {
  return DTYPES[dtype].bytes;
}

export function isFloat(dtype: DType): boolean {
  return DTYPES[dtype].kind === "float";
}

export function isInteger(dtype: DType): boolean {
  const kind = DTYPES[dtype].kind;
  return kind === "int" || kind === "uint";
}

/** Every dtype a graph-level tensor can have (strings are refused on import). */
export const NUMERIC_DTYPES: readonly DType[] = (Object.keys(DTYPES) as DType[]).filter((d) => d !== "str");
export const FLOAT_DTYPES: readonly DType[] = ["f32", "f16", "bf16", "f64"];
export const INT_DTYPES: readonly DType[] = ["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"];
