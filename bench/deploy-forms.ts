// Deployed forms: what quantized weights buy in decode, and what tierflow
// fuses in each form of the same decoder.
//
// 1. Llama-2-7B-shaped with-past decoders (examples/generate/llama-onnx.ts),
//    bf16 weights against int4 MatMulNBits weights (blocks of 32 along K, one
//    bf16 scale per block), decode on sn40l at -O2, batch 1, context 2048:
//    the predicted time per token and the weight bytes, side by side. Decode
//    streams every weight once per token, so the time ratio should approach
//    the bytes ratio (the KV cache and the embedding stay bf16).
// 2. Every form in examples/deploy/ (deploy.json): the fused ops of its decode plan.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile } from "../compiler/compile.js";
import type { Plan } from "../ir/placement/plan.js";
import { LLAMA_PRESETS, writeLlama } from "../examples/generate/llama-onnx.js";

const ROOT = join(import.meta.dirname, "..");
const CONTEXT = 2048;

const roleBytes = (p: Plan, roles: readonly string[]) => p.dataflow.tensors.filter((t) => roles.includes(t.role)).reduce((s, t) => s + t.bytes, 0);
const weightBytes = (p: Plan) => roleBytes(p, ["weight", "constant"]);
const gib = (b: number) => (b / 2 ** 30).toFixed(2);

export async function benchDeployForms(): Promise<string[]> {
  const lines = [`deploy-forms  Llama-2-7B-shaped decode on sn40l -O2, batch 1, context ${CONTEXT}, bf16 against int4 weights:`];
  const dir = mkdtempSync(join(tmpdir(), "tierflow-forms-"));
  try {
    const plans: Record<string, Plan> = {};
    for (const weights of ["float", "int4"] as const) {
      const model = join(dir, weights, "model.onnx");
      writeLlama(model, LLAMA_PRESETS["llama-2-7b"]!, { past: true, weights });
      plans[weights] = (await compile(model, { target: "sn40l", opt: 2, phase: "decode", batch: 1, seq: CONTEXT, dtype: "bf16" })).plan;
    }
    const [bf16, int4] = [plans.float!, plans.int4!];
    for (const [name, p] of [["bf16", bf16], ["int4", int4]] as const) {
      lines.push(`  ${name.padEnd(5)} ${(p.prediction.seconds * 1e3).toFixed(3).padStart(8)} ms per token, weights ${gib(weightBytes(p)).padStart(6)} GiB, floor ${(p.prediction.floorSeconds * 1e3).toFixed(3)} ms (${p.prediction.ratioToFloor.toFixed(2)}x)`);
    }
    const timeRatio = bf16.prediction.seconds / int4.prediction.seconds, bytesRatio = weightBytes(bf16) / weightBytes(int4);
    // A decode step reads every weight and the whole KV cache (the same in both) once.
    const read = (p: Plan) => weightBytes(p) + roleBytes(p, ["kv-cache"]);
    lines.push(`  bf16 / int4: time ${timeRatio.toFixed(2)}x, weight bytes ${bytesRatio.toFixed(2)}x, weight and KV cache bytes ${(read(bf16) / read(int4)).toFixed(2)}x`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  lines.push("  fused ops per deployed form (examples/deploy/, decode plan on sn40l -O2):");
  const deploy = JSON.parse(readFileSync(join(ROOT, "examples", "deploy", "deploy.json"), "utf8")) as { files: { file: string; form: string; ops?: object }[] };
  for (const entry of deploy.files.filter((e) => e.ops && e.form !== "qdq")) {
    try {
      const { plan } = await compile(join(ROOT, "examples", "deploy", entry.file), { target: "sn40l", opt: 2, phase: "decode", batch: 1, seq: 64 });
      const fused = Object.entries(plan.fusion).map(([op, n]) => `${op.replace(/^tierflow\./, "")} ${n}`).join(", ");
      lines.push(`    ${entry.file.padEnd(30)} ${fused}`);
    } catch (err) {
      lines.push(`    ${entry.file.padEnd(30)} not supported: ${(err as Error).message}`);
    }
  }
  return lines;
}
