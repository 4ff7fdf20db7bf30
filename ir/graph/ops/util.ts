// Helpers shared by op definitions: attribute access with defaults, input
// checks with precise messages, broadcasting and axis normalisation.

import type { Attrs, TensorType } from "../graph.js";
import type { InferContext, InferInput, OpDef } from "../op-def.js";
import type { DType } from "../../dtype.js";
import { FLOAT_DTYPES, NUMERIC_DTYPES, isInteger } from "../../dtype.js";
import { fail } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import { productOfDims } from "../../symbolic.js";
import type { Tensor } from "../../tensor.js";
import { valuesAsNumbers } from "../../tensor.js";

export type Shape = readonly Dim[];

export function intAttr(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name];
  return a?.type === "int" ? a.value : fallback;
}

export function floatAttr(attrs: Attrs, name: string, fallback: number): number {
  const a = attrs[name];
  return a?.type === "float" || a?.type === "int" ? a.value : fallback;
}

export function intsAttr(attrs: Attrs, name: string): readonly number[] | undefined {
  const a = attrs[name];
  return a?.type === "ints" ? a.value : undefined;
}

export function stringAttr(attrs: Attrs, name: string, fallback: string): string {
  const a = attrs[name];
  return a?.type === "string" ? a.value : fallback;
}

/** The type of input i, which must be present and typed. */
export function inputType(ctx: InferContext, i: number, what = `input ${i}`): TensorType {
  const t = ctx.inputs[i]?.type;
  if (!t) fail(`${what} has no known type`);
  return t;
}

export function inputShape(ctx: InferContext, i: number, what = `input ${i}`): Shape | null {
  return inputType(ctx, i, what).shape;
}

export function hasInput(ctx: InferContext, i: number): boolean {
  return ctx.inputs[i] !== undefined;
}

export function checkDType(dtype: DType, allowed: readonly DType[], what: string): void {
  if (!allowed.includes(dtype)) fail(`${what} has dtype ${dtype}, expected one of ${allowed.join(", ")}`);
}

export function checkSameDType(ctx: InferContext, indices: readonly number[]): DType {
  const first = inputType(ctx, indices[0]!).dtype;
  for (const i of indices.slice(1)) {
    if (!hasInput(ctx, i)) continue;
    const d = inputType(ctx, i).dtype;
    if (d !== first) fail(`input ${i} has dtype ${d} but input ${indices[0]} has ${first}`);
  }
  return first;
}

export const NUMERIC: readonly DType[] = NUMERIC_DTYPES.filter((d) => d !== "bool");
export const FLOATS: readonly DType[] = FLOAT_DTYPES;

/** Normalise a possibly negative axis against a rank, with a clear error. */
export function normalizeAxis(axis: number, rank: number, what = "axis"): number {
  if (axis < -rank || axis >= rank) fail(`${what} ${axis} is out of range for rank ${rank}`);
  return axis < 0 ? axis + rank : axis;
}

function isFresh(d: Dim): boolean {
  return typeof d === "string" && d.startsWith("unk");
}

/** Multidirectional (numpy) broadcasting of two shapes with symbolic dims. */
export function broadcastShapes(a: Shape, b: Shape): Shape {
  const rank = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)]!;
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)]!;
    if (da === db || db === 1) out.push(da);
    else if (da === 1) out.push(db);
    else if (typeof da === "number" && typeof db === "number") {
      fail(`shapes [${a.join(", ")}] and [${b.join(", ")}] cannot be broadcast`);
    } else if (typeof da === "number") out.push(da);
    else if (typeof db === "number") out.push(db);
    // Two different symbols: the program asserts they are equal; keep the one that names an input dim.
    else out.push(isFresh(da) && !isFresh(db) ? db : da);
  }
  return out;
}

/** Broadcast the shapes of the given inputs; null if any rank is unknown. */
export function broadcastInputs(ctx: InferContext, indices: readonly number[]): Shape | null {
  let shape: Shape = [];
  for (const i of indices) {
    if (!hasInput(ctx, i)) continue;
    const s = inputShape(ctx, i);
    if (s === null) return null;
    shape = broadcastShapes(shape, s);
  }
  return shape;
}

/** Concrete integer elements of an input, from a literal or from shape arithmetic. */
export function knownInts(input: InferInput | undefined): number[] | undefined {
  if (!input) return undefined;
  if (input.value) return integerValues(input.value);
  if (input.symbolic && input.symbolic.every((d) => typeof d === "number")) return input.symbolic as number[];
  return undefined;
}

/** Elements of an int input as dims (concrete or symbolic), if known. */
export function knownDims(input: InferInput | undefined): Dim[] | undefined {
  if (!input) return undefined;
  if (input.symbolic) return [...input.symbolic];
  if (input.value) return valuesAsNumbers(input.value);
  return undefined;
}

/** A literal that gives axes, split sizes or indices holds integers: a float one would give fractional axes, which match no axis. */
function integerValues(t: Tensor): number[] {
  if (!isInteger(t.dtype)) fail(`an input that gives axes, split sizes or indices holds ${t.dtype}, not integers`);
  return valuesAsNumbers(t);
}

/** A shape read from an input's values: a known dim must not be negative (or -1 would size nothing). */
export function checkShapeValues(dims: readonly Dim[], what: string): void {
  for (const d of dims) if (typeof d === "number" && (!Number.isSafeInteger(d) || d < 0)) fail(`${what} has a dim ${d}, not a non-negative integer`);
}

export function numel(shape: Shape): Dim {
  return productOfDims(shape);
}

export function tensorShape(t: Tensor): number[] {
  return [...t.dims];
}

/** Declare an op with sensible defaults for arity and attributes. */
export function defineOp(def: Partial<Pick<OpDef, "domain" | "attrs" | "cost">> &
  Pick<OpDef, "op" | "doc" | "infer"> & { inputs: [number, number]; outputs?: [number, number] }): OpDef {
  return {
    op: def.op,
    domain: def.domain ?? "",
    inputs: { min: def.inputs[0], max: def.inputs[1] },
    outputs: def.outputs ? { min: def.outputs[0], max: def.outputs[1] } : { min: 1, max: 1 },
    attrs: def.attrs ?? {},
    doc: def.doc,
    infer: def.infer,
    ...(def.cost ? { cost: def.cost } : {}),
  };
}

/** onnxruntime's contrib ops' domain. */
export const CONTRIB_DOMAIN = "com.microsoft";
