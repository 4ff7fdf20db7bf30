// The reference backend's speed against onnxruntime-node (CPU, 2 intra-op
// threads that sleep between runs, all graph optimisations) on the example models, at sizes where
// matrix products carry most of the work: text models at batch 8, sequence
// 128; mobilenet at batch 16. Both run in this process on the same inputs,
// alternating, after warm-up runs; the table shows medians. tierflow's
// MatMul/Gemm rate is those ops' FLOPs (compiler/analysis/summary.ts) over the
// time the interpreter's profile spends in them, beside this machine's peak.
// First, the GEMM kernel alone on its three paths (JavaScript, WebAssembly on
// one thread, WebAssembly on every thread).
//
//   goal: within 3x of onnxruntime on the matmul-heavy models.
//   npx tsx bench/reference-vs-ort.ts [--runs N] [--warmup N] [--only NAME-PART]

import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join } from "node:path";
import * as ort from "onnxruntime-node";
import { loadModel } from "../compiler/load.js";
import { nodeFlops, summarize } from "../compiler/analysis/summary.js";
import { mainGraph } from "../ir/graph/graph.js";
import type { Module } from "../ir/graph/graph.js";
import type { Tensor } from "../ir/tensor.js";
import { makeTensor } from "../ir/tensor.js";
import { gemmFloat, gemmFloatBatch } from "../targets/reference/kernels/gemm.js";
import { gemmThreads, gemmWorkerChunks, setGemmThreads } from "../targets/reference/kernels/gemm-pool.js";
import { BufferPool } from "../targets/reference/kernels/buffers.js";
import { WeightCache, run } from "../targets/reference/index.js";
import { median } from "./support/measure.js";

const MODELS = join(import.meta.dirname, "..", "examples", "models");
export const GOAL_RATIO = 3;
/** The goal is for matmul-heavy models: those whose MatMul and Gemm nodes carry at least this share of the FLOPs. */
export const MATMUL_HEAVY_SHARE = 0.5;

interface Case {
  readonly file: string;
  readonly dims: Readonly<Record<string, number>>;
}

const CASES: readonly Case[] = [
  ...["llama-tiny", "gpt2-tiny", "bert-tiny", "mixtral-tiny"].map((m) => ({ file: `${m}.torchscript.onnx`, dims: { batch: 8, sequence: 128 } })),
  ...["llama-tiny", "mixtral-tiny"].map((m) => ({ file: `${m}.dynamo.onnx`, dims: { batch: 8, sequence: 128 } })),
  { file: "mobilenet-tiny.torchscript.onnx", dims: { batch: 16 } },
];

export interface ModelRow {
  readonly file: string;
  readonly tierflowMs: number;
  readonly ortMs: number;
  /** Time the interpreter's profile gives MatMul and Gemm steps (a bias Add fused in included), and their MatMul and Gemm nodes' FLOPs (those fused into Attention steps are in neither). */
  readonly gemmMs: number;
  readonly gemmFlops: number;
  /** The same for Conv (an im2col GEMM). */
  readonly convMs: number;
  readonly convFlops: number;
  /** The ops that take longest apart from those, with their ms (medians over the profiled runs). */
  readonly otherOps: readonly [op: string, ms: number][];
  /** MatMul and Gemm nodes' share of the model's FLOPs (compiler/analysis/summary.ts). */
  readonly matmulShare: number;
}

export interface Peak {
  readonly gflops: number;
  readonly assumption: string;
}

/** Peak float32 rate from a stated assumption: AVX2 with FMA, two 8-lane FMA pipes per core. */
export function machinePeak(): Peak {
  const cpuinfo = (() => {
    try {
      return readFileSync("/proc/cpuinfo", "utf8");
    } catch {
      return "";
    }
  })();
  const mhz = Number(/^cpu MHz\s*:\s*([\d.]+)/m.exec(cpuinfo)?.[1] ?? NaN);
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1]?.trim() ?? "unknown CPU";
  const cores = availableParallelism();
  const flopsPerCycle = 2 * 8 * 2; // FMA pipes x float32 lanes x (multiply + add)
  const gflops = (flopsPerCycle * cores * mhz) / 1e3;
  const fma = /\bavx2\b/.test(cpuinfo) && /\bfma\b/.test(cpuinfo) ? "" : " (this CPU does not report avx2+fma: the figure is only nominal)";
  return {
    gflops,
    assumption: `${model}, ${cores} cores at ${mhz.toFixed(0)} MHz (/proc/cpuinfo), assuming AVX2 FMA: 2 FMA pipes x 8 float32 lanes x 2 FLOP = ${flopsPerCycle} FLOP per cycle per core${fma}`,
  };
}

/** Deterministic inputs: token ids below 512, an all-ones attention mask, pixels in [-1, 1). */
function inputsFor(module: Module, dims: Readonly<Record<string, number>>): Record<string, Tensor> {
  const inputs: Record<string, Tensor> = {};
  let seed = 12345;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (const name of mainGraph(module).inputs) {
    if (name === "pixels") {
      const t = makeTensor("f32", [dims["batch"]!, 3, 64, 64]);
      const d = t.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = 2 * next() - 1;
      inputs[name] = t;
    } else {
      const t = makeTensor("i64", [dims["batch"]!, dims["sequence"]!]);
      const d = t.data as BigInt64Array;
      for (let i = 0; i < d.length; i++) d[i] = name === "attention_mask" ? 1n : BigInt(Math.floor(next() * 512));
      inputs[name] = t;
    }
  }
  return inputs;
}

function toOrt(t: Tensor): ort.Tensor {
  return t.dtype === "i64"
    ? new ort.Tensor("int64", t.data as BigInt64Array, [...t.dims])
    : new ort.Tensor("float32", t.data as Float32Array, [...t.dims]);
}

const flopsOf = (f: unknown) => (typeof f === "number" ? f : NaN);

export async function benchModel(c: Case, runs: number, warmup: number): Promise<ModelRow> {
  const path = join(MODELS, c.file);
  const { module } = await loadModel(path);
  const inputs = inputsFor(module, c.dims);
  // One buffer pool and one set of decoded weights for all runs of a model, as a server
  // running it repeatedly would keep (onnxruntime's session holds its weights too).
  const options = { modelDir: dirname(path), buffers: new BufferPool(), weights: new WeightCache() };
  // onnxruntime's intra-op threads spin for work after each of its runs by default; on two
  // cores they then hold both while tierflow's next run starts (measured here: tierflow's llama
  // run 46 ms after a non-spinning session's run, 61-72 ms after a spinning one's, onnxruntime's
  // own time the same, 13.7 ms). Both engines' threads sleep when idle, so neither taxes the other.
  const session = await ort.InferenceSession.create(path, {
    executionProviders: ["cpu"], intraOpNumThreads: 2, interOpNumThreads: 1, graphOptimizationLevel: "all",
    extra: { session: { intra_op: { allow_spinning: "0" } } },
  });
  try {
    const feeds = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, toOrt(t)]));
    const ours: number[] = [], theirs: number[] = [];
    for (let i = 0; i < warmup + runs; i++) {
      let start = performance.now();
      run(module, inputs, options);
      const a = performance.now() - start;
      start = performance.now();
      await session.run(feeds);
      const b = performance.now() - start;
      if (i >= warmup) {
        ours.push(a);
        theirs.push(b);
      }
    }
    // Per-op time from separate profiled runs (timing every node costs a little).
    const gemm: number[] = [], conv: number[] = [], byOpRuns = new Map<string, number[]>();
    let gemmNodes: string[] = [];
    for (let i = 0; i < Math.max(3, Math.ceil(runs / 2)); i++) {
      const profile = run(module, inputs, { ...options, profile: true }).profile!;
      const gemmSteps = profile.filter((p) => p.op === "MatMul" || p.op === "Gemm");
      gemm.push(gemmSteps.reduce((s, p) => s + p.ms, 0));
      gemmNodes = gemmSteps.flatMap((p) => p.covers ?? [p.node]);
      conv.push(profile.filter((p) => p.op === "Conv").reduce((s, p) => s + p.ms, 0));
      const byOp = new Map<string, number>();
      for (const p of profile) byOp.set(p.op, (byOp.get(p.op) ?? 0) + p.ms);
      for (const [op, ms] of byOp) byOpRuns.set(op, [...(byOpRuns.get(op) ?? []), ms]);
    }
    const otherOps = [...byOpRuns].map(([op, ms]) => [op, median(ms)] as [string, number])
      .filter(([op]) => !["MatMul", "Gemm", "Conv"].includes(op)).sort((x, y) => y[1] - x[1]).slice(0, 3);
    const dims = new Map(Object.entries(c.dims)), graph = mainGraph(module);
    const isGemm = (op: string) => op === "MatMul" || op === "Gemm";
    const flopsOfNodes = (names: readonly string[]) => graph.nodes.filter((n) => isGemm(n.op) && names.includes(n.name)).reduce((s, n) => s + flopsOf(nodeFlops(graph, n, dims)), 0);
    const summary = summarize(module, dims), byOp = summary.flopsByOp;
    return {
      file: c.file, tierflowMs: median(ours), ortMs: median(theirs),
      gemmMs: median(gemm), gemmFlops: flopsOfNodes(gemmNodes),
      convMs: median(conv), convFlops: flopsOf(byOp["Conv"] ?? 0), otherOps,
      matmulShare: (flopsOf(byOp["MatMul"] ?? 0) + flopsOf(byOp["Gemm"] ?? 0)) / flopsOf(summary.flops),
    };
  } finally {
    await session.release();
  }
}

export interface KernelRow {
  readonly shape: string;
  readonly jsGflops: number;
  readonly wasmGflops: number;
  readonly parallelGflops: number;
}

/** One GEMM on each path, alternating, median of `runs`. */
export function benchGemmKernel(m: number, n: number, k: number, runs: number, threads: number): KernelRow {
  let seed = 1;
  const next = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
  const a = Float32Array.from({ length: m * k }, next), b = Float32Array.from({ length: k * n }, next);
  const av = { data: a, offset: 0, rowStride: k, colStride: 1 }, bv = { data: b, offset: 0, rowStride: n, colStride: 1 };
  const out = new Float32Array(m * n);
  const wasm = (threads: number) => () => {
    setGemmThreads(threads);
    gemmFloatBatch({ m, n, k, count: 1, a: () => av, b: () => bv, f32Result: true }, (_, row0, col0, rows, cols, c, off, ldc) => {
      for (let r = 0; r < rows; r++) out.set(c.subarray(off + r * ldc, off + r * ldc + cols), (row0 + r) * n + col0);
    });
  };
  const paths = [() => out.set(gemmFloat(m, n, k, av, bv)), wasm(1), wasm(threads)];
  const times: number[][] = paths.map(() => []);
  for (let i = 0; i < runs + 2; i++) {
    paths.forEach((f, p) => {
      const start = performance.now();
      f();
      if (i >= 2) times[p]!.push(performance.now() - start);
    });
  }
  const rate = (ms: number[]) => (2 * m * n * k) / median(ms) / 1e6;
  return { shape: `${m}x${k} * ${k}x${n}`, jsGflops: rate(times[0]!), wasmGflops: rate(times[1]!), parallelGflops: rate(times[2]!) };
}

const pad = (s: string, w: number) => s.padStart(w);

export function formatKernelTable(rows: readonly KernelRow[], threads: number): string {
  const lines = [`GEMM kernel, float32 operands: float32 sums in K blocks of 256, added in float64 (GFLOP/s; ${threads} threads in the last column)`,
    `  ${"shape".padEnd(20)} ${pad("JavaScript", 10)} ${pad("wasm 1t", 8)} ${pad(`wasm ${threads}t`, 8)}`];
  for (const r of rows) {
    lines.push(`  ${r.shape.padEnd(20)} ${pad(r.jsGflops.toFixed(1), 10)} ${pad(r.wasmGflops.toFixed(1), 8)} ${pad(r.parallelGflops.toFixed(1), 8)}`);
  }
  return lines.join("\n");
}

/** PASS or FAIL where the goal applies; otherwise what the model is instead. */
function verdict(r: ModelRow, ratio: number): string {
  if (!(r.matmulShare >= MATMUL_HEAVY_SHARE)) return `no goal (MatMul+Gemm ${(100 * r.matmulShare).toFixed(0)}% of FLOPs)`;
  return ratio <= GOAL_RATIO ? "PASS" : "FAIL";
}

export function formatModelTable(rows: readonly ModelRow[], peak: Peak): string {
  const rate = (flops: number, ms: number) => (ms > 0 && Number.isFinite(flops) ? flops / ms / 1e6 : NaN);
  const lines = [
    `reference backend vs onnxruntime-node (cpu, intraOpNumThreads 2, no spinning between runs, graphOptimizationLevel all); medians; ` +
      `goal: ratio <= ${GOAL_RATIO} on the matmul-heavy models (MatMul and Gemm at least ${100 * MATMUL_HEAVY_SHARE}% of the FLOPs)`,
    `  ${"model".padEnd(32)} ${pad("tierflow ms", 11)} ${pad("ort ms", 8)} ${pad("ratio", 6)}  ${pad("MatMul+Gemm", 11)} ${pad("GFLOP/s", 7)} ${pad("% peak", 6)}  ${pad("Conv GFLOP/s", 12)}`,
  ];
  for (const r of rows) {
    const ratio = r.tierflowMs / r.ortMs, g = rate(r.gemmFlops, r.gemmMs), c = rate(r.convFlops, r.convMs);
    lines.push(`  ${r.file.padEnd(32)} ${pad(r.tierflowMs.toFixed(1), 11)} ${pad(r.ortMs.toFixed(2), 8)} ${pad(ratio.toFixed(1), 6)}  ` +
      `${pad(`${r.gemmMs.toFixed(1)} ms`, 11)} ${pad(Number.isNaN(g) ? "-" : g.toFixed(1), 7)} ${pad(Number.isNaN(g) ? "-" : ((100 * g) / peak.gflops).toFixed(1), 6)}  ` +
      `${pad(Number.isNaN(c) ? "-" : c.toFixed(1), 12)}  ${verdict(r, ratio)}  ` +
      `largest others: ${r.otherOps.map(([op, ms]) => `${op} ${ms.toFixed(0)} ms`).join(", ")}`);
  }
  lines.push(`  peak ${peak.gflops.toFixed(1)} GFLOP/s: ${peak.assumption}`);
  return lines.join("\n");
}

/** Workers start lazily: run parallel GEMMs until one has taken part (or a second has passed). */
async function startWorkers(): Promise<void> {
  const n = 256, a = new Float32Array(n * n).fill(1), view = { data: a, offset: 0, rowStride: n, colStride: 1 };
  for (let i = 0; i < 100 && gemmWorkerChunks() === 0; i++) {
    gemmFloatBatch({ m: n, n, k: n, count: 1, a: () => view, b: () => view }, () => {});
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `only`: run the models whose file name contains it (default: all). */
export async function benchReferenceVsOrt(runs = 7, warmup = 2, only = ""): Promise<string> {
  const threads = gemmThreads();
  if (threads > 1) await startWorkers();
  const kernels = [[1024, 512, 64], [1024, 64, 256], [512, 512, 512]].map(([m, n, k]) => benchGemmKernel(m!, n!, k!, runs, threads));
  setGemmThreads(threads);
  const rows: ModelRow[] = [];
  for (const c of CASES) if (c.file.includes(only)) rows.push(await benchModel(c, runs, warmup));
  return `${formatKernelTable(kernels, threads)}\n${formatModelTable(rows, machinePeak())}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (name: string, fallback: number) => {
    const at = process.argv.indexOf(name);
    return at >= 0 ? Number(process.argv[at + 1]) : fallback;
  };
  const only = process.argv.indexOf("--only");
  console.log(await benchReferenceVsOrt(arg("--runs", 7), arg("--warmup", 2), only >= 0 ? process.argv[only + 1] : ""));
}
