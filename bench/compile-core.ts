// Compiler-core benchmark: predictions for Llama-2-7B shapes against the
// roofline floor and against an H100 measured by hand, compile time, and
// compile time beside onnxruntime-node's session creation on the same files.
//
//   goals: sn40l decode (batch 1) within 1.3x of the HBM weight-streaming floor;
//          h100 decode (batch 1, context 128) on the calibrated target within 10% of
//          the H100 measurement (bench/device/h100-grid.json), and its weight matmuls
//          within 10% of the profiled ones (context 1024); the preset's peaks beside it;
//          Llama-2-7B compiles at -O2 in under 2 s.

import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { readFileSync } from "node:fs";
import { compile, compileModule, loadFused, modelSource } from "../compiler/compile.js";
import { measuredCurves } from "../compiler/cost/efficiency.js";
import { planKernelTimes } from "../compiler/cost/measured-cost.js";
import { loadTarget } from "../targets/target.js";
import type { CompileOptions } from "../compiler/compile.js";
import type { Plan } from "../ir/placement/plan.js";
import { LLAMA_PRESETS, writeLlama } from "../examples/generate/llama-onnx.js";
import { median } from "./support/measure.js";
import type { Grid, MeasuredPoint } from "./h100-grid.js";

const ROOT = join(import.meta.dirname, "..");
/** Hugging Face's Llama-2-7B decode at batch 1 measured on one H100 (bench/device/measure_h100.py). */
function measuredDecode(context: number): MeasuredPoint {
  const grid = JSON.parse(readFileSync(join(ROOT, "bench", "device", "h100-grid.json"), "utf8")) as Grid;
  return grid.points.find((p) => p.model === "llama-2-7b" && p.phase === "decode" && p.batch === 1 && p.context === context)!;
}

const ms = (s: number) => (s * 1e3).toFixed(3);

async function plan(model: string, options: CompileOptions): Promise<Plan> {
  return (await compile(model, options)).plan;
}

/** Seconds of the plan's weight matrix products, each kernel priced by the target's curves. */
function weightMatmulSeconds(p: Plan, target: ReturnType<typeof loadTarget>): number {
  const kernels = new Map(p.dataflow.kernels.map((k) => [k.name, k]));
  const weights = new Set(p.dataflow.tensors.filter((t) => t.role === "weight").map((t) => t.name));
  let seconds = 0;
  for (const [name, t] of planKernelTimes(p, target, measuredCurves(target)!)) {
    const k = kernels.get(name);
    if (k?.kind === "matmul" && k.inputs.some((i) => weights.has(i))) seconds += t.seconds;
  }
  return seconds;
}

export async function benchCompileCore(): Promise<string[]> {
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "tierflow-core-"));
  try {
    const llama = join(dir, "llama-2-7b.onnx");
    writeLlama(llama, LLAMA_PRESETS["llama-2-7b"]!);
    const base = { batch: 1, dtype: "bf16" as const };

    const decode = await Promise.all([0, 1, 2].map((opt) => plan(llama, { ...base, target: "sn40l", opt: opt as 0 | 1 | 2, phase: "decode", seq: 128 })));
    const prefill = await Promise.all([0, 2].map((opt) => plan(llama, { ...base, target: "sn40l", opt: opt as 0 | 2, phase: "prefill", seq: 2048 })));
    const d2 = decode[2]!.prediction;
    lines.push("Llama-2-7B shapes, bf16, sn40l:");
    lines.push(`  decode b1 ctx128: -O0 ${ms(decode[0]!.prediction.seconds)} ms, -O1 ${ms(decode[1]!.prediction.seconds)} ms, -O2 ${ms(d2.seconds)} ms; floor ${ms(d2.floorSeconds)} ms; ratio ${d2.ratioToFloor.toFixed(2)} (goal <= 1.3) ${d2.ratioToFloor <= 1.3 ? "PASS" : "FAIL"}`);
    lines.push(`  decode -O2 / -O0 speedup: ${(decode[0]!.prediction.seconds / d2.seconds).toFixed(2)}x`);
    lines.push(`  prefill b1 2048 tokens: -O0 ${ms(prefill[0]!.prediction.seconds)} ms, -O2 ${ms(prefill[1]!.prediction.seconds)} ms; speedup ${(prefill[0]!.prediction.seconds / prefill[1]!.prediction.seconds).toFixed(2)}x; -O2 ratio to floor ${prefill[1]!.prediction.ratioToFloor.toFixed(2)}`);

    // GPUs run the exported graph kernel by kernel: the -O0 graph with attention one SDPA kernel, as transformers does.
    const calibrated = loadTarget(join(ROOT, "targets", "calibrated", "h100.json"));
    const fused = await loadFused(llama, { opt: 0 });
    const gpuDecode = (seq: number) => compileModule(fused, modelSource(llama), { ...base, target: calibrated, opt: 1, phase: "decode", seq }).plan;
    const roofline = await plan(llama, { ...base, target: "h100", opt: 0, phase: "decode", seq: 128 });
    const measured = measuredDecode(128).ms!.median, predicted = gpuDecode(128).prediction.seconds * 1e3;
    const decodeErr = predicted / measured - 1;
    const mm = weightMatmulSeconds(gpuDecode(1024), calibrated) * 1e3, mmMeasured = measuredDecode(1024).profile!.by_class.gemm!.ms_per_step;
    const mmErr = mm / mmMeasured - 1;
    lines.push(`Llama-2-7B shapes, bf16, ${calibrated.name} (targets/calibrated/h100.json, kernel by kernel) against Hugging Face's model on an H100:`);
    lines.push(`  decode b1 ctx128: predicted ${predicted.toFixed(3)} ms vs ${measured.toFixed(3)} ms measured (${(100 * decodeErr).toFixed(1)}%, goal within 10%) ${Math.abs(decodeErr) <= 0.1 ? "PASS" : "FAIL"}; ` +
      `the h100 preset's peaks ${ms(roofline.prediction.seconds)} ms (${(100 * (roofline.prediction.seconds * 1e3 / measured - 1)).toFixed(1)}%)`);
    lines.push(`  weight matmuls alone, ctx1024: predicted ${mm.toFixed(3)} ms vs ${mmMeasured.toFixed(3)} ms profiled (${(100 * mmErr).toFixed(1)}%, goal within 10%) ${Math.abs(mmErr) <= 0.1 ? "PASS" : "FAIL"}`);

    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await compile(llama, { ...base, target: "sn40l", opt: 2, phase: "decode", seq: 128 });
      times.push(performance.now() - t0);
    }
    const t = median(times);
    lines.push(`  compile time, Llama-2-7B -O2 (in process, median of 3): ${t.toFixed(0)} ms (goal < 2000) ${t < 2000 ? "PASS" : "FAIL"}`);

    lines.push("compile time beside onnxruntime-node session creation (graph optimisation level all), same files:");
    const models = readdirSync(join(ROOT, "examples/models")).filter((f) => f.endsWith(".onnx")).sort();
    for (const f of models) {
      const path = join(ROOT, "examples/models", f);
      const ours: number[] = [], theirs: number[] = [];
      for (let i = 0; i < 3; i++) {
        let t0 = performance.now();
        await compile(path, { target: "sn40l", opt: 2, phase: "prefill", batch: 1, seq: 128 });
        ours.push(performance.now() - t0);
        t0 = performance.now();
        const s = await ort.InferenceSession.create(path, { graphOptimizationLevel: "all" });
        theirs.push(performance.now() - t0);
        await s.release();
      }
      const a = median(ours), b = median(theirs);
      lines.push(`  ${f.padEnd(34)} tierflow ${a.toFixed(1).padStart(7)} ms  onnxruntime ${b.toFixed(1).padStart(7)} ms  ratio ${(a / b).toFixed(2)}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchCompileCore()) console.log(line);
}
