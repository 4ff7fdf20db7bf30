// Compiler-core benchmark: predictions for Llama-2-7B shapes against the
// roofline floor and against an H100 measured by hand, compile time, and
// compile time beside onnxruntime-node's session creation on the same files.
//
//   goals: sn40l decode (batch 1) within 1.3x of the HBM weight-streaming floor;
//          h100 decode (batch 1, context 128) within 20% of 8.25 ms measured,
//          and its weight matmuls within 20% of 5.09 ms measured;
//          Llama-2-7B compiles at -O2 in under 2 s.

import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as ort from "onnxruntime-node";
import { compile } from "../compiler/compile.js";
import type { CompileOptions } from "../compiler/compile.js";
import type { Plan } from "../ir/placement/plan.js";
import { LLAMA_PRESETS, writeLlama } from "../examples/generate/llama-onnx.js";
import { median } from "./support/measure.js";

const ROOT = join(import.meta.dirname, "..");
// Measured on one H100 80GB HBM3, PyTorch 2.11, bf16 (shared/brief hardware figures).
const H100_DECODE_MS = 8.25;
const H100_WEIGHT_MATMULS_MS = 5.09;

const ms = (s: number) => (s * 1e3).toFixed(3);

async function plan(model: string, options: CompileOptions): Promise<Plan> {
  return (await compile(model, options)).plan;
}

/** Seconds the plan spends in sections whose kernels are weight matrix products. */
function weightMatmulSeconds(p: Plan): number {
  const kernels = new Map(p.dataflow.kernels.map((k) => [k.name, k]));
  const weights = new Set(p.dataflow.tensors.filter((t) => t.role === "weight").map((t) => t.name));
  return p.sections
    .filter((s) => s.kernels.some((a) => {
      const k = kernels.get(a.kernel)!;
      return k.kind === "matmul" && k.inputs.some((i) => weights.has(i));
    }))
    .reduce((sum, s) => sum + s.cost.seconds, 0);
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

    // GPUs run the exported graph kernel by kernel (-O0), as a framework's eager decode does.
    const h100 = await plan(llama, { ...base, target: "h100", opt: 0, phase: "decode", seq: 128 });
    const decodeErr = h100.prediction.seconds * 1e3 / H100_DECODE_MS - 1;
    const mm = weightMatmulSeconds(h100) * 1e3;
    const mmErr = mm / H100_WEIGHT_MATMULS_MS - 1;
    lines.push("Llama-2-7B shapes, bf16, h100 (kernel by kernel):");
    lines.push(`  decode b1 ctx128: predicted ${ms(h100.prediction.seconds)} ms vs ${H100_DECODE_MS} ms measured (${(100 * decodeErr).toFixed(1)}%, goal within 20%) ${Math.abs(decodeErr) <= 0.2 ? "PASS" : "FAIL"}`);
    lines.push(`  weight matmuls alone: predicted ${mm.toFixed(3)} ms vs ${H100_WEIGHT_MATMULS_MS} ms measured (${(100 * mmErr).toFixed(1)}%, goal within 20%) ${Math.abs(mmErr) <= 0.2 ? "PASS" : "FAIL"}`);

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
