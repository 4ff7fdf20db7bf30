// Tensors on disk, for `tierflow run` inputs and outputs and the conformance
// suite: ONNX TensorProto (.pb), numpy (.npy) and JSON. Every malformed file
// becomes a one-line diagnostic naming the file.

import { mkdirSync } from "node:fs";
import { dirname, extname } from "node:path";
import type { DType } from "../ir/dtype.js";
import { DTYPES, dtypeBytes, isDType, isFloat, isSubByte } from "../ir/dtype.js";
import { TierflowError, fail, withLocation } from "../ir/diagnostics.js";
import type { Tensor } from "../ir/tensor.js";
import { elementCount, packNibbles, tensorFromValues } from "../ir/tensor.js";
import { onnx } from "./onnx/proto.js";
import { importLiteral } from "./onnx/tensors.js";
import { decodeBytes, encodeBytes } from "../ir/tensor-bytes.js";
import { replaceFile } from "./emit.js";
import { readUserFile } from "../ir/read-file.js";

/** A tensor file's format: NumPy `.npy`, ONNX TensorProto `.pb`, or JSON. */
export type TensorFormat = "npy" | "pb" | "json";
export const TENSOR_FORMATS: readonly TensorFormat[] = ["npy", "pb", "json"];

export function formatOfPath(path: string): TensorFormat {
  const ext = extname(path).toLowerCase().slice(1);
  if ((TENSOR_FORMATS as readonly string[]).includes(ext)) return ext as TensorFormat;
  return fail(`cannot tell the tensor format from the extension '${extname(path)}' (use .npy, .pb or .json)`, { file: path });
}

// ---- raw little-endian bytes ------------------------------------------------

// ---- ONNX TensorProto (.pb) ---------------------------------------------------

function decodePb(bytes: Uint8Array): Tensor {
  let proto: ReturnType<typeof onnx.TensorProto.decode>;
  try {
    proto = onnx.TensorProto.decode(bytes);
  } catch (err) {
    fail(`not an ONNX TensorProto (${err instanceof Error ? err.message : String(err)})`);
  }
  return importLiteral(proto, "tensor", { modelDir: "", modelFile: "", fileBytes: new Uint8Array(0) });
}

function encodePb(t: Tensor, name: string): Uint8Array {
  const proto = { name, dims: [...t.dims], dataType: DTYPES[t.dtype].onnx, rawData: encodeBytes(t) };
  return onnx.TensorProto.encode(onnx.TensorProto.fromObject(proto)).finish();
}

// ---- numpy (.npy), format versions 1.0 to 3.0 ---------------------------------

const NPY_MAGIC = "\x93NUMPY";
const NPY_DESCR: Readonly<Record<string, DType>> = {
  "<f2": "f16", "<f4": "f32", "<f8": "f64", "|i1": "i8", "<i2": "i16", "<i4": "i32", "<i8": "i64",
  "|u1": "u8", "<u2": "u16", "<u4": "u32", "<u8": "u64", "|b1": "bool",
};
// numpy has no bfloat16: those tensors are written widened to float32 (every bf16 value is exact there).
const DESCR_OF: Partial<Record<DType, string>> = { ...Object.fromEntries(Object.entries(NPY_DESCR).map(([k, v]) => [v, k])), bf16: "<f4" };

function npyHeaderField(header: string, key: string): string | undefined {
  return new RegExp(`['"]${key}['"]\\s*:\\s*('[^']*'|"[^"]*"|True|False|\\([^)]*\\))`).exec(header)?.[1];
}

function decodeNpy(bytes: Uint8Array): Tensor {
  if (bytes.byteLength < 10 || String.fromCharCode(...bytes.subarray(0, 6)) !== NPY_MAGIC) fail("not a .npy file (bad magic)");
  const major = bytes[6]!;
  if (major < 1 || major > 3) fail(`.npy format version ${major}.${bytes[7]} is not supported`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.byteLength < 8 + lenBytes) fail("truncated .npy header");
  const headerLen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes + headerLen;
  if (start > bytes.byteLength) fail("truncated .npy header");
  const header = new TextDecoder(major === 3 ? "utf-8" : "latin1").decode(bytes.subarray(8 + lenBytes, start));
  const descr = npyHeaderField(header, "descr")?.slice(1, -1);
  const fortran = npyHeaderField(header, "fortran_order");
  const shapeText = npyHeaderField(header, "shape");
  if (descr === undefined || fortran === undefined || shapeText === undefined) fail(`malformed .npy header: ${header.trim()}`);
  if (fortran === "True") fail("Fortran-order .npy arrays are not supported (save a C-contiguous array)");
  if (descr.startsWith(">")) fail(`big-endian .npy data ('${descr}') is not supported (save it little-endian)`);
  const dtype = NPY_DESCR[descr.replace(/^[<=|](?=[iub]1$)/, "|").replace(/^=/, "<")];
  if (!dtype) fail(`.npy dtype '${descr}' is not supported (supported: ${Object.keys(NPY_DESCR).join(", ")})`);
  const parts = shapeText.slice(1, -1).split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (!parts.every((p) => /^\d+L?$/.test(p))) fail(`malformed .npy shape ${shapeText}`);
  const dims = parts.map((p) => Number.parseInt(p, 10));
  const need = elementCount(dims) * dtypeBytes(dtype);
  const have = bytes.byteLength - start;
  if (have !== need) fail(`.npy data is ${have} bytes, ${dtype}[${dims.join(", ")}] needs ${need}`);
  const t = decodeBytes(dtype, dims, bytes.subarray(start));
  if (dtype === "bool") for (let i = 0; i < t.data.length; i++) (t.data as Uint8Array)[i] = t.data[i] ? 1 : 0;
  return t;
}

function encodeNpy(t: Tensor): Uint8Array {
  const descr = DESCR_OF[t.dtype];
  if (!descr) fail(`${t.dtype} tensors cannot be written as .npy`);
  const body = encodeBytes(t.dtype === "bf16" ? { ...t, dtype: "f32" } : t);
  const shape = t.dims.length === 1 ? `(${t.dims[0]},)` : `(${t.dims.join(", ")})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  const v1 = header.length + 11 <= 0xffff;
  const prefix = v1 ? 10 : 12;
  header += " ".repeat((64 - ((prefix + header.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(prefix + header.length + body.byteLength);
  out.set([0x93, ...Array.from("NUMPY", (c) => c.charCodeAt(0)), v1 ? 1 : 2, 0]);
  const view = new DataView(out.buffer);
  if (v1) view.setUint16(8, header.length, true);
  else view.setUint32(8, header.length, true);
  out.set(Array.from(header, (c) => c.charCodeAt(0)), prefix);
  out.set(body, prefix + header.length);
  return out;
}

// ---- JSON: a nested array (dtype from the caller) or {dtype, dims, data} -----

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Deepest nesting read from a JSON tensor: the walk below recurses once per level. */
export const MAX_JSON_RANK = 64;

/** Dims of a regular nested array, and its leaves in C order. */
function flattenNested(value: Json): { dims: number[]; leaves: Json[] } {
  const dims: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0] ?? null) {
    dims.push(v.length);
    if (dims.length > MAX_JSON_RANK) fail(`JSON array nests deeper than ${MAX_JSON_RANK} (a tensor of that rank is not supported)`);
    if (v.length === 0) break;
  }
  const leaves: Json[] = [];
  const walk = (v: Json, depth: number, path: string) => {
    if (depth === dims.length) {
      if (Array.isArray(v)) fail(`JSON array is ragged: element ${path || "[]"} is nested deeper than the first element`);
      leaves.push(v);
      return;
    }
    if (!Array.isArray(v) || v.length !== dims[depth]) {
      fail(`JSON array is ragged: element ${path || "[]"} should be a list of ${dims[depth]}`);
    }
    v.forEach((x, i) => walk(x, depth + 1, `${path}[${i}]`));
  };
  walk(value, 0, "");
  return { dims, leaves };
}

const INT_RANGE: Partial<Record<DType, [bigint, bigint]>> = {
  i8: [-128n, 127n], i16: [-32768n, 32767n], i32: [-(2n ** 31n), 2n ** 31n - 1n], i64: [-(2n ** 63n), 2n ** 63n - 1n],
  u8: [0n, 255n], u16: [0n, 65535n], u32: [0n, 2n ** 32n - 1n], u64: [0n, 2n ** 64n - 1n], i4: [-8n, 7n], u4: [0n, 15n],
};
const SPECIAL_FLOATS: Readonly<Record<string, number>> = { NaN: NaN, nan: NaN, Infinity: Infinity, inf: Infinity, "-Infinity": -Infinity, "-inf": -Infinity };

function leafValue(v: Json, dtype: DType, index: number): number | bigint {
  const bad = (): never => fail(`JSON element ${index} (${JSON.stringify(v)}) is not a valid ${dtype} value`);
  if (dtype === "bool") return v === true || v === 1 ? 1 : v === false || v === 0 ? 0 : bad();
  if (isFloat(dtype)) {
    if (typeof v === "number") return v;
    return typeof v === "string" && Object.hasOwn(SPECIAL_FLOATS, v) ? SPECIAL_FLOATS[v]! : bad();
  }
  if (!(typeof v === "number" && Number.isInteger(v)) && !(typeof v === "string" && /^-?\d+$/.test(v))) bad();
  const big = BigInt(v as number | string);
  const [lo, hi] = INT_RANGE[dtype]!;
  if (big < lo || big > hi) fail(`JSON element ${index} (${String(v)}) is out of range for ${dtype}`);
  return dtype === "i64" || dtype === "u64" ? big : Number(big);
}

function decodeJson(bytes: Uint8Array, dtype: DType | undefined): Tensor {
  let value: Json;
  try {
    value = JSON.parse(new TextDecoder().decode(bytes)) as Json;
  } catch (err) {
    fail(`not valid JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  let dims: number[] | undefined;
  let data: Json = value;
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const d = value.dtype;
    if (typeof d !== "string" || !isDType(d) || d === "str") fail(`JSON tensor has dtype ${JSON.stringify(d)}; expected one of f32, f64, f16, bf16, i4, i8..i64, u4, u8..u64, bool`);
    if (!Array.isArray(value.dims) || !value.dims.every((x) => Number.isSafeInteger(x) && (x as number) >= 0)) {
      fail("JSON tensor needs \"dims\": a list of non-negative integers");
    }
    if (!("data" in value)) fail("JSON tensor has no \"data\"");
    dtype = d;
    dims = value.dims as number[];
    data = value.data!;
  }
  if (dtype === undefined) fail("a JSON array needs a known dtype; write {\"dtype\": ..., \"dims\": [...], \"data\": [...]}");
  const nested = flattenNested(data);
  const count = dims ? elementCount(dims) : elementCount(nested.dims);
  if (nested.leaves.length !== count) fail(`JSON data has ${nested.leaves.length} elements, shape [${(dims ?? nested.dims).join(", ")}] needs ${count}`);
  const t = dtype;
  return tensorFromValues(t, dims ?? nested.dims, nested.leaves.map((v, i) => leafValue(v, t, i)));
}

/** The shortest decimal that reads back as the same float32 (f16/bf16 values are exact float32s). */
function shortFloat(v: number, dtype: DType): Json {
  if (Number.isNaN(v)) return "NaN";
  if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
  if (dtype === "f64") return v;
  for (let p = 1; p < 17; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return s;
  }
  return v;
}

function encodeJson(t: Tensor): Uint8Array {
  const leaf = (i: number): Json => {
    const v = t.data[i]!;
    if (typeof v === "bigint") return v >= -(2n ** 53n) && v <= 2n ** 53n ? Number(v) : v.toString();
    if (t.dtype === "bool") return v !== 0;
    return isFloat(t.dtype) ? shortFloat(v, t.dtype) : v;
  };
  let next = 0;
  const nest = (depth: number): Json =>
    depth === t.dims.length ? leaf(next++) : Array.from({ length: t.dims[depth]! }, () => nest(depth + 1));
  return new TextEncoder().encode(`${JSON.stringify({ dtype: t.dtype, dims: t.dims, data: nest(0) })}\n`);
}

// ---- files ------------------------------------------------------------------

export interface DecodeOptions {
  /** Dtype for JSON files that are a bare nested array (a graph input's type). */
  readonly dtype?: DType;
}

export function decodeTensor(bytes: Uint8Array, format: TensorFormat, options: DecodeOptions = {}): Tensor {
  switch (format) {
    case "pb": return decodePb(bytes);
    case "npy": return decodeNpy(bytes);
    case "json": return decodeJson(bytes, options.dtype);
  }
}

export function encodeTensor(t: Tensor, format: TensorFormat, name = ""): Uint8Array {
  switch (format) {
    case "pb": return encodePb(t, name);
    case "npy": return encodeNpy(t);
    case "json": return encodeJson(t);
  }
}

/**
 * Read a tensor from a file, its format told by the extension (`.npy`, `.pb` or `.json`;
 * `options.dtype` types a JSON file that is a bare nested array). Another extension, a file
 * that cannot be read or one that does not decode throws a TierflowError naming the file.
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs";
 * import { loadModel, readTensorFile, run } from "tierflow";
 *
 * writeFileSync("input_ids.json", "[[1, 5, 9, 2]]");
 * const input_ids = readTensorFile("input_ids.json", { dtype: "i64" }); // i64 [1, 4]
 * const { module } = await loadModel("examples/models/llama-tiny.torchscript.onnx");
 * const { outputs } = run(module, { input_ids }, { modelDir: "examples/models" });
 * ```
 */
export function readTensorFile(path: string, options: DecodeOptions = {}): Tensor {
  const format = formatOfPath(path);
  const file = readUserFile(path, format === "json" ? "JSON tensor" : "tensor file");
  const bytes = new Uint8Array(file.buffer, file.byteOffset, file.byteLength);
  return withLocation({ file: path }, () => decodeTensor(bytes, format, options));
}

/**
 * Write a tensor to a file in `format` (`name` is the TensorProto's name for `.pb`), through
 * a temporary name in the same folder, then rename: no half-written file is ever visible. A
 * tensor the format cannot hold or a file that cannot be written throws a TierflowError.
 *
 * @example
 * ```ts
 * import { writeTensorFile } from "tierflow";
 *
 * const ids = { dtype: "i64", dims: [1, 4], data: BigInt64Array.from([1n, 5n, 9n, 2n]) } as const;
 * writeTensorFile("out/input_ids.npy", ids, "npy");
 * ```
 */
export function writeTensorFile(path: string, t: Tensor, format: TensorFormat, name = ""): void {
  const bytes = withLocation({ file: path }, () => encodeTensor(t, format, name));
  try {
    mkdirSync(dirname(path), { recursive: true });
    replaceFile(path, bytes);
  } catch (err) {
    throw new TierflowError(`cannot write file (${err instanceof Error ? err.message : String(err)})`, { file: path });
  }
}
