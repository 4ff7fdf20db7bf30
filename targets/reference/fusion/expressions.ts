// Fusions matched as expressions: the activation patterns
// (targets/reference/kernels/activation-patterns.ts) and the rotary embedding.

import type { Tensor } from "../../../ir/tensor.js";
import { intAttr, normalizeAxis } from "../../../ir/graph/ops/util.js";
import { ACTIVATIONS } from "../kernels/activation-patterns.js";
import type { Expr } from "../kernels/activation-patterns.js";
import { runActivation } from "../kernels/activation.js";
import { rotateHalf } from "../kernels/rotary.js";
import type { Fusion } from "./match.js";
import { expressionFusion } from "./match.js";

export const activations: Fusion[] = ACTIVATIONS.map((pattern) => expressionFusion(`activation-${pattern.name}`, pattern.expr,
  [...pattern.inputs, ...pattern.constants], pattern.name,
  (byName) => runActivation(pattern, pattern.inputs.map((n) => byName.get(n)!), pattern.constants.map((n) => byName.get(n)!))));

/**
 * Rotary position embedding, rotate-half form, as Llama-family exports write it: x * cos +
 * concat(-x2, x1) * sin, x2 and x1 Slices of x's last axis (their bounds, and Concat's axis,
 * checked when run).
 */
const ROTARY: Expr = ["Add", ["Mul", "x", "cos"], ["Mul", ["Concat",
  ["Neg", ["Slice", "x", "x2Start", "x2End", "x2Axes", "x2Steps"]], ["Slice", "x", "x1Start", "x1End", "x1Axes", "x1Steps"]], "sin"]];
const ROTARY_NAMES = ["x", "cos", "sin", "x2Start", "x2End", "x2Axes", "x2Steps", "x1Start", "x1End", "x1Axes", "x1Steps"];

/** [start, end) of a step-1 Slice of the last axis of `dims`, from its one-value parameter tensors; undefined otherwise. */
function lastAxisSlice(dims: readonly number[], starts: Tensor, ends: Tensor, axes: Tensor, steps: Tensor): [number, number] | undefined {
  const one = (t: Tensor) => (t.data.length === 1 ? Number(t.data[0]) : NaN);
  const rank = dims.length, d = dims[rank - 1]!;
  if (one(steps) !== 1 || !(one(axes) === -1 || one(axes) === rank - 1)) return undefined;
  const at = (v: number) => Math.min(d, Math.max(0, v < 0 ? v + d : v));
  return [at(one(starts)), at(one(ends))];
}

export const rotary = expressionFusion("rotary", ROTARY, ROTARY_NAMES, "Rotary", (v, steps) => {
  const x = v.get("x")!, rank = x.dims.length, half = (x.dims[rank - 1] ?? 0) / 2;
  const concat = steps.find((s) => s.node.op === "Concat")!;
  if (rank === 0 || normalizeAxis(intAttr(concat.ctx.attrs, "axis", 0), rank) !== rank - 1) return undefined;
  const x2 = lastAxisSlice(x.dims, v.get("x2Start")!, v.get("x2End")!, v.get("x2Axes")!, v.get("x2Steps")!);
  const x1 = lastAxisSlice(x.dims, v.get("x1Start")!, v.get("x1End")!, v.get("x1Axes")!, v.get("x1Steps")!);
  if (x2?.[0] !== half || x2[1] !== 2 * half || x1?.[0] !== 0 || x1[1] !== half) return undefined;
  return rotateHalf(x, v.get("cos")!, v.get("sin")!);
});
