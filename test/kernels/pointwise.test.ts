// Kernel tests for the fast paths of the elementwise, cast, layout, reduction
// and softmax kernels. Each fast path is checked, data-driven, against a plain
// reference written here (one closure per element over index arithmetic, the
// general path the kernels had before): same shape, scalars on either side,
// row and column vectors, leading-axis and two-sided broadcasts, many outer axes,
// zero-size tensors, int64 extremes, NaN, infinities and -0. Exact equality
// (Object.is) unless a case says otherwise.

import { describe, expect, it } from "vitest";
import { lookupOp } from "../../ir/graph/ops.js";
import { lookupKernel } from "../../targets/reference/kernel-table.js";
import type { DType } from "../../ir/dtype.js";
import { DTYPES } from "../../ir/dtype.js";
import type { Tensor, TensorData } from "../../ir/tensor.js";
import { allocate, makeTensor, tensorFromValues } from "../../ir/tensor.js";
import { broadcastDims } from "../../targets/reference/kernels/broadcast.js";
import { castValue } from "../../targets/reference/kernels/cast.js";
import { erf, fastExp, fastSigmoid, fastTanh, sigmoid } from "../../targets/reference/kernels/math.js";
import { decompositionKernel } from "../../targets/reference/op-kernels/decomposition.js";
import { toAttrs } from "../support/attrs.js";

type Value = number | bigint;


function run(op: string, inputs: (Tensor | undefined)[], attrs: Record<string, number | number[] | string> = {}, outputCount = 1,
  domain = ""): Tensor[] {
  return lookupKernel(domain, op)!(inputs, { attrs: toAttrs(attrs), opset: domain === "" ? 18 : 20, outputCount });
}

/** Deterministic values for a dtype, with the awkward ones (NaN, -0, infinities, int extremes) mixed in. */
function sample(dtype: DType, count: number, seed: number): Value[] {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const special: Record<string, Value[]> = {
    f32: [NaN, -0, 0, Infinity, -Infinity, 1, -1, 0.5, 3],
    f64: [NaN, -0, 0, Infinity, -Infinity, 1e300, -1e-300, 2],
    i32: [0, 1, -1, 2 ** 31 - 1, -(2 ** 31), 7, -7],
    u8: [0, 1, 255, 128, 2],
    bool: [0, 1],
    i64: [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 32n, 2n ** 32n + 1n, -(2n ** 32n), 4294967295n, -4294967296n, 5n, -5n],
    u64: [0n, 1n, 2n ** 64n - 1n, 2n ** 63n, 2n ** 32n, 4294967295n, 7n],
  };
  return Array.from({ length: count }, (_, i) => {
    const pick = special[dtype];
    if (pick && next() < 0.3) return pick[Math.floor(next() * pick.length)]!;
    const r = next();
    switch (dtype) {
      case "f32": case "f64": case "f16": case "bf16": return (r - 0.5) * 20;
      case "i64": return BigInt(Math.floor((r - 0.5) * 2 ** 40)) * (i % 3 === 0 ? 4097n : 1n);
      case "u64": return BigInt(Math.floor(r * 2 ** 40)) * (i % 3 === 0 ? 4097n : 1n);
      case "bool": return r < 0.5 ? 0 : 1;
      case "u8": return Math.floor(r * 256);
      default: return Math.floor((r - 0.5) * 200);
    }
  });
}

const values = (t: Tensor): Value[] => Array.from(t.data as ArrayLike<Value>);

const tensor = (dtype: DType, dims: number[], seed: number) =>
  tensorFromValues(dtype, dims, sample(dtype, dims.reduce((p, d) => p * d, 1), seed));

function stridesOf(dims: readonly number[]): number[] {
  const st: number[] = [];
  let s = 1;
  for (let i = dims.length - 1; i >= 0; i--) {
    st[i] = s;
    s *= dims[i]!;
  }
  return st;
}

/** Flat index into a tensor of `dims` of the output element at `flat` (numpy broadcasting to `out`). */
function sourceIndex(dims: readonly number[], out: readonly number[], flat: number): number {
  const os = stridesOf(out), is = stridesOf(dims), skip = out.length - dims.length;
  let src = 0, rem = flat;
  for (let a = 0; a < out.length; a++) {
    const c = Math.floor(rem / os[a]!);
    rem -= c * os[a]!;
    if (a >= skip && dims[a - skip] !== 1) src += c * is[a - skip]!;
  }
  return src;
}

function expectSame(actual: Tensor, expected: Tensor, what = ""): void {
  expect(actual.dtype, what).toBe(expected.dtype);
  expect(actual.dims, what).toEqual(expected.dims);
  expect(actual.data.constructor, what).toBe(expected.data.constructor);
  const a = actual.data, e = expected.data;
  expect(a.length, what).toBe(e.length);
  for (let i = 0; i < e.length; i++) {
    if (!Object.is(a[i], e[i])) expect(`${what} element ${i}: ${a[i]}`).toBe(`${what} element ${i}: ${e[i]}`);
  }
}

/** Within `ulps` float32 units in the last place (NaN, infinities and signs exact). */
function expectNearF32(actual: Tensor, expected: Tensor, ulps: number, what = ""): void {
  expect(actual.dims, what).toEqual(expected.dims);
  const a = actual.data as Float32Array, e = expected.data as Float32Array;
  for (let i = 0; i < e.length; i++) {
    const x = a[i]!, y = e[i]!;
    if (Object.is(x, y)) continue;
    const ulp = Math.max(2 ** -149, 2 ** (Math.floor(Math.log2(Math.abs(y))) - 23));
    if (!(Number.isFinite(y) && Math.abs(x - y) <= ulps * ulp)) expect(`${what} element ${i}: ${x}`).toBe(`${what} element ${i}: ${y}`);
  }
}

// ---------------------------------------------------------------- binary ops

type Ref = (x: Value, y: Value) => Value;
const num = (f: (x: number, y: number) => number | boolean): Ref => (x, y) => {
  const r = f(x as number, y as number);
  return typeof r === "boolean" ? (r ? 1 : 0) : r;
};
const big = (f: (x: bigint, y: bigint) => bigint | boolean): Ref => (x, y) => {
  const r = f(x as bigint, y as bigint);
  return typeof r === "boolean" ? (r ? 1 : 0) : r;
};

/** The ops' meanings, one closure per element, as the kernels defined them before the specialised loops. */
const BINARY_REFS: Record<string, { num: Ref; big?: Ref; bool?: boolean }> = {
  Add: { num: num((x, y) => x + y), big: big((x, y) => x + y) },
  Sub: { num: num((x, y) => x - y), big: big((x, y) => x - y) },
  Mul: { num: num((x, y) => x * y), big: big((x, y) => x * y) },
  Div: { num: num((x, y) => x / y), big: big((x, y) => (y === 0n ? 0n : x / y)) },
  Max: { num: num((x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.max(x, y))), big: big((x, y) => (x > y ? x : y)) },
  Min: { num: num((x, y) => (Number.isNaN(x) || Number.isNaN(y) ? NaN : Math.min(x, y))), big: big((x, y) => (x < y ? x : y)) },
  Equal: { num: num((x, y) => x === y), big: big((x, y) => x === y), bool: true },
  Less: { num: num((x, y) => x < y), big: big((x, y) => x < y), bool: true },
  LessOrEqual: { num: num((x, y) => x <= y), big: big((x, y) => x <= y), bool: true },
  Greater: { num: num((x, y) => x > y), big: big((x, y) => x > y), bool: true },
  GreaterOrEqual: { num: num((x, y) => x >= y), big: big((x, y) => x >= y), bool: true },
  And: { num: num((x, y) => !!x && !!y), bool: true },
  Or: { num: num((x, y) => !!x || !!y), bool: true },
  Xor: { num: num((x, y) => !!x !== !!y), bool: true },
};

function referenceBinary(a: Tensor, b: Tensor, outDType: DType, f: Ref): Tensor {
  const dims = broadcastDims(a.dims, b.dims);
  const out = makeTensor(outDType, dims);
  const od = out.data as unknown as Value[];
  for (let i = 0; i < out.data.length; i++) {
    od[i] = f(a.data[sourceIndex(a.dims, dims, i)]!, b.data[sourceIndex(b.dims, dims, i)]!);
  }
  return out;
}

/** Shape pairs for each fast path and the general one. */
const SHAPES: [string, number[], number[]][] = [
  ["same shape", [2, 3, 4], [2, 3, 4]],
  ["scalar right", [2, 3, 4], []],
  ["scalar left", [], [2, 3, 4]],
  ["one-element right", [3, 5], [1, 1]],
  ["both scalars", [], []],
  ["row vector (bias)", [2, 3, 4], [4]],
  ["row vector left", [4], [3, 4]],
  ["column (per-row scale)", [2, 3, 4], [2, 3, 1]],
  ["per-channel [C,1,1]", [2, 3, 2, 2], [3, 1, 1]],
  ["leading axes", [2, 3, 4], [3, 4]],
  ["middle axis", [2, 3, 4], [2, 1, 4]],
  ["both sides broadcast", [3, 1], [1, 4]],
  ["both sides, rank 3", [2, 1, 4], [1, 3, 1]],
  ["short inner run", [5, 2], [5, 1]],
  ["many outer axes", [2, 1, 3, 1, 2, 2], [1, 2, 1, 2, 1, 2]],
  ["zero-size", [0, 3], [3]],
  ["zero-size broadcast", [2, 0], [2, 1]],
];

const BINARY_DTYPES: Record<string, DType[]> = {
  Add: ["f32", "f64", "i32", "u8", "i64", "u64"],
  Sub: ["f32", "i32", "i64"],
  Mul: ["f32", "f64", "i32", "i64"],
  Div: ["f32", "f64", "i32", "i64"],
  Max: ["f32", "f64", "i32", "i64"],
  Min: ["f32", "i64"],
  Equal: ["f32", "i32", "i64", "u64", "bool"],
  Less: ["f32", "i32", "i64", "u64"],
  LessOrEqual: ["f32", "i64", "u64"],
  Greater: ["f64", "i64", "u64"],
  GreaterOrEqual: ["f32", "i64", "u64"],
  And: ["bool"],
  Or: ["bool"],
  Xor: ["bool"],
};

describe("binary elementwise kernels match the per-element reference", () => {
  for (const [op, dtypes] of Object.entries(BINARY_DTYPES)) {
    for (const dtype of dtypes) {
      it(`${op} ${dtype}`, () => {
        const ref = BINARY_REFS[op]!;
        const f = dtype === "i64" || dtype === "u64" ? ref.big! : ref.num;
        SHAPES.forEach(([name, da, db], k) => {
          const a = tensor(dtype, da, 17 * k + 1), b = tensor(dtype, db, 31 * k + 7);
          const [got] = run(op, [a, b]);
          expectSame(got!, referenceBinary(a, b, ref.bool ? "bool" : dtype, f), `${op} ${dtype} ${name}`);
        });
      });
    }
  }

  it("int64 comparisons are exact where the high or low 32-bit words alone decide", () => {
    const edges = [-(2n ** 63n), -(2n ** 32n) - 1n, -(2n ** 32n), -1n, 0n, 1n, 4294967295n, 2n ** 32n, 2n ** 32n + 1n, 2n ** 63n - 1n];
    const a = tensorFromValues("i64", [edges.length, 1], edges), b = tensorFromValues("i64", [1, edges.length], edges);
    for (const op of ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]) {
      expectSame(run(op, [a, b])[0]!, referenceBinary(a, b, "bool", BINARY_REFS[op]!.big!), op);
    }
    const u = [0n, 1n, 4294967295n, 2n ** 32n, 2n ** 63n, 2n ** 64n - 1n];
    const ua = tensorFromValues("u64", [u.length, 1], u), ub = tensorFromValues("u64", [1, u.length], u);
    for (const op of ["Equal", "Less", "GreaterOrEqual"]) expectSame(run(op, [ua, ub])[0]!, referenceBinary(ua, ub, "bool", BINARY_REFS[op]!.big!), op);
  });

  it("int64 arithmetic wraps at 64 bits and Div by zero gives 0", () => {
    const a = tensorFromValues("i64", [3], [2n ** 63n - 1n, -(2n ** 63n), 7n]), b = tensorFromValues("i64", [3], [1n, -1n, 0n]);
    expect(Array.from(run("Add", [a, b])[0]!.data as BigInt64Array)).toEqual([-(2n ** 63n), 2n ** 63n - 1n, 7n]);
    expect(Array.from(run("Div", [a, b])[0]!.data as BigInt64Array)).toEqual([2n ** 63n - 1n, -(2n ** 63n), 0n]);
  });

  it("variadic Sum, Max and Min fold pairwise with broadcasting", () => {
    const x = tensor("f32", [2, 3], 1), y = tensor("f32", [3], 2), z = tensor("f32", [2, 1], 3);
    const sum = referenceBinary(referenceBinary(x, y, "f32", BINARY_REFS["Add"]!.num), z, "f32", BINARY_REFS["Add"]!.num);
    expectSame(run("Sum", [x, y, z])[0]!, sum);
    const max = referenceBinary(referenceBinary(x, y, "f32", BINARY_REFS["Max"]!.num), z, "f32", BINARY_REFS["Max"]!.num);
    expectSame(run("Max", [x, y, z])[0]!, max);
    expectSame(run("Min", [x])[0]!, x);
  });

  it("logic ops refuse int64 storage", () => {
    expect(() => run("And", [tensorFromValues("i64", [1], [1n]), tensorFromValues("i64", [1], [1n])])).toThrow(/not defined for i64/);
  });
});

describe("Pow", () => {
  const pow = num((x, y) => x ** y);
  for (const [name, base, exponent] of [
    ["scalar 2 (multiplies)", tensor("f32", [3, 4], 1), tensorFromValues("f32", [], [2])],
    ["scalar 3 (multiplies)", tensor("f32", [3, 4], 2), tensorFromValues("f32", [1], [3])],
    ["scalar 2 in f64", tensor("f64", [3, 4], 3), tensorFromValues("f64", [], [2])],
    ["scalar 0.5", tensor("f32", [3, 4], 4), tensorFromValues("f32", [], [0.5])],
    ["broadcast exponent", tensor("f32", [3, 4], 5), tensorFromValues("f32", [4], [2, 3, -1, 0.5])],
    ["int32 exponent", tensor("f32", [3, 4], 6), tensorFromValues("i32", [], [2])],
  ] as const) {
    it(name, () => {
      // x * x and x * x * x are the correctly rounded square and cube, so they equal x ** 2 and x ** 3 after rounding to float32.
      expectSame(run("Pow", [base, exponent])[0]!, referenceBinary(base, exponent, base.dtype, pow), name);
    });
  }

  it("int64 stays exact", () => {
    const base = tensorFromValues("i64", [4], [3n, -2n, 2n, 5n]), e = tensorFromValues("i64", [4], [40n, 3n, 64n, -1n]);
    expect(Array.from(run("Pow", [base, e])[0]!.data as BigInt64Array)).toEqual([BigInt.asIntN(64, 3n ** 40n), -8n, 0n, 0n]);
    const f = run("Pow", [tensorFromValues("i64", [2], [4n, 9n]), tensorFromValues("f32", [], [0.5])])[0]!;
    expect(Array.from(f.data as BigInt64Array)).toEqual([2n, 3n]);
  });
});

// ---------------------------------------------------------------- unary ops

type UnaryRef = (v: number) => number;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Reference meanings; `f32Ulps` where float32 results come from the fast exp/tanh (1 float32 ulp at most). */
const UNARY_CASES: { op: string; ref: UnaryRef; dtypes: DType[]; f32Ulps?: number; attrs?: Record<string, number | string>; domain?: string }[] = [
  { op: "Sqrt", ref: Math.sqrt, dtypes: ["f32", "f64"] },
  { op: "Reciprocal", ref: (v) => 1 / v, dtypes: ["f32", "f64"] },
  { op: "Exp", ref: Math.exp, dtypes: ["f32", "f64"], f32Ulps: 1 },
  { op: "Log", ref: Math.log, dtypes: ["f32", "f64"] },
  { op: "Erf", ref: erf, dtypes: ["f32", "f64"], f32Ulps: 1 },
  { op: "Tanh", ref: Math.tanh, dtypes: ["f32", "f64"], f32Ulps: 1 },
  { op: "Sigmoid", ref: sigmoid, dtypes: ["f32", "f64"], f32Ulps: 1 },
  { op: "Sin", ref: Math.sin, dtypes: ["f32"] },
  { op: "Cos", ref: Math.cos, dtypes: ["f64"] },
  { op: "Floor", ref: Math.floor, dtypes: ["f32"] },
  { op: "Ceil", ref: Math.ceil, dtypes: ["f32"] },
  { op: "Relu", ref: (v) => (v > 0 ? v : v === 0 || v < 0 ? 0 : v), dtypes: ["f32", "f64", "i32"] },
  { op: "Neg", ref: (v) => -v, dtypes: ["f32", "i32"] },
  { op: "Abs", ref: Math.abs, dtypes: ["f32", "i32", "u8"] },
  { op: "Not", ref: (v) => (v ? 0 : 1), dtypes: ["bool"] },
  { op: "HardSigmoid", ref: (v) => Math.max(0, Math.min(1, 0.3 * v + 0.4)), dtypes: ["f32"], attrs: { alpha: 0.3, beta: 0.4 } },
  { op: "HardSwish", ref: (v) => v * Math.max(0, Math.min(1, v / 6 + 0.5)), dtypes: ["f32", "f64"] },
  { op: "Gelu", ref: (v) => 0.5 * v * (1 + erf(v / Math.SQRT2)), dtypes: ["f32", "f64"] },
  { op: "Gelu", ref: (v) => 0.5 * v * (1 + Math.tanh(SQRT_2_OVER_PI * (v + 0.044715 * v * v * v))), dtypes: ["f32", "f64"], f32Ulps: 1,
    attrs: { approximate: "tanh" } },
];

function referenceUnary(x: Tensor, f: UnaryRef): Tensor {
  const out = makeTensor(x.dtype, x.dims);
  const od = out.data as Float32Array;
  for (let i = 0; i < od.length; i++) od[i] = f(x.data[i] as number);
  return out;
}

describe("unary elementwise kernels match the per-element reference", () => {
  for (const c of UNARY_CASES) {
    for (const dtype of c.dtypes) {
      it(`${c.op}${c.attrs?.["approximate"] ? " tanh" : ""} ${dtype}`, () => {
        for (const dims of [[3, 7, 5], [], [0, 4], [2000]]) {
          const x = tensor(dtype, dims, dims.length + 11);
          const got = run(c.op, [x], c.attrs)[0]!, want = referenceUnary(x, c.ref);
          if (c.f32Ulps !== undefined && dtype === "f32") expectNearF32(got, want, c.f32Ulps, c.op);
          else expectSame(got, want, c.op);
        }
      });
    }
  }

  it("int64 Relu, Neg and Abs stay exact", () => {
    const x = tensorFromValues("i64", [4], [-(2n ** 63n) + 1n, -5n, 0n, 2n ** 62n]);
    expect(Array.from(run("Relu", [x])[0]!.data as BigInt64Array)).toEqual([0n, 0n, 0n, 2n ** 62n]);
    expect(Array.from(run("Neg", [x])[0]!.data as BigInt64Array)).toEqual([2n ** 63n - 1n, 5n, 0n, -(2n ** 62n)]);
    expect(Array.from(run("Abs", [x])[0]!.data as BigInt64Array)).toEqual([2n ** 63n - 1n, 5n, 0n, 2n ** 62n]);
    expect(() => run("Exp", [x])).toThrow(/not defined for i64/);
  });

  it("Clip: bounds optional, max wins when min > max, NaN passes, int64 exact", () => {
    const x = tensorFromValues("f32", [6], [-3, -0, 0.5, 2, NaN, Infinity]);
    const lo = tensorFromValues("f32", [], [-1]), hi = tensorFromValues("f32", [], [1]);
    expect(values(run("Clip", [x, lo, hi])[0]!)).toEqual([-1, -0, 0.5, 1, NaN, 1]);
    expect(values(run("Clip", [x, undefined, hi])[0]!)).toEqual([-3, -0, 0.5, 1, NaN, 1]);
    expect(values(run("Clip", [x, lo])[0]!)).toEqual([-1, -0, 0.5, 2, NaN, Infinity]);
    expect(values(run("Clip", [x, hi, lo])[0]!)).toEqual([-1, -1, -1, -1, NaN, -1]);
    const i = tensorFromValues("i64", [3], [-(2n ** 63n), 5n, 2n ** 63n - 1n]);
    const ilo = tensorFromValues("i64", [], [-(2n ** 62n)]), ihi = tensorFromValues("i64", [], [2n ** 62n]);
    expect(Array.from(run("Clip", [i, ilo, ihi])[0]!.data as BigInt64Array)).toEqual([-(2n ** 62n), 5n, 2n ** 62n]);
    expect(Array.from(run("Clip", [i, undefined, ihi])[0]!.data as BigInt64Array)).toEqual([-(2n ** 63n), 5n, 2n ** 62n]);
    expect(Array.from(run("Clip", [i])[0]!.data as BigInt64Array)).toEqual([-(2n ** 63n), 5n, 2n ** 63n - 1n]);
  });
});

describe("Where", () => {
  const cases: [string, number[], number[], number[], DType][] = [
    ["same shape", [2, 3], [2, 3], [2, 3], "f32"],
    ["scalar branches (a mask fill)", [2, 1, 3, 3], [], [], "f32"],
    ["scalar condition", [], [2, 3], [2, 3], "f32"],
    ["scalar condition, broadcast branch", [], [3], [2, 3], "f32"],
    ["broadcast all three", [2, 1, 3], [1, 4, 1], [3], "f32"],
    ["int64 data", [4, 1], [1, 3], [4, 3], "i64"],
    ["bool data", [3], [2, 3], [], "bool"],
    ["zero-size", [0, 2], [2], [], "f32"],
  ];
  for (const [name, dc, dx, dy, dtype] of cases) {
    it(name, () => {
      const c = tensor("bool", dc, 3), x = tensor(dtype, dx, 5), y = tensor(dtype, dy, 9);
      const dims = broadcastDims(broadcastDims(dc, dx), dy);
      const want = makeTensor(dtype, dims);
      for (let i = 0; i < want.data.length; i++) {
        (want.data as unknown as Value[])[i] = c.data[sourceIndex(dc, dims, i)]
          ? x.data[sourceIndex(dx, dims, i)]! : y.data[sourceIndex(dy, dims, i)]!;
      }
      expectSame(run("Where", [c, x, y])[0]!, want, name);
    });
  }
  it("a scalar condition picks one whole branch", () => {
    const x = tensor("f32", [2, 3], 1), y = tensor("f32", [2, 3], 2);
    expectSame(run("Where", [tensorFromValues("bool", [], [1]), x, y])[0]!, x);
    expectSame(run("Where", [tensorFromValues("bool", [1], [0]), x, y])[0]!, y);
  });
});

// ---------------------------------------------------------------- fast math

describe("fast exp, tanh and sigmoid", () => {
  const ulpsOff = (got: number, want: number) => (want === 0 ? Math.abs(got) / 2 ** -1074 : Math.abs(got - want) / Math.abs(want) / 2 ** -52);
  it("stay within 3 float64 ulps of Math.exp, Math.tanh and the precise sigmoid", () => {
    let seed = 7;
    const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
    const worst = { exp: [0, 0], tanh: [0, 0], sigmoid: [0, 0] };
    const note = (what: keyof typeof worst, v: number, ulps: number) => {
      if (!(ulps <= worst[what][0]!)) worst[what] = [ulps, v];
    };
    for (let i = 0; i < 400_000; i++) {
      const v = (next() - 0.5) * [1400, 60, 3, 1e-6][i % 4]!;
      note("exp", v, ulpsOff(fastExp(v), Math.exp(v)));
      note("tanh", v, ulpsOff(fastTanh(v), Math.tanh(v)));
      note("sigmoid", v, ulpsOff(fastSigmoid(v), sigmoid(v)));
    }
    for (const [what, [ulps, v]] of Object.entries(worst)) expect(ulps, `${what}(${v})`).toBeLessThanOrEqual(3);
  });
  it("handle the special values", () => {
    for (const v of [NaN, Infinity, -Infinity, 0, -0, 709, 709.78, 710, -708, -745, -746, 1e-320]) {
      expect(Object.is(fastExp(v), Math.exp(v)) || ulpsOff(fastExp(v), Math.exp(v)) <= 3, `exp(${v})`).toBe(true);
    }
    expect(Object.is(fastTanh(-0), -0)).toBe(true);
    expect([fastTanh(NaN), fastTanh(Infinity), fastTanh(-Infinity), fastTanh(400), fastTanh(1e-300)]).toEqual([NaN, 1, -1, 1, 1e-300]);
    expect([fastSigmoid(NaN), fastSigmoid(Infinity), fastSigmoid(-Infinity), fastSigmoid(0)]).toEqual([NaN, 1, 0, 0.5]);
  });
  it("erf stays within its fit's 1.2e-7 of the true values", () => {
    const known: [number, number][] = [[0, 0], [0.1, 0.1124629160182849], [0.5, 0.5204998778130465], [1, 0.8427007929497149],
      [2, 0.9953222650189527], [3.5, 0.9999992569016276], [-1, -0.8427007929497149]];
    for (const [x, want] of known) expect(Math.abs(erf(x) - want), `erf(${x})`).toBeLessThanOrEqual(1.2e-7);
    expect(erf(NaN)).toBeNaN();
  });
});

// ---------------------------------------------------------------- cast

const CAST_DTYPES: DType[] = ["f32", "f64", "f16", "bf16", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "bool"];

/** The cast as it was written element by element: castValue, and BigInt for 64-bit targets. */
function referenceCast(x: Tensor, to: DType): Tensor {
  const out = makeTensor(to, x.dims);
  const dst = out.data as unknown as Value[];
  const dstBig = out.data instanceof BigInt64Array || out.data instanceof BigUint64Array;
  for (let i = 0; i < x.data.length; i++) {
    const v = x.data[i]!;
    if (dstBig) {
      const b = typeof v === "bigint" ? v : BigInt(castValue(v, to));
      dst[i] = to === "i64" ? BigInt.asIntN(64, b) : BigInt.asUintN(64, b);
    } else dst[i] = castValue(Number(v), to);
  }
  return out;
}

const castSource = (from: DType): Tensor => {
  const byKind: Record<string, Value[]> = {
    float: [0, -0, 1, -1, 0.5, -1.5, 2.5, 127.9, -128.7, 255.5, 256, 65504, 65520, 1e10, -1e10, 3.4e38, 1e-8, 2 ** -24, NaN, Infinity, -Infinity,
      0.1, 1 / 3, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2],
    int: [0, 1, -1, 127, -128, 255, 256, 32767, -32769, 65535, 2 ** 31 - 1, -(2 ** 31)],
    uint: [0, 1, 127, 128, 255, 65535, 2 ** 32 - 1],
    bool: [0, 1, 1, 0],
    i64: [0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n + 1n, 2n ** 32n + 7n, -(2n ** 31n) - 1n, 65537n],
    u64: [0n, 1n, 2n ** 64n - 1n, 2n ** 63n, 2n ** 53n + 1n, 2n ** 32n + 7n],
  };
  const kind = from === "i64" || from === "u64" ? from : DTYPES[from].kind;
  const raw = byKind[kind === "float" ? "float" : kind === "bool" ? "bool" : kind === "uint" ? "uint" : kind === "int" ? "int" : kind]!;
  // Values of the source dtype: store them, then read back what the storage holds (f16/bf16 through the cast itself).
  const t = tensorFromValues(from === "f16" || from === "bf16" ? "f32" : from, [raw.length], raw);
  return from === "f16" || from === "bf16" ? referenceCast(t, from) : t;
};

describe("Cast matches castValue element by element", () => {
  for (const from of CAST_DTYPES) {
    it(`from ${from}`, () => {
      const x = castSource(from);
      for (const to of CAST_DTYPES) {
        const got = run("Cast", [x], { to: DTYPES[to].onnx })[0]!;
        expectSame(got, referenceCast(x, to), `${from} -> ${to}`);
      }
    });
  }
  it("zero-size and multi-dimensional shapes", () => {
    for (const dims of [[0], [2, 0, 3], [2, 3, 4]]) {
      const x = tensor("f32", dims, 5);
      for (const to of CAST_DTYPES) expectSame(run("Cast", [x], { to: DTYPES[to].onnx })[0]!, referenceCast(x, to), `[${dims}] -> ${to}`);
    }
  });
  it("a cast that changes nothing shares the values; f16 to f16 still rounds", () => {
    const x = tensor("f32", [2, 3], 1);
    const same = run("Cast", [x], { to: DTYPES.f32.onnx })[0]!;
    expectSame(same, x);
    const like = run("CastLike", [x, tensor("f32", [1], 2)])[0]!;
    expectSame(like, x);
    const unrounded: Tensor = { dtype: "f16", dims: [3], data: new Float32Array([0.1, 1 / 3, 70000]) };
    expect(values(run("Cast", [unrounded], { to: DTYPES.f16.onnx })[0]!)).toEqual([0.0999755859375, 0.333251953125, Infinity]);
  });
});

// ---------------------------------------------------------------- layout

function referenceTranspose(x: Tensor, perm: number[]): Tensor {
  const dims = perm.map((p) => x.dims[p]!), out = makeTensor(x.dtype, dims);
  const is = stridesOf(x.dims), os = stridesOf(dims);
  for (let i = 0; i < out.data.length; i++) {
    let src = 0, rem = i;
    for (let a = 0; a < dims.length; a++) {
      const c = Math.floor(rem / os[a]!);
      rem -= c * os[a]!;
      src += c * is[perm[a]!]!;
    }
    (out.data as unknown as Value[])[i] = x.data[src]!;
  }
  return out;
}

function referenceGather(data: Tensor, indices: number[], indexDims: number[], axis: number): Tensor {
  const dims = [...data.dims.slice(0, axis), ...indexDims, ...data.dims.slice(axis + 1)];
  const out = makeTensor(data.dtype, dims);
  const outer = data.dims.slice(0, axis).reduce((p, d) => p * d, 1), inner = data.dims.slice(axis + 1).reduce((p, d) => p * d, 1);
  const len = data.dims[axis]!;
  let k = 0;
  for (let o = 0; o < outer; o++) {
    for (const idx of indices) {
      const j = idx < 0 ? idx + len : idx;
      for (let e = 0; e < inner; e++) (out.data as unknown as Value[])[k++] = data.data[(o * len + j) * inner + e]!;
    }
  }
  return out;
}

const i64 = (values: number[]) => tensorFromValues("i64", [values.length], values);

describe("layout kernels copy whole runs and match index-by-index references", () => {
  const perms: [number[], number[]][] = [
    [[2, 3, 4], [0, 2, 1]], [[2, 3, 4], [2, 1, 0]], [[8, 5, 2, 16], [0, 2, 1, 3]], [[4, 3, 2, 70], [0, 2, 1, 3]],
    [[2, 3, 4, 5], [0, 1, 3, 2]], [[2, 3, 1, 4, 2], [4, 0, 3, 2, 1]], [[1, 5], [1, 0]], [[3, 0, 2], [2, 0, 1]], [[], []],
  ];
  for (const dtype of ["f32", "i64", "bool"] as DType[]) {
    it(`Transpose ${dtype}`, () => {
      for (const [dims, perm] of perms) {
        const x = tensor(dtype, dims, 3);
        expectSame(run("Transpose", [x], { perm })[0]!, referenceTranspose(x, perm), `[${dims}] perm [${perm}]`);
      }
    });
  }

  it("Slice with steps, negative steps and clamped bounds", () => {
    const x = tensor("f32", [4, 5, 6], 1);
    const cases: [number[], number[], number[], number[]][] = [
      [[1], [3], [0], [1]], [[0, 1], [4, 5], [1, 2], [2, 2]], [[-1], [-100], [2], [-1]], [[3, 4], [0, -100], [0, 1], [-1, -2]],
      [[0], [100], [2], [1]], [[2], [2], [1], [1]], [[1, 0, 0], [3, 5, 6], [0, 1, 2], [1, 1, 1]],
    ];
    for (const [starts, ends, axes, steps] of cases) {
      const got = run("Slice", [x, i64(starts), i64(ends), i64(axes), i64(steps)])[0]!;
      // Reference: the selected coordinates along each axis, then every combination.
      const picks = x.dims.map((d, a) => {
        const i = axes.indexOf(a);
        if (i < 0) return Array.from({ length: d }, (_, k) => k);
        const st = steps[i]!;
        let s = starts[i]! < 0 ? starts[i]! + d : starts[i]!, e = ends[i]! < 0 ? ends[i]! + d : ends[i]!;
        const out: number[] = [];
        if (st > 0) {
          s = Math.min(Math.max(s, 0), d); e = Math.min(Math.max(e, 0), d);
          for (let k = s; k < e; k += st) out.push(k);
        } else {
          s = Math.min(Math.max(s, -1), d - 1); e = Math.min(Math.max(e, -1), d - 1);
          for (let k = s; k > e; k += st) out.push(k);
        }
        return out;
      });
      const want: number[] = [];
      for (const a of picks[0]!) for (const b of picks[1]!) for (const c of picks[2]!) want.push(x.data[(a * 5 + b) * 6 + c] as number);
      expect(got.dims, `${starts} ${ends}`).toEqual(picks.map((p) => p.length));
      expect(values(got), `${starts} ${ends}`).toEqual(want);
    }
  });

  it("Concat along each axis, i64 and a zero-size input", () => {
    const parts = [tensor("i64", [2, 3, 4], 1), tensor("i64", [2, 3, 4], 2)];
    for (const axis of [0, 1, 2]) {
      const got = run("Concat", parts, { axis })[0]!;
      // The same concat through transposes: move axis to the front, append, move back.
      const perm = [axis, ...[0, 1, 2].filter((a) => a !== axis)], back = perm.map((_, i) => perm.indexOf(i));
      const front = parts.map((p) => referenceTranspose(p, perm));
      const joined = makeTensor("i64", [front[0]!.dims[0]! * 2, ...front[0]!.dims.slice(1)]);
      (joined.data as BigInt64Array).set(front[0]!.data as BigInt64Array);
      (joined.data as BigInt64Array).set(front[1]!.data as BigInt64Array, front[0]!.data.length);
      expectSame(got, referenceTranspose(joined, back), `axis ${axis}`);
    }
    const x = tensor("f32", [2, 3], 1);
    expectSame(run("Concat", [x, makeTensor("f32", [2, 0])], { axis: 1 })[0]!, x);
  });

  it("Split gives contiguous slices", () => {
    const x = tensor("f32", [2, 7, 3], 4);
    const [a, b] = run("Split", [x, i64([3, 4])], { axis: 1 }, 2);
    const want = (from: number, to: number) => run("Slice", [x, i64([from]), i64([to]), i64([1]), i64([1])])[0]!;
    expectSame(a!, want(0, 3));
    expectSame(b!, want(3, 7));
  });

  it("Expand and Tile repeat along broadcast axes", () => {
    for (const [dims, shape] of [[[3, 1], [2, 3, 4]], [[1], [5]], [[2, 1, 3], [2, 4, 3]], [[4], [3, 1]], [[1, 2], [0, 2]]] as [number[], number[]][]) {
      const x = tensor("i64", dims, 2);
      const out = broadcastDims(dims, shape), want = makeTensor("i64", out);
      for (let i = 0; i < want.data.length; i++) (want.data as BigInt64Array)[i] = x.data[sourceIndex(dims, out, i)] as bigint;
      expectSame(run("Expand", [x, i64(shape)])[0]!, want, `[${dims}] to [${shape}]`);
    }
    for (const [dims, repeats] of [[[2, 3], [2, 1]], [[2, 3], [1, 3]], [[2, 1, 2], [3, 2, 2]], [[3], [0]]] as [number[], number[]][]) {
      const x = tensor("f32", dims, 3);
      const out = dims.map((d, i) => d * repeats[i]!), want = makeTensor("f32", out), os = stridesOf(out), is = stridesOf(dims);
      for (let i = 0; i < want.data.length; i++) {
        let src = 0, rem = i;
        for (let a = 0; a < out.length; a++) {
          const c = Math.floor(rem / os[a]!);
          rem -= c * os[a]!;
          src += (c % dims[a]!) * is[a]!;
        }
        (want.data as Float32Array)[i] = x.data[src] as number;
      }
      expectSame(run("Tile", [x, i64(repeats)])[0]!, want, `[${dims}] x [${repeats}]`);
    }
  });

  it("Gather: long rows, single elements, negative indices, any axis", () => {
    const cases: [number[], number[], number[], number][] = [
      [[4, 256, 3], [3, 0, 3, -1, 2], [5], 0], [[4, 5], [1, -4, 3], [3], 1], [[3, 4, 5], [2, 0, 1, 1], [2, 2], 1],
      [[6], [5], [], 0], [[3, 2], [], [0], 0], [[0, 3], [1], [1], 1],
    ];
    for (const dtype of ["f32", "i64", "bool"] as DType[]) {
      for (const [dims, idx, idxDims, axis] of cases) {
        const data = tensor(dtype, dims, 7);
        const got = run("Gather", [data, tensorFromValues("i64", idxDims, idx)], { axis })[0]!;
        expectSame(got, referenceGather(data, idx, idxDims, axis), `${dtype} [${dims}] axis ${axis}`);
      }
    }
    expect(() => run("Gather", [tensor("f32", [3, 2], 1), i64([3])])).toThrow(/out of range/);
  });

  it("GatherND copies whole slices", () => {
    const data = tensor("f32", [3, 4, 5], 2);
    const got = run("GatherND", [data, tensorFromValues("i64", [2, 2], [2, 1, 0, -1])])[0]!;
    const row = (a: number, b: number) => values(data).slice((a * 4 + b) * 5, (a * 4 + b) * 5 + 5);
    expect(got.dims).toEqual([2, 5]);
    expect(values(got)).toEqual([...row(2, 1), ...row(0, 3)]);
  });
});

// ---------------------------------------------------------------- reductions and softmax

describe("reductions over trailing axes match a float64 fold in order", () => {
  const fold = (op: string, values: number[]) => {
    let a = op === "ReduceMax" ? -Infinity : op === "ReduceMin" ? Infinity : op === "ReduceProd" ? 1 : 0;
    for (const v of values) {
      if (op === "ReduceSum" || op === "ReduceMean") a += v;
      else if (op === "ReduceProd") a *= v;
      else if (v !== v || (op === "ReduceMax" ? v > a : v < a)) a = v;
    }
    return op === "ReduceMean" ? (values.length > 0 ? a / values.length : 0) : a;
  };
  for (const op of ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd"]) {
    it(op, () => {
      // Trailing axes, a middle block, leading axes, all axes, a split set (the general path), zero-size.
      for (const [dims, axes, keep] of [[[4, 3, 64], [-1], 1], [[4, 3, 8], [1, 2], 0], [[5, 7], [0, 1], 1], [[2, 3, 4], [1], 1],
        [[6, 2, 64], [1], 0], [[2, 3, 4, 5], [1, 2], 0], [[4, 3, 5], [0], 1], [[2, 3, 4], [0, 2], 1], [[2, 0], [1], 1], [[2, 0, 3], [1], 0],
        [[3], [0], 0]] as [number[], number[], number][]) {
        const x = tensor("f32", dims, dims.length);
        const got = run(op, [x, i64(axes)], { keepdims: keep })[0]!;
        const reduced = axes.map((a) => (a < 0 ? a + dims.length : a));
        const outDims = dims.map((d, i) => (reduced.includes(i) ? 1 : d));
        const groups = new Map<number, number[]>();
        for (let i = 0; i < x.data.length; i++) {
          const o = sourceIndex(outDims, dims, i);
          groups.set(o, [...(groups.get(o) ?? []), x.data[i] as number]);
        }
        const want = Array.from({ length: outDims.reduce((p, d) => p * d, 1) }, (_, o) => Math.fround(fold(op, groups.get(o) ?? [])));
        expect(got.dims, `${op} [${dims}]`).toEqual(keep ? outDims : dims.filter((_, i) => !reduced.includes(i)));
        expect(values(got), `${op} [${dims}] axes ${axes}`).toEqual(want);
      }
    });
  }
});

describe("Softmax", () => {
  function referenceSoftmax(x: Tensor, axis: number, log: boolean): Tensor {
    const out = makeTensor(x.dtype, x.dims), n = x.dims[axis]!;
    const inner = x.dims.slice(axis + 1).reduce((p, d) => p * d, 1), outer = x.data.length / Math.max(1, n * inner);
    const xd = x.data as Float32Array, od = out.data as Float32Array;
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const at = (j: number) => (o * n + j) * inner + i;
        let max = -Infinity, sum = 0;
        for (let j = 0; j < n; j++) if (xd[at(j)]! > max) max = xd[at(j)]!;
        for (let j = 0; j < n; j++) sum += Math.exp(xd[at(j)]! - max);
        for (let j = 0; j < n; j++) od[at(j)] = log ? xd[at(j)]! - max - Math.log(sum) : Math.exp(xd[at(j)]! - max) / sum;
      }
    }
    return out;
  }
  for (const op of ["Softmax", "LogSoftmax"]) {
    for (const dtype of ["f32", "f64"] as DType[]) {
      it(`${op} ${dtype}`, () => {
        for (const [dims, axis] of [[[4, 3, 130], 2], [[4, 5, 3], 1], [[2, 0, 3], 2], [[7], 0]] as [number[], number][]) {
          const x = tensor(dtype, dims, 5);
          const d = x.data as Float32Array;
          if (d.length > 10) d.fill(-Infinity, 0, dims[2] ?? 1); // a row of -Infinity (NaN everywhere)
          const got = run(op, [x], { axis })[0]!, want = referenceSoftmax(x, axis, op === "LogSoftmax");
          if (dtype === "f32") expectNearF32(got, want, 1, `${op} [${dims}]`);
          else expectSame(got, want, `${op} [${dims}]`);
        }
      });
    }
  }
});

// ---------------------------------------------------------------- composites

describe("direct composite kernels equal their decompositions", () => {
  const composite = (op: string) => lookupOp("tierflow", op)!;
  const bothWays = (op: string, inputs: Tensor[], attrs: Record<string, number> = {}) => {
    const ctx = { attrs: toAttrs(attrs), opset: 20, outputCount: 1 };
    return [lookupKernel("tierflow", op)!(inputs, ctx)[0]!, decompositionKernel(composite(op))(inputs, ctx)[0]!] as const;
  };
  for (const dtype of ["f32", "f64", "f16"] as DType[]) {
    it(`SiLU and SwiGLU ${dtype}`, () => {
      const fix = (t: Tensor) => (dtype === "f16" ? run("Cast", [t], { to: DTYPES.f16.onnx })[0]! : t);
      const x = fix(tensor(dtype === "f16" ? "f32" : dtype, [3, 67], 1));
      expectSame(...bothWays("SiLU", [x]));
      const gate = fix(tensor(dtype === "f16" ? "f32" : dtype, [3, 1, 20], 2)), up = fix(tensor(dtype === "f16" ? "f32" : dtype, [4, 20], 3));
      expectSame(...bothWays("SwiGLU", [gate, up]));
      expectSame(...bothWays("SwiGLU", [gate, gate]));
      // Large enough that Sigmoid runs as SIMD (simd-math-wasm.ts) while SiLU's loop calls laneSigmoid.
      const big = fix(tensor(dtype === "f16" ? "f32" : dtype, [7, 301], 4)), bigUp = fix(tensor(dtype === "f16" ? "f32" : dtype, [7, 301], 5));
      expectSame(...bothWays("SiLU", [big]));
      expectSame(...bothWays("SwiGLU", [big, bigUp]));
    });
  }
  it("RMSNorm f32 (and the decomposition for other dtypes and shapes)", () => {
    for (const dims of [[4, 7, 64], [3, 5], [0, 8], [2, 1]]) {
      const x = tensor("f32", dims, 4), w = tensor("f32", [dims[dims.length - 1]!], 5);
      for (const epsilon of [1e-6, 1e-5, 0]) expectSame(...bothWays("RMSNorm", [x, w], { epsilon }), `[${dims}] eps ${epsilon}`);
    }
    const x = tensor("f64", [3, 8], 1), w = tensor("f64", [8], 2);
    expectSame(...bothWays("RMSNorm", [x, w]));
  });
});

describe("storage types", () => {
  it("every dtype's kernels write the dtype's storage", () => {
    for (const dtype of ["f32", "f64", "i32", "i64", "u8"] as DType[]) {
      const t = tensor(dtype, [3], 1);
      const out = run("Add", [t, t])[0]!;
      expect(out.data.constructor).toBe(allocate(dtype, 0).constructor);
    }
    const cmp = run("Less", [tensor("i64", [3], 1), tensor("i64", [3], 2)])[0]!;
    expect(cmp.data).toBeInstanceOf(Uint8Array);
    expect((cmp.data as TensorData).length).toBe(3);
  });
});

describe("depthwise Conv", () => {
  /** Each output's window (padding as zeros) summed with the weights in the float32 GEMM's order (one tap at a time, float32 rounding; windows here are under one K block), then the bias. */
  function referenceDepthwise(x: Tensor, w: Tensor, b: Tensor, k: number, stride: number, pad: number, dilation: number): Tensor {
    const [batch, channels, h, wd] = x.dims as [number, number, number, number], m = w.dims[0]!, mg = m / channels;
    const oh = Math.floor((h + 2 * pad - dilation * (k - 1) - 1) / stride) + 1, ow = Math.floor((wd + 2 * pad - dilation * (k - 1) - 1) / stride) + 1;
    const out = makeTensor("f32", [batch, m, oh, ow]);
    const xs = x.data as Float32Array, ws = w.data as Float32Array, bs = b.data as Float32Array;
    for (let n = 0; n < batch; n++) for (let ch = 0; ch < m; ch++) for (let oy = 0; oy < oh; oy++) for (let ox = 0; ox < ow; ox++) {
      const win: number[] = [];
      for (let ky = 0; ky < k; ky++) for (let kx = 0; kx < k; kx++) {
        const iy = oy * stride - pad + ky * dilation, ix = ox * stride - pad + kx * dilation;
        win.push(iy < 0 || iy >= h || ix < 0 || ix >= wd ? 0 : xs[((n * channels + Math.floor(ch / mg)) * h + iy) * wd + ix]!);
      }
      const wt = (p: number) => ws[ch * k * k + p]!;
      let c = 0;
      for (let p = 0; p < win.length; p++) c = Math.fround(c + Math.fround(wt(p) * win[p]!));
      (out.data as Float32Array)[((n * m + ch) * oh + oy) * ow + ox] = c + bs[ch]!;
    }
    return out;
  }
  for (const [channels, h, w, k, stride, pad, dilation, mg] of [[6, 4, 4, 5, 1, 2, 1, 1], [5, 9, 7, 3, 2, 1, 1, 1], [4, 9, 7, 3, 1, 0, 2, 2],
    [3, 5, 5, 4, 3, 3, 1, 3], [2, 1, 1, 3, 1, 1, 1, 1]] as number[][]) {
    it(`C ${channels} [${h}, ${w}] kernel ${k} stride ${stride} pad ${pad} dilation ${dilation} x${mg}`, () => {
      const x = tensor("f32", [2, channels!, h!, w!], 1), wt = tensor("f32", [channels! * mg!, 1, k!, k!], 2), b = tensor("f32", [channels! * mg!], 3);
      const got = run("Conv", [x, wt, b], { group: channels!, pads: [pad!, pad!, pad!, pad!], strides: [stride!, stride!], dilations: [dilation!, dilation!] })[0]!;
      expectSame(got, referenceDepthwise(x, wt, b, k!, stride!, pad!, dilation!));
    });
  }
});
