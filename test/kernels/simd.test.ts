// The float32 WebAssembly SIMD kernels (targets/reference/kernels/simd.ts): binary ops
// must give exactly the JavaScript loop's bits on every broadcast shape
// (same shape, scalars either side, rows, columns, leading axes, zero-size,
// NaN, -0, infinities); exp must stay within float32 rounding over its whole
// range, subnormals, infinities and NaN included; Softmax must match a float64
// computation within 2.5e-7 relative and keep the NaN-row rule.

import { describe, expect, it } from "vitest";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { binaryOp } from "../../targets/reference/kernels/pointwise.js";
import { binaryF32, expF32, layerNormF32, softmaxF32, unaryF32 } from "../../targets/reference/kernels/simd.js";
import { erf, laneErf, laneSigmoid, laneTanh, sigmoid } from "../../targets/reference/kernels/math.js";
import { softmaxKernel } from "../../targets/reference/kernels/softmax.js";
import { layerNormKernel } from "../../targets/reference/kernels/normalize.js";
import { broadcastDims } from "../../targets/reference/kernels/broadcast.js";
import { broadcastStrides, collapseStrides, contiguousStrides } from "../../targets/reference/kernels/strided.js";
import { elementCount } from "../../ir/tensor.js";

function sample(count: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const next = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const special = [NaN, -0, 0, Infinity, -Infinity, 1, -1, 0.5, 3, 1e-45, -3e38];
  return Float32Array.from({ length: count }, (_, i) => (i % 13 === 5 ? special[(i / 13) % special.length | 0]! : (next() - 0.5) * 200));
}

/** The JavaScript loop's answer: float64 arithmetic rounded to float32, with numpy broadcasting by index. */
function reference(op: string, a: Tensor, b: Tensor): Float32Array {
  const dims = broadcastDims(a.dims, b.dims), n = elementCount(dims);
  const sa = broadcastStrides(a.dims, dims), sb = broadcastStrides(b.dims, dims), so = contiguousStrides(dims);
  const f: Record<string, (x: number, y: number) => number> = {
    Add: (x, y) => x + y, Sub: (x, y) => x - y, Mul: (x, y) => x * y, Div: (x, y) => x / y, Max: Math.max, Min: Math.min,
  };
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let ia = 0, ib = 0, rem = i;
    for (let d = 0; d < dims.length; d++) {
      const c = Math.floor(rem / so[d]!);
      rem -= c * so[d]!;
      ia += c * sa[d]!;
      ib += c * sb[d]!;
    }
    out[i] = f[op]!(a.data[ia] as number, b.data[ib] as number);
  }
  return out;
}

const SHAPES: [number[], number[]][] = [
  [[4096], [4096]], [[2, 1030], []], [[], [3, 700]], [[64, 33], [33]], [[33, 64], [33, 1]], [[8, 4, 32, 17], [8, 1, 32, 17]],
  [[3, 1, 1100], [1, 2, 1100]], [[0, 2048], [2048]], [[5, 0, 300], [1]], [[1], [1]], [[2, 3, 4, 5, 6, 7], [7]],
];

describe("float32 SIMD binary ops", () => {
  for (const op of ["Add", "Sub", "Mul", "Div", "Max", "Min"]) {
    for (const [da, db] of SHAPES) {
      it(`${op} [${da.join(", ")}] with [${db.join(", ")}] gives the JavaScript loop's bits`, () => {
        const a = tensorFromValues("f32", da, sample(elementCount(da), 7)), b = tensorFromValues("f32", db, sample(elementCount(db), 11));
        const got = binaryOp(op as "Add", a, b, "f32");
        const want = reference(op, a, b);
        expect(got.dims).toEqual(broadcastDims(da, db));
        expect(Array.from(got.data as Float32Array)).toEqual(Array.from(want)); // toEqual: NaN equals NaN, -0 differs from 0
      });
    }
  }

  it("declines rows where both operands repeat, and computes nothing then", () => {
    const plan = collapseStrides([4, 8], [[1, 0], [1, 0], [8, 1]]); // a column broadcast along the row on both sides
    const out = new Float32Array(32).fill(9);
    expect(binaryF32("Add", plan, new Float32Array(4), new Float32Array(4), out)).toBe(false);
    expect(out.every((v) => v === 9)).toBe(true);
  });
});

describe("float32 SIMD exp", () => {
  it("is within 1.5e-7 relative of exp over [-88, 88.7] and within one unit of subnormals", () => {
    const n = 400_000, x = new Float32Array(n), y = new Float32Array(n);
    for (let i = 0; i < n; i++) x[i] = -110 + (200 * i) / n;
    expect(expF32(x, y)).toBe(true);
    let worst = 0, worstSub = 0;
    for (let i = 0; i < n; i++) {
      const want = Math.exp(x[i]!);
      if (Math.fround(want) === Infinity) expect(y[i]).toBe(Infinity);
      else if (want < 2 ** -126) worstSub = Math.max(worstSub, Math.abs(y[i]! - want) / 2 ** -149);
      else worst = Math.max(worst, Math.abs(y[i]! - want) / want);
    }
    expect(worst).toBeLessThan(1.5e-7);
    expect(worstSub).toBeLessThanOrEqual(1);
  });

  it("gives exp's values at the edges: infinities, NaN, zeros, denormal inputs, overflow and underflow", () => {
    const x = Float32Array.from([-Infinity, Infinity, NaN, 0, -0, 1e-45, -1e-40, 88.72, 88.73, -87.5, -103.5, -104, -1e30, 1e30, 1]);
    const y = new Float32Array(x.length);
    expF32(x, y);
    expect(y[0]).toBe(0);
    expect(y[1]).toBe(Infinity);
    expect(y[2]).toBeNaN();
    expect([y[3], y[4], y[5], y[6]]).toEqual([1, 1, 1, 1]);
    expect(y[7]! / Math.exp(x[7]!)).toBeCloseTo(1, 6); // x as stored: float32
    expect(y[8]).toBe(Infinity);
    expect(y[9]! / Math.exp(x[9]!)).toBeCloseTo(1, 6); // a subnormal result
    expect(y[10]).toBe(Math.fround(Math.exp(x[10]!))); // the smallest subnormal
    expect([y[11], y[12], y[13]]).toEqual([0, 0, Infinity]);
    expect(y[14]! / Math.E).toBeCloseTo(1, 6);
  });

  it("handles zero elements and lengths that are not a multiple of 4", () => {
    expect(expF32(new Float32Array(0), new Float32Array(0))).toBe(true);
    const y = new Float32Array(7);
    expF32(Float32Array.from([0, 1, 2, 3, 4, 5, 6]), y);
    y.forEach((v, i) => expect(Math.abs(v - Math.exp(i)) / Math.exp(i)).toBeLessThan(1.5e-7));
  });
});

describe("float32 SIMD Softmax", () => {
  const softmax64 = (row: ArrayLike<number>) => {
    const max = Math.max(...Array.from(row)), e = Array.from(row, (v) => Math.exp(v - max)), s = e.reduce((p, q) => p + q, 0);
    return e.map((v) => v / s);
  };
  for (const n of [1, 3, 4, 17, 128, 1000]) {
    it(`rows of ${n} match a float64 softmax within 2.5e-7 relative`, () => {
      const rows = 37, x = sample(rows * n, n).map((v) => (Number.isFinite(v) ? v / 4 : 0.25)), out = new Float32Array(rows * n);
      expect(softmaxF32(x, out, rows, n)).toBe(true);
      for (let r = 0; r < rows; r++) {
        const want = softmax64(x.subarray(r * n, (r + 1) * n));
        want.forEach((w, j) => {
          const got = out[r * n + j]!;
          if (w < 1e-30) expect(Math.abs(got - w)).toBeLessThan(1e-37);
          else expect(Math.abs(got - w) / w).toBeLessThan(2.5e-7);
        });
      }
    });
  }

  it("makes a row with NaN or +Infinity all NaN, and keeps -Infinity entries at 0", () => {
    const x = tensorFromValues("f32", [3, 4], [1, NaN, 2, 3, 1, Infinity, 2, 3, -Infinity, 0, -Infinity, 0]);
    const y = Array.from(softmaxKernel(x, {}, 13, false).data as Float32Array);
    expect(y.slice(0, 8).every(Number.isNaN)).toBe(true);
    expect(y.slice(8)).toEqual([0, 0.5, 0, 0.5]);
  });

  it("gives the same as the JavaScript path within 2.5e-7 on a model-sized tensor, and a scalar-free zero-size tensor", () => {
    const x = tensorFromValues("f32", [2, 4, 16, 16], sample(2048, 3).map((v) => (Number.isFinite(v) ? v / 8 : 1)));
    const simd = softmaxKernel(x, {}, 13, false).data as Float32Array;
    const js = softmaxKernel({ ...x, dtype: "f32", dims: [2, 4, 16, 16, 1] }, { axis: { type: "int", value: 3 } }, 13, false).data as Float32Array;
    // Where exp underflows (a score 4e37 below its row's max) both give 0 exactly.
    simd.forEach((v, i) => (js[i] === 0 ? expect(Object.is(v, 0)).toBe(true) : expect(Math.abs(v - js[i]!) / js[i]!).toBeLessThan(2.5e-7)));
    expect(softmaxKernel(tensorFromValues("f32", [0, 5], []), {}, 13, false).dims).toEqual([0, 5]);
  });
});

describe("float32 Sigmoid, Tanh and Erf as SIMD", () => {
  // The SIMD kernels repeat math.ts's lane functions in f64x2 lanes: same bits, specials included.
  const x = sample(40_001, 17);
  const extra = [0.625, -0.625, 0.62500006, 709, -709, 710, -750, 20, -20, 1e-30, -1e-30, 1e-45];
  x.set(extra, 100);
  const cases = [["sigmoid", laneSigmoid, sigmoid], ["tanh", laneTanh, Math.tanh], ["erf", laneErf, erf]] as const;
  it.each(cases)("%s gives the lane function's bits, within one float32 ulp of the float64 function", (op, lane, exact) => {
    const got = new Float32Array(x.length);
    expect(unaryF32(op, x, got)).toBe(true);
    let differ = 0, worst = 0;
    for (let i = 0; i < x.length; i++) {
      const want = Math.fround(lane(x[i]!));
      if (!Object.is(got[i], want) && !(Number.isNaN(got[i]) && Number.isNaN(want))) differ++;
      const e = Math.fround(exact(x[i]!));
      if (Number.isFinite(e)) worst = Math.max(worst, Math.abs(want - e) / Math.max(2 ** -149, 2 ** (Math.floor(Math.log2(Math.abs(e) || 2 ** -149)) - 23)));
    }
    expect(differ, "elements that differ from the lane function").toBe(0);
    expect(worst, "float32 ulps from the float64 function").toBeLessThanOrEqual(1);
    expect(Object.is(got[x.indexOf(-0)], op === "sigmoid" ? 0.5 : op === "tanh" ? -0 : got[x.indexOf(-0)])).toBe(true);
  });
});

describe("float32 HardSwish, HardSigmoid and Relu as SIMD", () => {
  const x = sample(40_001, 23);
  x.set([3, -3, 2.9999998, -2.9999998, 0, -0, 6, 1e-45, -1e-45, 3e38, -3e38], 100);
  const cases = [
    ["hardswish", (v: number) => v * Math.max(0, Math.min(1, v / 6 + 0.5)), 0, 0],
    ["hardsigmoid", (v: number) => Math.max(0, Math.min(1, 0.2 * v + 0.5)), 0.2, 0.5],
    ["hardsigmoid", (v: number) => Math.max(0, Math.min(1, (1 / 6) * v + 0.5)), 1 / 6, 0.5],
    ["relu", (v: number) => (v > 0 ? v : v !== v ? v : 0), 0, 0],
  ] as const;
  it.each(cases)("%s gives the JavaScript loop's bits (alpha %s)", (op, f, p, q) => {
    const got = new Float32Array(x.length);
    expect(unaryF32(op, x, got, p, q)).toBe(true);
    let differ = 0;
    for (let i = 0; i < x.length; i++) {
      const want = Math.fround(f(x[i]!));
      if (!Object.is(got[i], want) && !(Number.isNaN(got[i]) && Number.isNaN(want))) differ++;
    }
    expect(differ, "elements that differ").toBe(0);
    if (op === "relu") expect(Object.is(got[105], 0)).toBe(true); // -0 becomes +0
  });
});

describe("float32 LayerNormalization as SIMD", () => {
  /** The documented order: element j into accumulator j mod 4, added as (a0 + a1) + (a2 + a3); float64 throughout. */
  function reference(x: Float32Array, scale: Float32Array, bias: Float32Array | undefined, eps: number, rows: number, n: number) {
    const out = new Float32Array(rows * n), stats = new Float32Array(2 * rows);
    for (let r = 0; r < rows; r++) {
      const row = Array.from(x.subarray(r * n, (r + 1) * n));
      const four = (f: (v: number) => number) => {
        const a = [0, 0, 0, 0];
        row.forEach((v, j) => (a[j % 4] = a[j % 4]! + f(v)));
        return a[0]! + a[1]! + (a[2]! + a[3]!);
      };
      const mean = four((v) => v) / n, inv = 1 / Math.sqrt(four((v) => (v - mean) * (v - mean)) / n + eps);
      row.forEach((v, j) => (out[r * n + j] = bias ? (v - mean) * inv * scale[j]! + bias[j]! : (v - mean) * inv * scale[j]!));
      stats[2 * r] = mean;
      stats[2 * r + 1] = inv;
    }
    return { out, stats };
  }

  for (const [rows, n, withBias] of [[5, 4, true], [33, 64, true], [7, 768, false], [3, 12, false], [1500, 64, true]] as const) {
    it(`${rows} rows of ${n}${withBias ? "" : " without bias"} give the JavaScript order's bits, statistics included`, () => {
      const x = sample(rows * n, rows * 31 + n).map((v, i) => (Number.isFinite(v) ? v + (i % 3) * 1e4 : 0.25)); // offsets the variance must survive
      const scale = sample(n, 7).map((v) => (Number.isFinite(v) ? v / 50 : -0)), bias = withBias ? sample(n, 9).map((v) => (Number.isFinite(v) ? v : 0)) : undefined;
      const out = new Float32Array(rows * n), stats = new Float32Array(2 * rows);
      expect(layerNormF32(x, scale, bias, 1e-5, out, stats, rows, n)).toBe(true);
      const want = reference(x, scale, bias, 1e-5, rows, n);
      expect(Array.from(out, (v, i) => (Object.is(v, want.out[i]) ? 0 : 1)).reduce((p: number, q) => p + q, 0), "outputs that differ").toBe(0);
      expect(Array.from(stats)).toEqual(Array.from(want.stats));
    });
  }

  it("a NaN spreads through its row only, and rows not a multiple of 4 are declined", () => {
    const x = Float32Array.from({ length: 16 }, (_, i) => i), out = new Float32Array(16), stats = new Float32Array(4);
    x[2] = NaN;
    expect(layerNormF32(x, new Float32Array(8).fill(1), undefined, 1e-5, out, stats, 2, 8)).toBe(true);
    expect(out.subarray(0, 8).every(Number.isNaN)).toBe(true);
    expect(out.subarray(8).some(Number.isNaN)).toBe(false);
    expect(layerNormF32(new Float32Array(6), new Float32Array(6), undefined, 1e-5, new Float32Array(6), new Float32Array(2), 1, 6)).toBe(false);
  });

  it("the kernel gives the same bits on the SIMD path and on the JavaScript path", () => {
    const [rows, n] = [6, 16], x = sample(rows * n, 3).map((v) => (Number.isFinite(v) ? v : 1));
    const xt = tensorFromValues("f32", [rows, n], Array.from(x));
    const full = (v: number) => tensorFromValues("f32", [n], new Array<number>(n).fill(v));
    const one = (v: number) => tensorFromValues("f32", [1], [v]);
    // A Scale and B of one value broadcast take the JavaScript loop; the same values written out take SIMD.
    const simd = layerNormKernel(xt, full(0.75), full(-2.5), -1, 1e-5, 3);
    const js = layerNormKernel(xt, one(0.75), one(-2.5), -1, 1e-5, 3);
    simd.forEach((t, i) => expect(Array.from(t.data as Float32Array)).toEqual(Array.from(js[i]!.data as Float32Array)));
  });
});
