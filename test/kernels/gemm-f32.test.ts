// The float32 GEMM (gemm-f32-wasm.ts, gemm-f32.ts) as data cases: MatMul and
// Gemm on scalars-as-vectors, zero-size, odd sizes that are no multiple of a
// tile, broadcast batch dims and transposed operands must give exactly the
// documented order of sums (float32 within K blocks of SKC, blocks added in
// float64), on every path; any subset of rows and columns (a runtime tile)
// gives the whole product's bits; and the error against float64 sums stays
// within the stated bound as K grows, where a plain float32 sum's does not.

import { describe, expect, it } from "vitest";
import type { Tensor } from "../../ir/tensor.js";
import { elementCount, makeTensor } from "../../ir/tensor.js";
import { SKC } from "../../targets/reference/kernels/gemm-f32-wasm.js";
import { gemmFloat } from "../../targets/reference/kernels/gemm.js";
import { gemmKernel, matmulKernel } from "../../targets/reference/kernels/matmul.js";
import { broadcastDims, broadcastIndex } from "../../targets/reference/kernels/broadcast.js";

function random(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
}
const next = random(11);
const f32 = (dims: number[]): Tensor => makeTensor("f32", dims, Float32Array.from({ length: elementCount(dims) }, next));

/** Element (i, j) in the documented order from plain loops: A(i, p) and B(p, j) read through accessors. */
function dot(k: number, a: (p: number) => number, b: (p: number) => number): number {
  let total = 0;
  for (let k0 = 0; k0 < k; k0 += SKC) {
    let acc = 0;
    for (let p = k0; p < Math.min(k, k0 + SKC); p++) acc = Math.fround(acc + Math.fround(a(p) * b(p)));
    total += acc;
  }
  return Math.fround(total);
}

/** numpy matmul semantics, each element by `dot`. */
function naiveMatmul(a: Tensor, b: Tensor): { dims: number[]; data: Float32Array } {
  const ad = a.dims.length === 1 ? [1, a.dims[0]!] : [...a.dims], bd = b.dims.length === 1 ? [b.dims[0]!, 1] : [...b.dims];
  const m = ad[ad.length - 2]!, k = ad[ad.length - 1]!, n = bd[bd.length - 1]!;
  const batch = broadcastDims(ad.slice(0, -2), bd.slice(0, -2)), count = elementCount(batch);
  const ia = broadcastIndex(ad.slice(0, -2), batch), ib = broadcastIndex(bd.slice(0, -2), batch);
  const x = a.data as Float32Array, y = b.data as Float32Array, out = new Float32Array(count * m * n);
  for (let t = 0; t < count; t++) {
    const ao = (ia ? ia[t]! : t) * m * k, bo = (ib ? ib[t]! : t) * k * n;
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) out[(t * m + i) * n + j] = dot(k, (p) => x[ao + i * k + p]!, (p) => y[bo + p * n + j]!);
  }
  const dims = [...batch, ...(a.dims.length > 1 ? [m] : []), ...(b.dims.length > 1 ? [n] : [])];
  return { dims, data: out };
}

function sameBits(got: Tensor, want: { dims: number[]; data: Float32Array }): void {
  expect(got.dims).toEqual(want.dims);
  const g = got.data as Float32Array;
  let differ = 0;
  for (let i = 0; i < want.data.length; i++) if (!Object.is(g[i], want.data[i])) differ++;
  expect(differ, "elements that differ from the documented order").toBe(0);
}

describe("MatMul on float32 sums in the documented order", () => {
  const cases: [string, number[], number[]][] = [
    ["vector . vector (a scalar)", [7], [7]],
    ["vector . vector over two K blocks", [SKC + 9], [SKC + 9]],
    ["zero rows", [0, 5], [5, 6]],
    ["zero K (all zeros)", [3, 0], [0, 4]],
    ["zero columns", [4, 5], [5, 0]],
    ["zero batch", [0, 3, 5], [5, 6]],
    ["one element", [1, 1], [1, 1]],
    ["odd sizes, small (JavaScript)", [3, 5], [5, 7]],
    ["odd sizes, no multiple of the 4 x 8 tile", [37, 45], [45, 29]],
    ["few rows", [2, 300], [300, 70]],
    ["matrix-vector (one column)", [77, 300], [300, 1]],
    ["two and three columns", [41, 520], [520, 3]],
    ["K of several blocks", [13, 3 * SKC + 5], [3 * SKC + 5, 19]],
    ["vector . matrix", [300], [300, 40]],
    ["matrix . vector", [40, 300], [300]],
    ["batch broadcast on A", [1, 17, 33], [3, 33, 12]],
    ["batch broadcast on B", [2, 3, 17, 33], [3, 33, 12]],
    ["batch broadcast on both", [2, 1, 20, 30], [1, 4, 30, 9]],
    ["batched matrix-vector (experts)", [64, 24, 40], [64, 40, 1]],
    ["attention-sized batch", [8, 64, 16], [8, 16, 64]],
  ];
  it.each(cases)("%s: [%s] x [%s]", (_, ad, bd) => {
    const a = f32(ad), b = f32(bd);
    sameBits(matmulKernel(a, b), naiveMatmul(a, b));
  });
});

describe("Gemm on float32 (transposed operands)", () => {
  it.each([[false, false], [true, false], [false, true], [true, true]])("transA %s, transB %s", (transA, transB) => {
    const m = 23, n = 18, k = SKC + 31;
    const a = f32(transA ? [k, m] : [m, k]), b = f32(transB ? [n, k] : [k, n]), c = f32([n]);
    const got = gemmKernel(a, b, c, 0.5, 2, transA, transB);
    const x = a.data as Float32Array, y = b.data as Float32Array, cd = c.data as Float32Array;
    const want = new Float32Array(m * n);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        const prod = dot(k, (p) => x[transA ? p * m + i : i * k + p]!, (p) => y[transB ? j * k + p : p * n + j]!);
        // Gemm applies alpha and beta to the float64 total before rounding once; dot rounded it, so recompute unrounded.
        let total = 0;
        for (let k0 = 0; k0 < k; k0 += SKC) {
          let acc = 0;
          for (let p = k0; p < Math.min(k, k0 + SKC); p++) acc = Math.fround(acc + Math.fround(x[transA ? p * m + i : i * k + p]! * y[transB ? j * k + p : p * n + j]!));
          total += acc;
        }
        expect(Math.fround(total)).toBe(prod);
        want[i * n + j] = 0.5 * total + 2 * cd[j]!;
      }
    }
    sameBits(got, { dims: [m, n], data: want });
  });
});

describe("Gemm on float32 with alpha = beta = 1 and K in one block", () => {
  // The product is a float32 sum already; adding C and rounding once is float32 addition.
  it.each([[[40]], [[1]], [[33, 40]], [[33, 1]], [[1, 40]]])("C of shape %j", (cDims) => {
    const m = 33, n = 40, k = 64;
    const a = f32([m, k]), b = f32([k, n]), c = f32(cDims);
    const got = gemmKernel(a, b, c, 1, 1, false, false);
    const prod = matmulKernel(a, b).data as Float32Array, cd = c.data as Float32Array;
    const [rows, cols] = cDims.length === 2 ? cDims as [number, number] : [1, cDims[0]!];
    const want = Float32Array.from({ length: m * n }, (_, i) => prod[i]! + cd[(rows === 1 ? 0 : Math.floor(i / n)) * cols + (cols === 1 ? 0 : i % n)]!);
    sameBits(got, { dims: [m, n], data: want });
  });
});

describe("a tile of the product is the product's tile", () => {
  it("any rows and columns give the whole product's bits (the runtime computes by tiles)", () => {
    for (const [m, k, n] of [[70, 100, 90], [64, 600, 3], [9, 40, 200]] as const) {
      const a = f32([m, k]), b = f32([k, n]);
      const whole = matmulKernel(a, b).data as Float32Array;
      for (const [r0, r1, c0, c1] of [[0, 1, 0, n], [3, 7, 0, n], [5, m, 1, Math.min(n, 6)], [0, m, n - 1, n], [1, m - 1, 2, n]] as const) {
        const rows = makeTensor("f32", [r1 - r0, k], (a.data as Float32Array).slice(r0 * k, r1 * k));
        const cols = new Float32Array(k * (c1 - c0));
        for (let p = 0; p < k; p++) for (let j = c0; j < c1; j++) cols[p * (c1 - c0) + j - c0] = (b.data as Float32Array)[p * n + j]!;
        const tile = matmulKernel(rows, makeTensor("f32", [k, c1 - c0], cols)).data as Float32Array;
        let differ = 0;
        for (let i = r0; i < r1; i++) for (let j = c0; j < c1; j++) if (!Object.is(tile[(i - r0) * (c1 - c0) + j - c0], whole[i * n + j])) differ++;
        expect(differ, `rows ${r0}..${r1}, columns ${c0}..${c1} of ${m} x ${k} x ${n}`).toBe(0);
      }
    }
  });
});

describe("error against float64 sums", () => {
  // Worst case per K block: gamma_SKC sum |a b| (each term rounded at most SKC times), u = 2^-24;
  // the float64 fold and the final rounding add about u |c|.
  const bound = (SKC + 2) * 2 ** -24;

  function errors(m: number, n: number, k: number, positive: boolean) {
    const rnd = random(k + (positive ? 1 : 0));
    const a = Float32Array.from({ length: m * k }, () => (positive ? rnd() + 0.5 : rnd()));
    const b = Float32Array.from({ length: k * n }, () => (positive ? rnd() + 0.5 : rnd()));
    const got = matmulKernel(makeTensor("f32", [m, k], a), makeTensor("f32", [k, n], b)).data as Float32Array;
    const exact = gemmFloat(m, n, k, { data: Float64Array.from(a), offset: 0, rowStride: k, colStride: 1 }, { data: Float64Array.from(b), offset: 0, rowStride: n, colStride: 1 });
    let rel = 0, abs = 0, plainRel = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let mag = 0, plain = 0;
        for (let p = 0; p < k; p++) {
          mag += Math.abs(a[i * k + p]! * b[p * n + j]!);
          plain = Math.fround(plain + Math.fround(a[i * k + p]! * b[p * n + j]!));
        }
        const e = Math.abs(got[i * n + j]! - exact[i * n + j]!);
        abs = Math.max(abs, e);
        rel = Math.max(rel, e / mag);
        plainRel = Math.max(plainRel, Math.abs(plain - exact[i * n + j]!) / mag);
      }
    }
    return { rel, abs, plainRel };
  }

  it("stays within the bound at K = 4096, and below a plain float32 sum's error", () => {
    const lines: string[] = [];
    for (const positive of [false, true]) {
      for (const k of [64, 256, 1024, 4096]) {
        const { rel, abs, plainRel } = errors(16, 24, k, positive);
        lines.push(`  K ${String(k).padStart(4)} ${positive ? "positive" : "centred "}: max |error| ${abs.toExponential(2)}, / sum|ab| ${rel.toExponential(2)} (plain float32 sum ${plainRel.toExponential(2)})`);
        expect(rel).toBeLessThanOrEqual(bound);
        if (positive && k === 4096) expect(rel).toBeLessThan(plainRel);
      }
    }
    console.log(`float32 GEMM against float64 sums (bound ${bound.toExponential(2)} of sum |a b|):\n${lines.join("\n")}`);
  });
});
