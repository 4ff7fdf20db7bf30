// Composition of Experts benchmark on Llama-2-7B experts (weights absent:
// compile and simulation never read them), beside the SN40L paper's figures
// (Prabhakar et al., MICRO 2024; /work/shared/brief/hardware.md):
//   - compile time and memory for 1 and 150 experts sharing one base graph
//     (goal: 150 experts compile in under 5 s; memory flat in the experts);
//   - the expert-count sweep on a DGX-like node (8 x h100) and an SN40L-like
//     node (8 x sn40l): where mean latency jumps (HBM full; paper: ~50 on
//     DGX) and where the node runs out of memory (paper: ~150 on DGX; an
//     SN40L node serves 850);
//   - batch 8, 20 output tokens, each batch switching experts: SN40L node
//     over DGX H100 / A100 (paper 3.7x / 6.6x) and model switching alone
//     (paper 15x / 31x).
// Nodes are 8 single-socket targets with ideal tensor parallelism (the
// node-level presets are not used yet): see compiler/coe/residency.ts.
//
//   npx tsx bench/coe.ts

import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileCoe } from "../compiler/coe/compile-coe.js";
import type { CoePlan } from "../compiler/coe/compile-coe.js";
import { readManifest } from "../compiler/coe/manifest.js";
import { simulate } from "../compiler/coe/simulate.js";
import { planWithExperts, sweepExperts } from "../compiler/coe/sweep.js";
import { nodeOf } from "../compiler/coe/residency.js";
import { LLAMA_PRESETS, writeLlama } from "../examples/generate/llama-onnx.js";
import { loadTarget, presetNames } from "../targets/target.js";

const ROOT = join(import.meta.dirname, "..");
export const GOAL_COMPILE_150_S = 5;
const PAPER = { speedupH100: 3.7, speedupA100: 6.6, switchH100: 15, switchA100: 31, dgxJump: 50, dgxOom: 150, sn40lServes: 850 };
const SWEEP = [1, 10, 20, 30, 40, 45, 50, 55, 60, 80, 100, 120, 140, 145, 150, 160, 200, 300, 500, 700, 850, 900, 980, 1000];

/** A manifest folder: the example router, a Llama-2-7B base graph and `n` experts bound to (absent) weight files. */
function writeCoe7b(n: number): string {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-coe-7b-"));
  writeLlama(join(dir, "base/model.onnx"), LLAMA_PRESETS["llama-2-7b"]!);
  copyFileSync(join(ROOT, "examples/coe/router.onnx"), join(dir, "router.onnx"));
  const experts = Object.fromEntries(Array.from({ length: n }, (_, i) => [`e${i}`, { graph: "base/model.onnx", weights: `experts/e${i}.data` }]));
  mkdirSync(join(dir, "experts"));
  writeFileSync(join(dir, "coe.json"), JSON.stringify({
    format: "tierflow-coe", version: 1, router: { model: "router.onnx", routes: Object.fromEntries([0, 1, 2].map((i) => [i, `e${i % n}`])) }, experts,
    shared_graphs: { "base/model.onnx": { external_data_location: "model.onnx.data" } },
  }));
  return join(dir, "coe.json");
}

async function timedCompile(manifest: string, target: string): Promise<{ plan: CoePlan; seconds: number; heapMiB: number }> {
  globalThis.gc?.();
  const t = performance.now();
  const r = await compileCoe(readManifest(manifest), { target, batch: 8, seq: 128, context: 512, sockets: 8 });
  return { plan: r.plan, seconds: (performance.now() - t) / 1e3, heapMiB: process.memoryUsage().heapUsed / 2 ** 20 };
}

/** One batch of 8 requests for an expert not in HBM, 20 output tokens each: switch + prefill x 8 + 20 decode steps. */
function coldBatchSeconds(p: CoePlan): { total: number; switch: number } {
  const g = p.graphs[0]!;
  const sw = p.experts[0]!.bytes / p.node.switchBandwidth;
  return { total: sw + 8 * g.prefillSeconds + 20 * g.decodeSeconds, switch: sw };
}

export async function benchCoe(): Promise<string[]> {
  const lines: string[] = [];
  const one = writeCoe7b(1), many = writeCoe7b(150);
  const c1 = await timedCompile(one, "sn40l");
  const c150 = await timedCompile(many, "sn40l");
  lines.push(`coe-compile  Llama-2-7B base on 8 x sn40l: 1 expert ${c1.seconds.toFixed(2)} s (heap ${c1.heapMiB.toFixed(0)} MiB), 150 experts ${c150.seconds.toFixed(2)} s (heap ${c150.heapMiB.toFixed(0)} MiB) (goal < ${GOAL_COMPILE_150_S} s)  ${c150.seconds < GOAL_COMPILE_150_S ? "PASS" : "FAIL"}`);
  const h100 = (await timedCompile(many, "h100")).plan;
  const a100 = (await timedCompile(many, "a100")).plan;
  const sn40l = c150.plan;

  const sweepOptions = { requests: 400, rate: 2, seed: 1, distribution: "uniform" as const, policy: "pin-hot" as const, outputTokens: 20 };
  for (const [name, p] of [["8 x h100 (DGX H100-like)", h100], ["8 x sn40l (SN40L node-like)", sn40l]] as const) {
    const rows = sweepExperts(p, SWEEP, sweepOptions);
    const base = rows[0]!.result.latencyMean;
    const jump = rows.find((r) => r.result.latencyMean > 2 * base);
    const oom = rows.find((r) => r.result.outOfMemory);
    lines.push(`coe-sweep    ${name}: mean latency ${(base * 1e3).toFixed(1)} ms at 1 expert; doubles at ${jump ? `${jump.experts} experts (${(jump.result.latencyMean * 1e3).toFixed(1)} ms; ${jump.pinned} pinned in HBM)` : "no count up to 1000"}; out of memory at ${oom ? `${oom.experts} experts` : "no count up to 1000"}  (paper: DGX jumps at ~${PAPER.dgxJump}, out of memory at ~${PAPER.dgxOom}; SN40L node serves ${PAPER.sn40lServes})`);
    lines.push(`             ${rows.filter((r) => [1, 40, 50, 60, 100, 150, 850, 1000].includes(r.experts)).map((r) => `${r.experts}: ${(r.result.latencyMean * 1e3).toFixed(0)} ms${r.result.outOfMemory ? " OOM" : ""}`).join(", ")}`);
  }

  const s = coldBatchSeconds(sn40l), h = coldBatchSeconds(h100), a = coldBatchSeconds(a100);
  const fmt = (x: number, paper: number) => `${x.toFixed(1)}x (paper ${paper}x, ratio ${(x / paper).toFixed(2)})`;
  lines.push(`coe-speedup  batch 8, 20 tokens, every batch switches: sn40l node ${(s.total * 1e3).toFixed(1)} ms, DGX H100 ${(h.total * 1e3).toFixed(1)} ms, DGX A100 ${(a.total * 1e3).toFixed(1)} ms: over H100 ${fmt(h.total / s.total, PAPER.speedupH100)}, over A100 ${fmt(a.total / s.total, PAPER.speedupA100)}`);
  lines.push(`coe-switch   one 13.48 GB expert: sn40l node ${(s.switch * 1e3).toFixed(1)} ms (${sn40l.node.switchBandwidth / 1e9} GB/s), DGX H100 ${(h.switch * 1e3).toFixed(1)} ms, DGX A100 ${(a.switch * 1e3).toFixed(1)} ms: over H100 ${fmt(h.switch / s.switch, PAPER.switchH100)}, over A100 ${fmt(a.switch / s.switch, PAPER.switchA100)}`);
  // The paper quotes "over 1 TB/s per node" for DDR -> HBM, below 8 sockets x 200 GB/s; its switching ratios fit 1 TB/s.
  const paperNode = sn40l.experts[0]!.bytes / 1e12;
  lines.push(`             with the paper's node figure of 1 TB/s instead: over H100 ${fmt(h.switch / paperNode, PAPER.switchH100)}, over A100 ${fmt(a.switch / paperNode, PAPER.switchA100)}`);
  // Node presets, where present, give each GPU its own host link: switching then differs far less.
  const presets = presetNames();
  if (["sn40l-node", "dgx-h100", "dgx-a100"].every((n) => presets.includes(n))) {
    const bw = (n: string) => nodeOf(loadTarget(n)).switchBandwidth;
    lines.push(`             with the node presets' load bandwidths (sn40l-node ${bw("sn40l-node") / 1e9}, dgx-h100 ${bw("dgx-h100") / 1e9}, dgx-a100 ${bw("dgx-a100") / 1e9} GB/s): over H100 ${(bw("sn40l-node") / bw("dgx-h100")).toFixed(1)}x, over A100 ${(bw("sn40l-node") / bw("dgx-a100")).toFixed(1)}x`);
  }
  // The workload view: 150 experts, uniform requests, 8 at a time to one expert.
  const sim = (p: CoePlan) => simulate(planWithExperts(p, 150), Array.from({ length: 400 }, (_, i) => ({ arrival: Math.floor(i / 8) * 2, promptTokens: 128, outputTokens: 20, expert: `e0-${(Math.floor(i / 8) * 37) % 150}` })), "pin-hot").result;
  const ss = sim(sn40l), sh = sim(h100), sa = sim(a100);
  lines.push(`coe-serve    150 experts, batches of 8 spread over all experts, pin-hot: mean latency sn40l ${(ss.latencyMean * 1e3).toFixed(1)} ms, DGX H100 ${(sh.latencyMean * 1e3).toFixed(1)} ms (${(sh.latencyMean / ss.latencyMean).toFixed(1)}x), DGX A100 ${(sa.latencyMean * 1e3).toFixed(1)} ms (${(sa.latencyMean / ss.latencyMean).toFixed(1)}x)`);
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) for (const line of await benchCoe()) console.log(line);
