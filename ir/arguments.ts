// Arguments of the library's public functions, checked where they enter: a
// wrong type or range is a TierflowError naming the function and the argument,
// never a TypeError from deep inside, and never a wrong value silently taken
// (a Promise not awaited, a count of -1). Keys an options object has beyond
// those the function takes are left alone: TypeScript lets a wider object
// stand for an options type.

import { fail } from "./diagnostics.js";
import { DTYPES } from "./dtype.js";

/** What an argument must be, in words, and the test. */
export interface Check {
  readonly what: string;
  readonly ok: (value: unknown) => boolean;
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

const isCount = (v: unknown, min: number) => typeof v === "number" && Number.isSafeInteger(v) && v >= min;

export const STRING: Check = { what: "a non-empty string", ok: (v) => typeof v === "string" && v !== "" };
export const BOOLEAN: Check = { what: "true or false", ok: (v) => typeof v === "boolean" };
export const FUNCTION: Check = { what: "a function", ok: (v) => typeof v === "function" };
export const OBJECT: Check = { what: "an object", ok: isObject };
export const POSITIVE_INTEGER: Check = { what: "a positive integer", ok: (v) => isCount(v, 1) };
export const COUNT: Check = { what: "a whole number >= 0", ok: (v) => isCount(v, 0) };
export const NUMBER: Check = { what: "a finite number", ok: (v) => typeof v === "number" && Number.isFinite(v) };
export const POSITIVE_NUMBER: Check = { what: "a finite number > 0", ok: (v) => typeof v === "number" && Number.isFinite(v) && v > 0 };
export const DTYPE: Check = { what: "a dtype name (f32, i64, ...)", ok: (v) => typeof v === "string" && Object.hasOwn(DTYPES, v) };

export function oneOf(values: readonly unknown[]): Check {
  return { what: `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`, ok: (v) => values.includes(v) };
}

export function either(...checks: readonly Check[]): Check {
  return { what: checks.map((c) => c.what).join(" or "), ok: (v) => checks.some((c) => c.ok(v)) };
}

export function arrayOf(item: Check): Check {
  return { what: `an array, each ${item.what}`, ok: (v) => Array.isArray(v) && v.every((x) => item.ok(x)) };
}

export function mapOf(item: Check): Check {
  return { what: `a Map of names to ${item.what}`, ok: (v) => v instanceof Map && [...v].every(([k, x]) => typeof k === "string" && item.ok(x)) };
}

/** A tensor: a known dtype, whole non-negative dims and a typed array of their product's length. */
export const TENSOR: Check = {
  what: "a tensor ({dtype, dims, data} with data a typed array of the dims' element count)",
  ok(v) {
    if (!isObject(v) || !DTYPE.ok(v.dtype) || !Array.isArray(v.dims) || !v.dims.every((d) => isCount(d, 0))) return false;
    const count = (v.dims as number[]).reduce((a, b) => a * b, 1);
    return ArrayBuffer.isView(v.data) && !(v.data instanceof DataView) && (v.data as unknown as { length: number }).length === count;
  },
};

/** A graph-level Module, as loadModel's `module` or readModule gives it. */
export const MODULE: Check = {
  what: "a Module (loadModel(...).module or readModule(...))",
  ok: (v) => isObject(v) && Array.isArray(v.graphs) && v.graphs.length > 0 && isObject(v.opsets),
};

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value instanceof Promise) return "a Promise (await it first)";
  switch (typeof value) {
    case "string": return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
    case "number": case "boolean": case "bigint": return String(value);
    case "undefined": return "undefined";
    case "function": return "a function";
    case "symbol": return "a symbol";
    default: return value instanceof Map ? "a Map" : "an object";
  }
}

export function checkArg(fn: string, name: string, value: unknown, check: Check): void {
  if (!check.ok(value)) fail(`${fn}: ${name} must be ${check.what}, got ${describe(value)}`);
}

/** Inputs by name: an object whose every own value is a tensor. */
export function checkTensors(fn: string, name: string, value: unknown): void {
  checkArg(fn, name, value, OBJECT);
  for (const [key, t] of Object.entries(value as object)) checkArg(fn, `${name}[${JSON.stringify(key)}]`, t, TENSOR);
}

/** An options object: each key the function takes checked when given (and not undefined), `required` keys present. */
export function checkOptions(fn: string, name: string, value: unknown, spec: Readonly<Record<string, Check>>, required: readonly string[] = []): void {
  if (value === undefined && required.length === 0) return;
  checkArg(fn, name, value, OBJECT);
  const options = value as Record<string, unknown>;
  for (const [key, check] of Object.entries(spec)) {
    const v = Object.hasOwn(options, key) ? options[key] : undefined;
    if (v !== undefined) checkArg(fn, `${name}.${key}`, v, check);
  }
  for (const key of required) if (options[key] === undefined) fail(`${fn}: ${name}.${key} is required`);
}
