// Elementwise ops: unary math, binary arithmetic with broadcasting,
// comparisons, logic, Where, Clip and the hard activations.

import type { OpDef, InferContext, InferResult, SymbolicValue } from "../op-def.js";
import type { DType } from "../../dtype.js";
import { isFloat } from "../../dtype.js";
import { fail } from "../../diagnostics.js";
import type { Dim } from "../../symbolic.js";
import { addDims, divDimsExact, mulDims, subDims } from "../../symbolic.js";
import type { Tensor } from "../../tensor.js";
import { makeTensor } from "../../tensor.js";
import { binaryKernel, broadcastDims, broadcastIndex, isBigTensor, unaryKernel, variadicKernel } from "../kernels/broadcast.js";
import { castTensor } from "../kernels/cast.js";
import { erf, sigmoid } from "../kernels/math.js";
import {
  FLOATS, NUMERIC, broadcastInputs, checkDType, checkSameDType, defineOp, floatAttr, inputType, knownDims, numel,
} from "./util.js";

const SIGNED: readonly DType[] = NUMERIC.filter((d) => !d.startsWith("u"));
const BOOL: readonly DType[] = ["bool"];

const elementwiseCost = (_: unknown, outputs: readonly { shape: readonly Dim[] | null }[]) =>
  ({ flops: outputs[0]?.shape ? numel(outputs[0].shape) : 0 });

function unary(op: string, allowed: readonly DType[], f: (v: number) => number, fBig?: (v: bigint) => bigint,
  doc = `${op}(x) elementwise.`): OpDef {
  return defineOp({
    op, doc, inputs: [1, 1],
    infer(ctx) {
      const t = inputType(ctx, 0, "x");
      checkDType(t.dtype, allowed, "x");
      return { types: [t] };
    },
    kernel: ([x]) => [unaryKernel(x!, x!.dtype, f, fBig)],
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

function binary(op: string, allowed: readonly DType[], f: (a: number, b: number) => number,
  fBig: ((a: bigint, b: bigint) => bigint) | undefined, symbolic?: (a: Dim, b: Dim) => Dim | undefined): OpDef {
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
    kernel: ([a, b]) => [binaryKernel(a!, b!, a!.dtype, f, fBig)],
    cost: elementwiseCost,
  });
}

function compare(op: string, allowed: readonly DType[], f: (a: number, b: number) => boolean,
  fBig: (a: bigint, b: bigint) => boolean): OpDef {
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
    kernel: ([a, b]) => [binaryKernel(a!, b!, "bool", (x, y) => (f(x, y) ? 1 : 0), (x, y) => (fBig(x, y) ? 1 : 0))],
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

function variadic(op: string, f: (a: number, b: number) => number, fBig: (a: bigint, b: bigint) => bigint): OpDef {
  return defineOp({
    op, doc: `${op}(x0, x1, ...) elementwise with broadcasting.`, inputs: [1, Infinity],
    infer(ctx) {
      const indices = ctx.inputs.map((_, i) => i);
      const dtype = checkSameDType(ctx, indices);
      checkDType(dtype, NUMERIC, "x0");
      return { types: [{ dtype, shape: broadcastInputs(ctx, indices) }] };
    },
    kernel: (inputs) => [variadicKernel(inputs as Tensor[], f, fBig)],
    cost: elementwiseCost,
  });
}

const nanMax = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.max(a, b));
const nanMin = (a: number, b: number) => (Number.isNaN(a) || Number.isNaN(b) ? NaN : Math.min(a, b));
const intDiv = (a: number, b: number) => (b === 0 ? 0 : Math.trunc(a / b));

/** a ** b wrapped to 64 bits (by squaring, so huge exponents stay cheap); negative b truncates 1/a^|b| toward zero. */
function powBig(a: bigint, b: bigint): bigint {
  if (b < 0n) return a === 1n ? 1n : a === -1n ? (b % 2n === 0n ? 1n : -1n) : 0n;
  let r = 1n, x = a;
  for (let e = b; e > 0n; e >>= 1n) {
    if (e & 1n) r = BigInt.asIntN(64, r * x);
    x = BigInt.asIntN(64, x * x);
  }
  return r;
}

const asF64 = (t: Tensor): Tensor => ({ dtype: "f64", dims: t.dims, data: Float64Array.from(t.data as ArrayLike<number | bigint>, Number) });

function pow(base: Tensor, exponent: Tensor): Tensor {
  if (isBigTensor(base)) {
    // int64 bases stay exact in BigInt for integer exponents; a float exponent goes through f64.
    if (isFloat(exponent.dtype)) return castTensor(binaryKernel(asF64(base), exponent, "f64", (a, b) => a ** b), base.dtype);
    const e = isBigTensor(exponent) ? exponent : castTensor(exponent, "i64");
    return binaryKernel(base, e, base.dtype, () => NaN, powBig);
  }
  return binaryKernel(base, asF64(exponent), base.dtype, (a, b) => a ** b);
}

function where(cond: Tensor, x: Tensor, y: Tensor): Tensor {
  const dims = broadcastDims(broadcastDims(cond.dims, x.dims), y.dims);
  const out = makeTensor(x.dtype, dims);
  const ic = broadcastIndex(cond.dims, dims), ix = broadcastIndex(x.dims, dims), iy = broadcastIndex(y.dims, dims);
  const od = out.data as Float32Array, xd = x.data as Float32Array, yd = y.data as Float32Array;
  for (let i = 0; i < od.length; i++) {
    od[i] = cond.data[ic ? ic[i]! : i] ? xd[ix ? ix[i]! : i]! : yd[iy ? iy[i]! : i]!;
  }
  return out;
}

function clip(x: Tensor, lo: Tensor | undefined, hi: Tensor | undefined): Tensor {
  const min = lo ? lo.data[0]! : undefined;
  const max = hi ? hi.data[0]! : undefined;
  const f = (v: number) => {
    let r = v;
    if (min !== undefined && r < (min as number)) r = min as number;
    if (max !== undefined && r > (max as number)) r = max as number;
    return r;
  };
  const fb = (v: bigint) => {
    let r = v;
    if (min !== undefined && r < (min as bigint)) r = min as bigint;
    if (max !== undefined && r > (max as bigint)) r = max as bigint;
    return r;
  };
  return unaryKernel(x, x.dtype, f, fb);
}

export const ELEMENTWISE_OPS: readonly OpDef[] = [
  unary("Sqrt", FLOATS, Math.sqrt),
  unary("Reciprocal", FLOATS, (v) => 1 / v),
  unary("Exp", FLOATS, Math.exp),
  unary("Log", FLOATS, Math.log),
  unary("Erf", FLOATS, erf),
  unary("Tanh", FLOATS, Math.tanh),
  unary("Sigmoid", FLOATS, sigmoid),
  unary("Sin", FLOATS, Math.sin),
  unary("Cos", FLOATS, Math.cos),
  unary("Floor", FLOATS, Math.floor),
  unary("Ceil", FLOATS, Math.ceil),
  unary("Relu", SIGNED, (v) => (v > 0 ? v : v === 0 || v < 0 ? 0 : v), (v) => (v > 0n ? v : 0n)),
  unary("Neg", SIGNED, (v) => -v, (v) => -v),
  unary("Abs", NUMERIC, Math.abs, (v) => (v < 0n ? -v : v)),
  unary("Not", BOOL, (v) => (v ? 0 : 1)),
  defineOp({
    op: "HardSigmoid", doc: "max(0, min(1, alpha * x + beta)).", inputs: [1, 1],
    attrs: { alpha: { type: "float", default: 0.2 }, beta: { type: "float", default: 0.5 } },
    infer(ctx) {
      const t = inputType(ctx, 0, "x");
      checkDType(t.dtype, FLOATS, "x");
      return { types: [t] };
    },
    kernel: ([x], { attrs }) => {
      const alpha = floatAttr(attrs, "alpha", 0.2), beta = floatAttr(attrs, "beta", 0.5);
      return [unaryKernel(x!, x!.dtype, (v) => Math.max(0, Math.min(1, alpha * v + beta)))];
    },
    cost: elementwiseCost,
  }),
  unary("HardSwish", FLOATS, (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5)), undefined,
    "x * max(0, min(1, x / 6 + 1/2))."),
  binary("Add", NUMERIC, (a, b) => a + b, (a, b) => a + b, addDims),
  binary("Sub", NUMERIC, (a, b) => a - b, (a, b) => a - b, subDims),
  binary("Mul", NUMERIC, (a, b) => a * b, (a, b) => a * b, mulDims),
  binary("Div", NUMERIC, (a, b) => a / b, (a, b) => (b === 0n ? 0n : a / b), (a, b) => divDimsExact(a, b)),
  defineOp({
    op: "Pow", doc: "Pow(x, y): x raised to y, with broadcasting; y may have another numeric dtype.",
    inputs: [2, 2],
    infer(ctx) {
      const x = inputType(ctx, 0, "x"), y = inputType(ctx, 1, "y");
      checkDType(x.dtype, NUMERIC, "x");
      checkDType(y.dtype, NUMERIC, "y");
      return { types: [{ dtype: x.dtype, shape: broadcastInputs(ctx, [0, 1]) }] };
    },
    kernel: ([x, y]) => [pow(x!, y!)],
    cost: elementwiseCost,
  }),
  variadic("Max", nanMax, (a, b) => (a > b ? a : b)),
  variadic("Min", nanMin, (a, b) => (a < b ? a : b)),
  variadic("Sum", (a, b) => a + b, (a, b) => a + b),
  compare("Equal", [...NUMERIC, "bool"], (a, b) => a === b, (a, b) => a === b),
  compare("Less", NUMERIC, (a, b) => a < b, (a, b) => a < b),
  compare("LessOrEqual", NUMERIC, (a, b) => a <= b, (a, b) => a <= b),
  compare("Greater", NUMERIC, (a, b) => a > b, (a, b) => a > b),
  compare("GreaterOrEqual", NUMERIC, (a, b) => a >= b, (a, b) => a >= b),
  compare("And", BOOL, (a, b) => !!a && !!b, () => fail("And takes bool")),
  compare("Or", BOOL, (a, b) => !!a || !!b, () => fail("Or takes bool")),
  compare("Xor", BOOL, (a, b) => !!a !== !!b, () => fail("Xor takes bool")),
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
    kernel: ([c, x, y]) => [where(c!, x!, y!)],
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
    kernel: ([x, lo, hi]) => [clip(x!, lo, hi)],
    cost: elementwiseCost,
  }),
];
