// How single values look in the graph text: names, strings, dims, types and
// numbers. The parser reads exactly these forms back (docs/IR-TEXT.md).

import type { DType } from "../../dtype.js";
import { TierflowError } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import type { Tensor } from "../../tensor.js";
import type { TensorType } from "../graph.js";
import { BARE_IDENTIFIER, BARE_VALUE_NAME } from "./names.js";

/** Printable ASCII but the quote and the backslash: text JSON writes as it is. */
const PLAIN_STRING = /^[ !#-[\]-~]*$/;

export function quote(text: string): string {
  return PLAIN_STRING.test(text) ? `"${text}"` : JSON.stringify(text);
}

export function valueName(name: string): string {
  return BARE_VALUE_NAME.test(name) ? `%${name}` : `%${quote(name)}`;
}

/** A module or graph name after `@`. */
export function symbolName(name: string): string {
  return BARE_IDENTIFIER.test(name) ? `@${name}` : `@${quote(name)}`;
}

/** An op type or attribute name: bare when it is a plain identifier. */
export function identifier(name: string): string {
  return BARE_IDENTIFIER.test(name) ? name : quote(name);
}

function formatDims(dims: readonly Dim[]): string {
  return dims.map((d) => String(d)).join(", ");
}

export function formatType(type: TensorType): string {
  return `${type.dtype}[${type.shape === null ? "*" : formatDims(type.shape)}]`;
}

function special(value: number): string | undefined {
  if (Number.isNaN(value)) return "nan";
  if (value === Infinity) return "inf";
  if (value === -Infinity) return "-inf";
  if (Object.is(value, -0)) return "-0.0";
  return undefined;
}

/** JS's shortest text for a double, made to always read as a float. */
function withFloatMark(text: string): string {
  return /[.e]/.test(text) ? text : `${text}.0`;
}

export function formatFloat64(value: number): string {
  return special(value) ?? withFloatMark(String(value));
}

/**
 * The shortest decimal that rounds back to the same float32: `0.1` rather than
 * `0.10000000149011612`. Nine significant digits always suffice for float32.
 */
export function formatFloat32(value: number): string {
  const single = Math.fround(value);
  const named = special(single);
  if (named) return named;
  for (let digits = 1; digits < 9; digits++) {
    const candidate = Number(single.toPrecision(digits));
    if (Math.fround(candidate) === single) return withFloatMark(String(candidate));
  }
  return withFloatMark(String(Number(single.toPrecision(9))));
}

/** An integer held in a JS number, exactly (never in exponent form). */
export function formatInteger(value: number): string {
  if (!Number.isInteger(value)) throw new TierflowError(`integer value ${value} is not an integer`);
  return BigInt(value).toString();
}

function formatElement(dtype: DType, value: number | bigint): string {
  if (typeof value === "bigint") return value.toString();
  switch (dtype) {
    case "f64": return formatFloat64(value);
    case "f32": case "f16": case "bf16": return formatFloat32(value);
    case "bool": return value ? "1" : "0";
    default: return String(value);
  }
}

/** The `[v, v, ...]` part of a dense literal, row-major. */
export function formatDenseValues(tensor: Tensor): string {
  if (tensor.dtype === "str") throw new TierflowError("string tensors have no textual form");
  const parts = Array.from(tensor.data as ArrayLike<number | bigint>, (v) => formatElement(tensor.dtype, v));
  return `[${parts.join(", ")}]`;
}
