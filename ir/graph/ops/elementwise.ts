// Elementwise ops: unary math, binary arithmetic with broadcasting,
// comparisons, logic, Where, Clip and the hard activations.

import type { OpDef, InferContext, InferResult, SymbolicValue } from "../op-def.js";
import type { DType } from "../../dtype.js";
import { fail } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import { addDims, divDimsExact, mulDims, subDims } from "../../symbolic.js";
import {
  FLOATS, NUMERIC, broadcastInputs, checkDType, checkSameDType, defineOp, inputType, knownDims, numel,
} from "./util.js";

const SIGNED: readonly DType[] = NUMERIC.filter((d) => !d.startsWith("u"));
const BOOL: readonly DType[] = ["bool"];

const elementwiseCost = (_: unknown, outputs: readonly { shape: readonly Dim[] | null }[]) =>
  ({ flops: outputs[0]?.shape ? numel(outputs[0].shape) : 0 });

function unary(op: string, allowed: readonly DType[], doc = `${op}(x) elementwise.`): OpDef {
  return defineOp({
    op, doc, inputs: [1, 1],
    infer(ctx) {
      const t = inputType(ctx, 0, "x");
      checkDType(t.dtype, allowed, "x");
      return { types: [t] };
    },
    cost: elementwiseCost,
  });
}

/** Shape arithmetic on rank <= 1 int tensors: the elementwise op applied to dims. */
function symbolicBinary(ctx: InferContext, f: (a: Dim, b: Dim) => Dim | undefined): SymbolicValue | undefined {
  const a = knownDims(ctx.inputs[0]), b = knownDims(ctx.inputs[1]);
  if (!a || !b || a.length > 1 && b.length > 1 && a.length !== b.length) return undefined;
  const n = Math.max(a.length, b.length);
  const out: Dim[] = [];
  for (let i = 0; i < n; i++) {
    const r = f(a[a.length === 1 ? 0 : i]!, b[b.length === 1 ? 0 : i]!);
    if (r === undefined) return undefined;
    out.push(r);
  }
  return out;
}

function binary(op: string, allowed: readonly DType[], symbolic?: (a: Dim, b: Dim) => Dim | undefined): OpDef {
  return defineOp({
    op, doc: `${op}(a, b) elementwise with numpy broadcasting.`, inputs: [2, 2],
    infer(ctx): InferResult {
      const dtype = checkSameDType(ctx, [0, 1]);
      checkDType(dtype, allowed, "a");
      const shape = broadcastInputs(ctx, [0, 1]);
      const sym = symbolic && (dtype === "i64" || dtype === "i32") && shape && shape.length <= 1
        ? symbolicBinary(ctx, symbolic) : undefined;
      return { types: [{ dtype, shape }], symbolic: [sym] };
    },
    cost: elementwiseCost,
  });
}

function compare(op: string, allowed: readonly DType[]): OpDef {
  return defineOp({
    op, doc: `${op}(a, b) -> bool, elementwise with broadcasting.`, inputs: [2, 2],
    infer(ctx) {
      const dtype = checkSameDType(ctx, [0, 1]);
      checkDType(dtype, allowed, "a");
      const shape = broadcastInputs(ctx, [0, 1]);
      const sym = op === "Equal" && shape && shape.length <= 1
        ? symbolicBinary(ctx, dimsEqual)
        : undefined;
      return { types: [{ dtype: "bool", shape }], symbolic: [sym] };
    },
    cost: elementwiseCost,
  });
}

/** Equality of two dims: known when equal, both numbers, or a dim against a negative number (dims are >= 0). */
function dimsEqual(a: Dim, b: Dim): Dim | undefined {
  if (a === b) return 1;
  if (typeof a === "number" && typeof b === "number") return 0;
  if ((typeof a === "number" && a < 0) || (typeof b === "number" && b < 0)) return 0;
  return undefined;
}

function variadic(op: string): OpDef {
  return defineOp({
    op, doc: `${op}(x0, x1, ...) elementwise with broadcasting.`, inputs: [1, Infinity],
    infer(ctx) {
      const indices = ctx.inputs.map((_, i) => i);
      const dtype = checkSameDType(ctx, indices);
      checkDType(dtype, NUMERIC, "x0");
      return { types: [{ dtype, shape: broadcastInputs(ctx, indices) }] };
    },
    cost: elementwiseCost,
  });
}

export const ELEMENTWISE_OPS: readonly OpDef[] = [
  unary("Sqrt", FLOATS),
  unary("Reciprocal", FLOATS),
  unary("Exp", FLOATS),
  unary("Log", FLOATS),
  unary("Erf", FLOATS),
  unary("Tanh", FLOATS),
  unary("Sigmoid", FLOATS),
  unary("Sin", FLOATS),
  unary("Cos", FLOATS),
  unary("Floor", FLOATS),
  unary("Ceil", FLOATS),
  unary("Relu", SIGNED),
  unary("Neg", SIGNED),
  unary("Abs", NUMERIC),
  unary("Not", BOOL),
  defineOp({
    op: "HardSigmoid", doc: "max(0, min(1, alpha * x + beta)).", inputs: [1, 1],
    attrs: { alpha: { type: "float", default: 0.2 }, beta: { type: "float", default: 0.5 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "x");
      checkDType(t.dtype, FLOATS, "x");
      return { types: [t] };
    },
    cost: elementwiseCost,
  }),
  unary("HardSwish", FLOATS, "x * max(0, min(1, x / 6 + 1/2))."),
  binary("Add", NUMERIC, addDims),
  binary("Sub", NUMERIC, subDims),
  binary("Mul", NUMERIC, mulDims),
  binary("Div", NUMERIC, (a, b) => divDimsExact(a, b)),
  defineOp({
    op: "Pow", doc: "Pow(x, y): x raised to y, with broadcasting; y may have another numeric dtype.",
    inputs: [2, 2],
    infer(ctx) {
      const x = inputType(ctx, 0, "x"), y = inputType(ctx, 1, "y");
      checkDType(x.dtype, NUMERIC, "x");
      checkDType(y.dtype, NUMERIC, "y");
      return { types: [{ dtype: x.dtype, shape: broadcastInputs(ctx, [0, 1]) }] };
    },
    cost: elementwiseCost,
  }),
  variadic("Max"),
  variadic("Min"),
  variadic("Sum"),
  compare("Equal", [...NUMERIC, "bool"]),
  compare("Less", NUMERIC),
  compare("LessOrEqual", NUMERIC),
  compare("Greater", NUMERIC),
  compare("GreaterOrEqual", NUMERIC),
  compare("And", BOOL),
  compare("Or", BOOL),
  compare("Xor", BOOL),
  defineOp({
    op: "Where", doc: "Where(cond, x, y): x where cond else y, with broadcasting.", inputs: [3, 3],
    infer(ctx) {
      checkDType(inputType(ctx, 0, "condition").dtype, BOOL, "condition");
      const dtype = checkSameDType(ctx, [1, 2]);
      const shape = broadcastInputs(ctx, [0, 1, 2]);
      let sym: SymbolicValue | undefined;
      const c = knownDims(ctx.inputs[0]), x = knownDims(ctx.inputs[1]), y = knownDims(ctx.inputs[2]);
      if (shape && shape.length <= 1 && typeof shape[0] !== "string" && c && x && y &&
        c.every((v) => typeof v === "number")) {
        const n = (shape[0] ?? 1) as number;
        const pick = (a: Dim[], i: number) => a[a.length === 1 ? 0 : i]!;
        sym = Array.from({ length: n }, (_, i) => (pick(c, i) ? pick(x, i) : pick(y, i)));
      }
      return { types: [{ dtype, shape }], symbolic: [sym] };
    },
    cost: elementwiseCost,
  }),
  defineOp({
    op: "Clip", doc: "Clip(x, min?, max?): x limited to [min, max].", inputs: [1, 3],
    infer(ctx) {
      const t = inputType(ctx, 0, "x");
      checkDType(t.dtype, NUMERIC, "x");
      for (const i of [1, 2]) {
        const bound = ctx.inputs[i]?.type;
        if (bound && bound.dtype !== t.dtype) fail(`Clip bound ${i} has dtype ${bound.dtype}, x has ${t.dtype}`);
        if (bound?.shape && bound.shape.length !== 0) fail(`Clip bound ${i} must be a scalar`);
      }
      return { types: [t] };
    },
    cost: elementwiseCost,
  }),
];
