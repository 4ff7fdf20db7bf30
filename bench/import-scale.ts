// Scale benchmark for the front end: a Llama-2-7B-shaped ONNX graph (the
// TorchScript exporter's node structure, 6.7 B parameters as external data
// that is NOT present) must import, get every shape inferred and print
// `tierflow inspect` in under 1 s with peak memory under 300 MB.

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LLAMA_PRESETS, writeLlama } from "../examples/generate/llama-onnx.js";
import { measureCli, median } from "./support/measure.js";

export const GOAL_WALL_MS = 1000;
export const GOAL_RSS_MIB = 300;

export function benchImportScale(runs = 5): { wallMs: number; maxRssMiB: number; nodes: number; pass: boolean } {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-scale-"));
  try {
    const model = join(dir, "model.onnx");
    const written = writeLlama(model, LLAMA_PRESETS["llama-2-7b"]!);
    const samples = Array.from({ length: runs }, () => measureCli(["inspect", model]));
    const out = samples[0]!.stdout;
    if (!/parameters: 6\.74 G/.test(out)) throw new Error(`unexpected inspect output:\n${out}`);
    if (/unk__/.test(out)) throw new Error("a shape was left unresolved (unk__ symbol) in the output");
    const wallMs = median(samples.map((s) => s.wallMs));
    const maxRssMiB = Math.max(...samples.map((s) => s.maxRssMiB));
    return { wallMs, maxRssMiB, nodes: written.nodes, pass: wallMs < GOAL_WALL_MS && maxRssMiB < GOAL_RSS_MIB };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const r = benchImportScale();
  console.log(`import-scale: Llama-2-7B graph (${r.nodes} ONNX nodes, weights absent): inspect ${r.wallMs.toFixed(0)} ms (goal < ${GOAL_WALL_MS}), peak RSS ${r.maxRssMiB.toFixed(0)} MiB (goal < ${GOAL_RSS_MIB}) ${r.pass ? "PASS" : "FAIL"}`);
}
