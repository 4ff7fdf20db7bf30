// The float GEMM's paths must agree bit for bit, in each of its two orders
// (float32 sums for float32 operands, float64 otherwise): the JavaScript
// kernel, the WebAssembly SIMD kernels on one thread, and the same split across worker
// threads (checked to have taken part), through MatMul, Gemm and Conv too.
// Worker threads must not keep a process alive.

import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GemmBatch, MatView, StoreC } from "../../targets/reference/kernels/gemm.js";
import { GEMM_PARALLEL_MIN_FLOPS, GEMM_WASM_MIN_FLOPS, gemmFloat, gemmFloatBatch } from "../../targets/reference/kernels/gemm.js";
import { gemmWorkerChunks, setGemmThreads } from "../../targets/reference/kernels/gemm-pool.js";
import { softmaxKernel } from "../../targets/reference/kernels/softmax.js";
import { unaryOp } from "../../targets/reference/kernels/pointwise.js";
import { layerNormKernel } from "../../targets/reference/kernels/normalize.js";
import { KC } from "../../targets/reference/kernels/gemm-wasm.js";
import { SKC } from "../../targets/reference/kernels/gemm-f32-wasm.js";
import { convKernel } from "../../targets/reference/kernels/conv.js";
import { gemmKernel, matmulKernel } from "../../targets/reference/kernels/matmul.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";

function random(seed: number): () => number {
  let s = seed;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
}
const next = random(7);
function floats(count: number, type: Float32ArrayConstructor | Float64ArrayConstructor = Float32Array): Float32Array | Float64Array {
  const out = new type(count);
  for (let i = 0; i < count; i++) out[i] = next();
  return out;
}
const randomTensor = (dims: number[]): Tensor => makeTensor("f32", dims, floats(dims.reduce((p, d) => p * d, 1)));

/** Run a batch and collect every C_t as one row-major float64 array. */
function collect(job: GemmBatch): Float64Array {
  const out = new Float64Array(job.count * job.m * job.n).fill(NaN);
  const store: StoreC = (t, row0, col0, rows, cols, c, off, ldc) => {
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) out[(t * job.m + row0 + r) * job.n + col0 + j] = c[off + r * ldc + j]!;
    }
  };
  gemmFloatBatch(job, store);
  return out;
}

/** The JavaScript kernel, one GEMM at a time. */
function reference(job: GemmBatch): Float64Array {
  const out = new Float64Array(job.count * job.m * job.n);
  for (let t = 0; t < job.count; t++) out.set(gemmFloat(job.m, job.n, job.k, job.a(t), job.b(t)), t * job.m * job.n);
  return out;
}

/**
 * Sums in the documented order, as plain loops: float32 operands sum in float32 (each product
 * and sum rounded) within K blocks of SKC, blocks added in float64; others in float64 within
 * K blocks of KC from zero, added in turn.
 */
function naive(m: number, n: number, k: number, a: MatView, b: MatView): Float64Array {
  const c = new Float64Array(m * n);
  const f32 = a.data instanceof Float32Array && b.data instanceof Float32Array;
  const block = f32 ? SKC : KC, round = f32 ? Math.fround : (x: number) => x;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k0 = 0; k0 < k; k0 += block) {
        let acc = 0;
        for (let p = k0; p < Math.min(k, k0 + block); p++) {
          acc = round(acc + round((a.data[a.offset + i * a.rowStride + p * a.colStride] as number) * (b.data[b.offset + p * b.rowStride + j * b.colStride] as number)));
        }
        sum += acc;
      }
      c[i * n + j] = sum;
    }
  }
  return c;
}

function batch(m: number, n: number, k: number, count: number, options: { f64A?: boolean; f64B?: boolean; transA?: boolean; sharedB?: boolean } = {}): GemmBatch {
  const as = Array.from({ length: count }, () => floats(m * k, options.f64A ? Float64Array : Float32Array));
  const bs = Array.from({ length: options.sharedB ? 1 : count }, () => floats(k * n, options.f64B ? Float64Array : Float32Array));
  return {
    m, n, k, count,
    a: (t) => (options.transA
      ? { data: as[t]!, offset: 0, rowStride: 1, colStride: m }
      : { data: as[t]!, offset: 0, rowStride: k, colStride: 1 }),
    b: (t) => ({ data: bs[options.sharedB ? 0 : t]!, offset: 0, rowStride: n, colStride: 1 }),
  };
}

function sameBits(actual: Float64Array, expected: Float64Array): void {
  expect(actual.length).toBe(expected.length);
  let differ = 0;
  for (let i = 0; i < expected.length; i++) if (!Object.is(actual[i], expected[i])) differ++;
  expect(differ, "elements that differ").toBe(0);
}

const sameTensor = (x: Tensor, y: Tensor) => {
  expect(x.dims).toEqual(y.dims);
  sameBits(Float64Array.from(x.data as Float32Array), Float64Array.from(y.data as Float32Array));
};

let threadsBefore = 1;
beforeAll(() => {
  threadsBefore = setGemmThreads(1);
});
afterAll(() => {
  setGemmThreads(threadsBefore);
});

describe("the WebAssembly GEMM matches the JavaScript kernel", () => {
  const shapes: [string, number, number, number, number][] = [
    ["edges not multiples of the tile, K over one block", 37, 29, 300, 3],
    ["one tall GEMM", 1024, 128, 64, 1],
    ["a batch of attention-sized GEMMs", 128, 128, 16, 32],
    ["K of several blocks", 64, 64, 2 * KC + 3, 1],
    ["many small GEMMs", 6, 5, 40, 600],
  ];
  it.each(shapes)("%s (%i x %i x %i, batch %i)", (_, m, n, k, count) => {
    const job = batch(m, n, k, count);
    expect(2 * m * n * k * count).toBeGreaterThanOrEqual(GEMM_WASM_MIN_FLOPS);
    sameBits(collect(job), reference(job));
  });

  it("float64 A or B, transposed A and a B shared by the batch", () => {
    for (const job of [batch(40, 36, 70, 4, { f64A: true }), batch(40, 36, 70, 4, { f64A: true, f64B: true }), batch(40, 36, 70, 4, { f64B: true }),
      batch(40, 36, 70, 4, { transA: true }), batch(40, 36, 70, 4, { sharedB: true })]) {
      sameBits(collect(job), reference(job));
    }
  });

  it("MatMul rounds the float64 sums to float32 as a Float32Array store does", () => {
    const a = randomTensor([3, 200, 48]), b = randomTensor([48, 72]);
    const want = Float32Array.from(gemmFloat(600, 72, 48, { data: a.data, offset: 0, rowStride: 48, colStride: 1 }, { data: b.data, offset: 0, rowStride: 72, colStride: 1 }));
    const got = matmulKernel(a, b);
    expect(got.dims).toEqual([3, 200, 72]);
    sameBits(Float64Array.from(got.data as Float32Array), Float64Array.from(want));
  });

  it("sums in the documented order (packed and few-column paths, float32 and float64)", () => {
    for (const f64B of [false, true]) {
      for (const [m, n, k] of [[9, 7, KC + 5], [9, 2, KC + 5], [9, 1, 3]] as const) {
        const job = batch(m, n, k, 1, { f64B });
        sameBits(reference(job), naive(m, n, k, job.a(0), job.b(0)));
      }
    }
  });
});

describe("worker threads", () => {
  let usedWorkers = false;

  beforeAll(async () => {
    setGemmThreads(2);
    // Workers start lazily and in the background: run parallel jobs until one has claimed a chunk.
    const job = batch(256, 256, 128, 1);
    expect(2 * 256 * 256 * 128).toBeGreaterThanOrEqual(GEMM_PARALLEL_MIN_FLOPS);
    const before = gemmWorkerChunks();
    for (let i = 0; i < 200 && gemmWorkerChunks() === before; i++) {
      collect(job);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    usedWorkers = gemmWorkerChunks() > before;
  }, 30_000);

  afterAll(() => {
    setGemmThreads(1);
  });

  it("give the same bits as one thread", () => {
    expect(usedWorkers, "a worker thread claimed a chunk").toBe(true);
    const jobs = [batch(1024, 128, 64, 1), batch(256, 96, 600, 2), batch(128, 128, 16, 32), batch(36, 1000, 200, 1)];
    for (const job of jobs) {
      // Parallel first, so a chunk a worker skipped cannot show a value left in the workspace by the single run.
      setGemmThreads(2);
      const before = gemmWorkerChunks();
      let parallel = collect(job);
      for (let i = 0; i < 20 && gemmWorkerChunks() === before; i++) parallel = collect(job); // the calling thread may win every chunk of one job
      setGemmThreads(1);
      sameBits(parallel, collect(job));
    }
  });

  it("give the same MatMul, Gemm and Conv as one thread", () => {
    const a = randomTensor([4, 256, 96]), b = randomTensor([96, 160]), bias = randomTensor([160]);
    const x = randomTensor([6, 8, 40, 40]), w = randomTensor([16, 8, 3, 3]), cb = randomTensor([16]);
    const gemmA = makeTensor("f32", [1024, 96], a.data);
    const run = () => [
      matmulKernel(a, b),
      gemmKernel(gemmA, b, bias, 0.5, 2, false, false),
      convKernel(x, w, cb, { pads: { type: "ints", value: [1, 1, 1, 1] } }),
    ];
    setGemmThreads(2);
    const parallel = run();
    setGemmThreads(1);
    run().forEach((t, i) => sameTensor(parallel[i]!, t));
  });

  it("run the SIMD kernels that split into rows (Softmax, Sigmoid, Tanh, Erf, LayerNormalization) with the same bits as one thread", () => {
    const x = randomTensor([8, 4, 128, 128]), h = randomTensor([8, 128, 256]), scale = randomTensor([256]), bias = randomTensor([256]);
    const kernels = () => [
      softmaxKernel(x, {}, 13, false), unaryOp("Sigmoid", h), unaryOp("Tanh", h), unaryOp("Erf", h),
      ...layerNormKernel(h, scale, bias, -1, 1e-5, 3),
    ];
    setGemmThreads(2);
    const before = gemmWorkerChunks();
    let parallel = kernels();
    for (let i = 0; i < 20 && gemmWorkerChunks() === before; i++) parallel = kernels();
    expect(gemmWorkerChunks(), "chunks the workers ran").toBeGreaterThan(before);
    setGemmThreads(1);
    kernels().forEach((t, i) => sameTensor(parallel[i]!, t));
  });

  it("do not keep the process alive", () => {
    const root = join(import.meta.dirname, "..", "..");
    const script = `
      import { gemmFloatBatch } from "./targets/reference/kernels/gemm.ts";
      import { gemmWorkerChunks, setGemmThreads } from "./targets/reference/kernels/gemm-pool.ts";
      setGemmThreads(2);
      const n = 256, a = new Float32Array(n * n).fill(1);
      const view = { data: a, offset: 0, rowStride: n, colStride: 1 };
      while (gemmWorkerChunks() === 0) {
        gemmFloatBatch({ m: n, n, k: n, count: 1, a: () => view, b: () => view }, () => {});
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      console.log("workers ran " + gemmWorkerChunks() + " chunks");`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root, encoding: "utf8", timeout: 20_000 });
    expect(r.error, r.stderr).toBeUndefined();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/workers ran \d+ chunks/);
  });
});

describe("depthwise and direct Conv", () => {
  // float64, so that a different order of the sums would show (float32 rounding would hide it).
  const f64 = (dims: number[], data?: Float64Array) => makeTensor("f64", dims, data ?? floats(dims.reduce((p, d) => p * d, 1), Float64Array));

  const f32 = (dims: number[], data?: Float32Array) => makeTensor("f32", dims, data ?? floats(dims.reduce((p, d) => p * d, 1), Float32Array));

  it("computes directly the same bits as through im2col and the GEMM (float64 and float32 orders)", () => {
    for (const [multiplier, make] of [[1, f64], [2, f64], [1, f32], [2, f32]] as const) {
      const wide = (dims: number[], data: Float32Array | Float64Array) => (make === f64 ? f64(dims, data as Float64Array) : f32(dims, data as Float32Array));
      const x = make([3, 6, 9, 11]), w = make([6 * multiplier, 1, 3, 5]), b = make([6 * multiplier]);
      const group = { type: "int", value: 6 } as const;
      const direct = convKernel(x, w, b, { group, pads: { type: "ints", value: [1, 2, 1, 2] }, strides: { type: "ints", value: [2, 1] } });
      // With a depth axis of 1 the same convolution takes the generic path.
      const generic = convKernel(wide([3, 6, 1, 9, 11], x.data as Float64Array), wide([6 * multiplier, 1, 1, 3, 5], w.data as Float64Array), b,
        { group, pads: { type: "ints", value: [0, 1, 2, 0, 1, 2] }, strides: { type: "ints", value: [1, 2, 1] } });
      expect(generic.dims).toEqual([3, 6 * multiplier, 1, ...direct.dims.slice(2)]);
      sameBits(Float64Array.from(direct.data as Float64Array), Float64Array.from(generic.data as Float64Array));
    }
  });

  it("a 1x1 Conv of 1x1 planes is one GEMM over the batch, with the bits of the generic path", () => {
    for (const [images, c, m, withBias] of [[5, 12, 20, true], [16, 72, 288, true], [3, 300, 8, true], [4, 9, 7, false]] as const) {
      const x = f32([images, c, 1, 1]), w = f32([m, c, 1, 1]), b = withBias ? f32([m]) : undefined;
      const direct = convKernel(x, w, b, {});
      const generic = convKernel(f32([images, c, 1, 1, 1], x.data as Float32Array), f32([m, c, 1, 1, 1], w.data as Float32Array), b, {});
      expect(direct.dims).toEqual([images, m, 1, 1]);
      sameBits(Float64Array.from(direct.data as Float32Array), Float64Array.from(generic.data as Float32Array));
    }
  });

  it("float32 with few products per output runs directly: input channel by channel, taps in order in float32, then the bias, at every stride, dilation, padding and grouping, on one thread and two", () => {
    type Ints = { type: "ints"; value: number[] };
    const ints = (value: number[]): Ints => ({ type: "ints", value });
    const cases: [number[], number[], number, { strides?: Ints; dilations?: Ints; pads?: Ints }][] = [
      [[2, 6, 9, 11], [6, 1, 3, 3], 6, { pads: ints([1, 1, 1, 1]) }], // depthwise, stride 1: whole-vector taps
      [[2, 6, 9, 11], [12, 1, 3, 3], 6, { strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) }], // stride 2: even lanes of two vectors
      [[3, 4, 4, 4], [4, 1, 5, 5], 4, { pads: ints([2, 2, 2, 2]) }], // more padding than plane
      [[1, 3, 13, 7], [3, 1, 3, 2], 3, { strides: ints([3, 3]), dilations: ints([2, 1]), pads: ints([0, 1, 2, 0]) }], // lane by lane
      [[2, 3, 17, 19], [8, 3, 3, 3], 1, { strides: ints([2, 2]), pads: ints([1, 1, 1, 1]) }], // a first layer: 3 channels in
      [[2, 4, 10, 10], [6, 2, 3, 3], 2, { pads: ints([1, 0, 1, 0]) }], // two groups of two
      [[16, 24, 20, 20], [24, 1, 5, 5], 24, { pads: ints([2, 2, 2, 2]) }], // enough work for the threads
    ];
    for (const threads of [1, 2]) {
      const previous = setGemmThreads(threads);
      try {
        for (const [xd, wd, group, geometry] of cases) {
          const [n, c, h, w] = xd as [number, number, number, number], [m, cg, kh, kw] = wd as [number, number, number, number];
          const x = f32(xd), wt = f32(wd), b = f32([m]);
          const [sy, sx] = geometry.strides?.value ?? [1, 1], [dy, dx] = geometry.dilations?.value ?? [1, 1], [pt, pl, pb, pr] = geometry.pads?.value ?? [0, 0, 0, 0];
          const oh = Math.floor((h + pt! + pb! - dy! * (kh - 1) - 1) / sy!) + 1, ow = Math.floor((w + pl! + pr! - dx! * (kw - 1) - 1) / sx!) + 1;
          for (const bias of [b, undefined]) {
            const got = convKernel(x, wt, bias, { group: { type: "int", value: group }, ...geometry }).data as Float32Array;
            const want = new Float32Array(n * m * oh * ow), xs = x.data as Float32Array, ws = wt.data as Float32Array, mg = m / group;
            for (let i = 0; i < n; i++) for (let ch = 0; ch < m; ch++) for (let y = 0; y < oh; y++) for (let o = 0; o < ow; o++) {
              let acc = 0;
              for (let ci = 0; ci < cg; ci++) for (let ky = 0; ky < kh; ky++) for (let kx = 0; kx < kw; kx++) {
                const iy = y * sy! + ky * dy! - pt!, ix = o * sx! + kx * dx! - pl!, plane = i * c + Math.floor(ch / mg) * cg + ci;
                const v = iy < 0 || iy >= h || ix < 0 || ix >= w ? 0 : xs[(plane * h + iy) * w + ix]!;
                acc = Math.fround(acc + Math.fround(ws[((ch * cg + ci) * kh + ky) * kw + kx]! * v));
              }
              want[((i * m + ch) * oh + y) * ow + o] = acc + (bias ? (b.data as Float32Array)[ch]! : 0);
            }
            sameBits(Float64Array.from(got), Float64Array.from(want));
          }
        }
      } finally {
        setGemmThreads(previous);
      }
    }
  });
});
