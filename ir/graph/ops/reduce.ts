// Reductions, TopK and ArgMax.

import type { OpDef, InferContext } from "../op-def.js";
import { fail } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import { mulDims } from "../../symbolic.js";
import { NUMERIC, checkDType, defineOp, hasInput, inputType, intAttr, intsAttr, knownDims, knownInts, normalizeAxis, numel } from "./util.js";
import type { Shape } from "./util.js";

/**
 * Reduced axes for Reduce* ops: attribute (older opsets) or input 1; undefined means all (or none).
 * "runtime" when input 1 is present but its values are not known before running.
 */
export function reduceAxes(ctx: Pick<InferContext, "attrs" | "inputs">, rank: number): number[] | undefined | "runtime" {
  const attr = intsAttr(ctx.attrs, "axes");
  if (attr) return attr.map((a) => normalizeAxis(a, rank));
  if (ctx.inputs[1] === undefined) return undefined;
  const fromInput = knownInts(ctx.inputs[1]);
  if (!fromInput) return "runtime";
  return fromInput.map((a) => normalizeAxis(a, rank));
}

/**
 * Output shape when the axes are only known at run time. keepdims keeps the rank (each dim is
 * itself or 1, so a fresh symbol unless it is 1); otherwise the rank is known only when the axes
 * tensor's length is, and an empty axes tensor means all axes (or none, with noop_with_empty_axes).
 */
function runtimeReducedShape(ctx: InferContext, shape: Shape, keepDims: boolean, noopWhenEmpty: boolean): Dim[] | null {
  const axesShape = ctx.inputs[1]?.type?.shape;
  const count = axesShape?.length === 1 && typeof axesShape[0] === "number" ? axesShape[0] : undefined;
  if (count === 0) return reducedShape(shape, [], keepDims, noopWhenEmpty);
  if (keepDims) return shape.map((d) => (d === 1 ? 1 : ctx.fresh("reduce")));
  if (count === undefined || count > shape.length) return null;
  return Array.from({ length: shape.length - count }, () => ctx.fresh("reduce"));
}

export function reducedShape(shape: Shape, axes: readonly number[] | undefined, keepDims: boolean, noopWhenEmpty: boolean): Dim[] {
  const all = axes === undefined || axes.length === 0;
  if (all && noopWhenEmpty) return [...shape];
  const reduced = (i: number) => all || axes!.includes(i);
  return keepDims ? shape.map((d, i) => (reduced(i) ? 1 : d)) : shape.filter((_, i) => !reduced(i));
}

function reduce(op: string): OpDef {
  return defineOp({
    op, doc: `${op}(data, axes?) with keepdims (default 1).`, inputs: [1, 2],
    attrs: { axes: { type: "ints" }, keepdims: { type: "int", default: 1 }, noop_with_empty_axes: { type: "int", default: 0 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data");
      checkDType(t.dtype, NUMERIC, "data");
      if (hasInput(ctx, 1)) checkDType(inputType(ctx, 1, "axes").dtype, ["i64"], "axes");
      if (!t.shape) return { types: [t] };
      const axes = reduceAxes(ctx, t.shape.length);
      const keepDims = intAttr(ctx.attrs, "keepdims", 1) === 1, noop = intAttr(ctx.attrs, "noop_with_empty_axes", 0) === 1;
      const shape = axes === "runtime" ? runtimeReducedShape(ctx, t.shape, keepDims, noop) : reducedShape(t.shape, axes, keepDims, noop);
      return { types: [{ dtype: t.dtype, shape }] };
    },
    cost: ([x]) => ({ flops: x?.shape ? numel(x.shape) : 0 }),
  });
}

export const REDUCE_OPS: readonly OpDef[] = [
  reduce("ReduceMean"),
  reduce("ReduceSum"),
  reduce("ReduceMax"),
  reduce("ReduceMin"),
  reduce("ReduceProd"),
  defineOp({
    op: "TopK", doc: "TopK(X, K) along axis: values and int64 indices, largest first by default.",
    inputs: [2, 2], outputs: [2, 2],
    attrs: { axis: { type: "int", default: -1 }, largest: { type: "int", default: 1 }, sorted: { type: "int", default: 1 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "X");
      checkDType(t.dtype, NUMERIC, "X");
      const kType = inputType(ctx, 1, "K");
      if (kType.dtype !== "i64") fail(`K has dtype ${kType.dtype}, expected i64`);
      if (!t.shape) return { types: [t, { dtype: "i64", shape: null }] };
      const axis = normalizeAxis(intAttr(ctx.attrs, "axis", -1), t.shape.length);
      const k = knownDims(ctx.inputs[1])?.[0] ?? ctx.fresh("topk");
      const axisDim = t.shape[axis]!;
      if (typeof k === "number" && typeof axisDim === "number" && k > axisDim) {
        fail(`TopK K=${k} exceeds the axis size ${axisDim}`);
      }
      const shape = t.shape.map((d, i) => (i === axis ? k : d));
      return { types: [{ dtype: t.dtype, shape }, { dtype: "i64", shape }] };
    },
    cost: ([x]) => ({ flops: x?.shape ? mulDims(2, numel(x.shape)) : 0 }),
  }),
  ...["ArgMax", "ArgMin"].map((op) => defineOp({
    op, doc: `${op}(data) along axis, as int64 indices.`, inputs: [1, 1],
    attrs: { axis: { type: "int", default: 0 }, keepdims: { type: "int", default: 1 }, select_last_index: { type: "int", default: 0 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "data");
      checkDType(t.dtype, NUMERIC, "data");
      if (!t.shape) return { types: [{ dtype: "i64", shape: null }] };
      const axis = normalizeAxis(intAttr(ctx.attrs, "axis", 0), t.shape.length);
      return { types: [{ dtype: "i64", shape: reducedShape(t.shape, [axis], intAttr(ctx.attrs, "keepdims", 1) === 1, false) }] };
    },
    cost: ([x]) => ({ flops: x?.shape ? numel(x.shape) : 0 }),
  })),
];
