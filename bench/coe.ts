// Composition of Experts benchmark on Llama-2-7B experts (weights absent:
// compile and simulation never read them), beside the SN40L paper's figures
// (Prabhakar et al., MICRO 2024; /work/shared/brief/hardware.md):
//   - compile time of 150 experts sharing one base graph on sn40l-node (goal:
//     under 5 s), and peak memory of a fresh `tierflow compile` process at 10,
//     150 and 1000 experts (goal: flat in the number of experts);
//   - the expert-count sweep on dgx-h100 and sn40l-node: where mean latency
//     jumps (HBM full; paper: ~50 on DGX) and where the node runs out of memory
//     (paper: ~150 on DGX; an SN40L node serves 850);
//   - batch 8, 20 output tokens, each batch switching experts: sn40l-node over
//     dgx-h100 / dgx-a100 (paper 3.7x / 6.6x) and model switching alone (paper
//     15x / 31x).
// Expert times come from the node compiler's tensor-parallel plans on the node
// presets (compiler/coe/graph-plans.ts). Switching is shown two ways: the
// presets' load bandwidths (a host link per GPU, 55 GB/s each as measured on
// an H100) and the paper's DGX assumption (every switch over one host link of
// 64 GB/s on H100, 32 GB/s on A100).
//
//   npx tsx bench/coe.ts

import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { compileCoe } from "../compiler/coe/compile-coe.js";
import type { CoePlan } from "../compiler/coe/compile-coe.js";
import { readManifest } from "../compiler/coe/manifest.js";
import { simulate } from "../compiler/coe/simulate.js";
import { planWithExperts, sweepExperts } from "../compiler/coe/sweep.js";
import { decodeStepSeconds } from "../compiler/coe/decode-steps.js";
import { LLAMA_PRESETS, writeLlama } from "../examples/generate/llama-onnx.js";

const ROOT = join(import.meta.dirname, "..");
export const GOAL_COMPILE_150_S = 5;
/** Peak RSS of a compile may grow by at most this much from 10 to 1000 experts. */
export const GOAL_RSS_GROWTH_MIB = 32;
const PAPER = { speedupH100: 3.7, speedupA100: 6.6, switchH100: 15, switchA100: 31, dgxJump: 50, dgxOom: 150, sn40lServes: 850 };
/** The paper's host-to-GPU bandwidth for model switching (hardware brief): every switch over one such link. */
const PAPER_HOST_LINK: Readonly<Record<string, number>> = { "dgx-h100": 64e9, "dgx-a100": 32e9 };
const SWEEP = [1, 10, 20, 30, 40, 45, 50, 55, 60, 80, 100, 120, 140, 145, 150, 160, 200, 300, 500, 700, 850, 900, 980, 1000];
const COMPILE = { batch: 8, seq: 128, context: 512 } as const;

/** A manifest folder: the example router, a Llama-2-7B base graph and `n` experts bound to (absent) weight files. */
function writeCoe7b(dir: string, n: number): string {
  const experts = Object.fromEntries(Array.from({ length: n }, (_, i) => [`e${i}`, { graph: "base/model.onnx", weights: `experts/e${i}.data` }]));
  writeFileSync(join(dir, `coe-${n}.json`), JSON.stringify({
    format: "tierflow-coe", version: 1, router: { model: "router.onnx", routes: Object.fromEntries([0, 1, 2].map((i) => [i, `e${i % n}`])) }, experts,
    shared_graphs: { "base/model.onnx": { external_data_location: "model.onnx.data" } },
  }));
  return join(dir, `coe-${n}.json`);
}

function coeFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-coe-7b-"));
  writeLlama(join(dir, "base/model.onnx"), LLAMA_PRESETS["llama-2-7b"]!);
  copyFileSync(join(ROOT, "examples/coe/router.onnx"), join(dir, "router.onnx"));
  mkdirSync(join(dir, "experts"));
  return dir;
}

async function timedCompile(manifest: string, target: string): Promise<{ plan: CoePlan; seconds: number }> {
  const t = performance.now();
  const r = await compileCoe(readManifest(manifest), { target, ...COMPILE });
  return { plan: r.plan, seconds: (performance.now() - t) / 1e3 };
}

/** `tierflow compile MANIFEST -o OUT` in a fresh process: its wall time (after start-up) and peak RSS. */
function cliCompile(manifest: string, target: string): { seconds: number; rssMiB: number } {
  const out = mkdtempSync(join(tmpdir(), "tierflow-coe-out-"));
  const r = spawnSync(process.execPath, [...process.execArgv, import.meta.filename, "--cli-child", manifest, target, out], { encoding: "utf8" });
  rmSync(out, { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`child compile failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as { seconds: number; rssMiB: number };
}

async function cliChild(manifest: string, target: string, out: string): Promise<void> {
  const { main } = await import("../compiler/cli/main.js");
  const t = performance.now();
  await main(["compile", manifest, "-t", target, "--batch", String(COMPILE.batch), "--seq", String(COMPILE.seq), "-o", out, "-q"]);
  console.log(JSON.stringify({ seconds: (performance.now() - t) / 1e3, rssMiB: process.resourceUsage().maxRSS / 1024 }));
}

/** The same plan with every switch at `bandwidth` (experts re-placed for it). */
function withSwitchBandwidth(p: CoePlan, bandwidth: number): CoePlan {
  return planWithExperts({ ...p, node: { ...p.node, switchBandwidth: bandwidth } }, p.experts.length);
}

/** One batch of 8 requests for an expert not in HBM, 20 output tokens each: switch + prefill x 8 + 20 decode steps at batch 8. */
function coldBatchSeconds(p: CoePlan): { total: number; switch: number; compute: number } {
  const g = p.graphs[0]!;
  const sw = p.experts[0]!.bytes / p.node.switchBandwidth;
  const compute = 8 * g.prefillSeconds + 20 * decodeStepSeconds(g.decodeSteps, 8);
  return { total: sw + compute, switch: sw, compute };
}

const load = () => loadavg()[0]!.toFixed(2);
const ms = (s: number) => `${(s * 1e3).toFixed(1)} ms`;

export async function benchCoe(): Promise<string[]> {
  const lines: string[] = [];
  const dir = coeFolder();
  const one = writeCoe7b(dir, 1), ten = writeCoe7b(dir, 10), many = writeCoe7b(dir, 150), most = writeCoe7b(dir, 1000);

  const c1 = await timedCompile(one, "sn40l-node");
  const runs: { seconds: number; load: string }[] = [];
  let sn40l = c1.plan;
  for (let i = 0; i < 3; i++) {
    const c = await timedCompile(many, "sn40l-node");
    runs.push({ seconds: c.seconds, load: load() });
    sn40l = c.plan;
  }
  const best = Math.min(...runs.map((r) => r.seconds));
  lines.push(`coe-compile  Llama-2-7B base on sn40l-node (${sn40l.graphs[0]!.layout}), in process: 1 expert ${c1.seconds.toFixed(2)} s, 150 experts ${runs.map((r) => `${r.seconds.toFixed(2)} s (load ${r.load})`).join(", ")} (goal < ${GOAL_COMPILE_150_S} s)  ${best < GOAL_COMPILE_150_S ? "PASS" : "FAIL"}`);
  const cli = [ten, many, most].map((m) => ({ n: m === ten ? 10 : m === many ? 150 : 1000, ...cliCompile(m, "sn40l-node"), load: load() }));
  const growth = cli[2]!.rssMiB - cli[0]!.rssMiB;
  lines.push(`coe-memory   \`tierflow compile\` in a fresh process (plans written): ${cli.map((c) => `${c.n} experts ${c.seconds.toFixed(2)} s, peak RSS ${c.rssMiB.toFixed(0)} MiB (load ${c.load})`).join("; ")}; growth 10 -> 1000 experts ${growth.toFixed(0)} MiB (goal < ${GOAL_RSS_GROWTH_MIB} MiB)  ${growth < GOAL_RSS_GROWTH_MIB ? "PASS" : "FAIL"}`);

  const h100 = (await timedCompile(many, "dgx-h100")).plan;
  const a100 = (await timedCompile(many, "dgx-a100")).plan;
  const oneLink = (p: CoePlan) => withSwitchBandwidth(p, PAPER_HOST_LINK[p.target]!);
  for (const p of [sn40l, h100, a100]) {
    const g = p.graphs[0]!;
    lines.push(`coe-expert   ${p.target} (${g.layout}): prefill ${ms(g.prefillSeconds)} (128 tokens), decode step ${g.decodeSteps.map((d) => `${ms(d.seconds)} at batch ${d.batch}`).join(", ")}; switch ${ms(p.experts[0]!.bytes / p.node.switchBandwidth)} at ${p.node.switchBandwidth / 1e9} GB/s`);
  }

  const sweepOptions = { requests: 400, rate: 2, seed: 1, distribution: "uniform" as const, policy: "pin-hot" as const, outputTokens: 20 };
  const sweeps: [string, CoePlan][] = [
    ["dgx-h100, a host link per GPU (440 GB/s)", h100], ["dgx-h100, one host link (64 GB/s, the paper's assumption)", oneLink(h100)], ["sn40l-node (1 TB/s)", sn40l],
  ];
  for (const [name, p] of sweeps) {
    const rows = sweepExperts(p, SWEEP, sweepOptions);
    const base = rows[0]!.result.latencyMean;
    const jump = rows.find((r) => r.result.latencyMean > 2 * base);
    const oom = rows.find((r) => r.result.outOfMemory);
    const served = [...rows].reverse().find((r) => !r.result.outOfMemory && !r.result.unservable);
    lines.push(`coe-sweep    ${name}: mean latency ${ms(base)} at 1 expert; doubles at ${jump ? `${jump.experts} experts (${ms(jump.result.latencyMean)}; ${jump.pinned} pinned in HBM)` : "no count up to 1000"}; out of memory at ${oom ? `${oom.experts} experts` : "no count up to 1000"}; served from memory up to ${served?.experts ?? 0}  (paper: DGX jumps at ~${PAPER.dgxJump}, out of memory at ~${PAPER.dgxOom}; SN40L node serves ${PAPER.sn40lServes})`);
    lines.push(`             ${rows.filter((r) => [1, 40, 50, 60, 100, 150, 850, 1000].includes(r.experts)).map((r) => `${r.experts}: ${(r.result.latencyMean * 1e3).toFixed(0)} ms${r.result.outOfMemory ? " OOM" : ""}`).join(", ")}`);
  }

  const fmt = (x: number, paper: number) => `${x.toFixed(1)}x (paper ${paper}x, ratio ${(x / paper).toFixed(2)})`;
  const s = coldBatchSeconds(sn40l);
  for (const [name, h, a] of [["the presets' load bandwidths", h100, a100], ["the paper's DGX switching (one host link: 64 / 32 GB/s)", oneLink(h100), oneLink(a100)]] as const) {
    const hb = coldBatchSeconds(h), ab = coldBatchSeconds(a);
    lines.push(`coe-speedup  batch 8, 20 tokens, every batch switches, ${name}: sn40l-node ${ms(s.total)} (switch ${ms(s.switch)} + compute ${ms(s.compute)}), dgx-h100 ${ms(hb.total)} (${ms(hb.switch)} + ${ms(hb.compute)}), dgx-a100 ${ms(ab.total)} (${ms(ab.switch)} + ${ms(ab.compute)}): over H100 ${fmt(hb.total / s.total, PAPER.speedupH100)}, over A100 ${fmt(ab.total / s.total, PAPER.speedupA100)}`);
    lines.push(`coe-switch   one 13.48 GB expert, ${name}: over H100 ${fmt(hb.switch / s.switch, PAPER.switchH100)}, over A100 ${fmt(ab.switch / s.switch, PAPER.switchA100)}`);
  }
  // The workload view: 150 experts, uniform requests, 8 at a time to one expert.
  const sim = (p: CoePlan) => {
    const many = planWithExperts(p, 150), names = many.experts.map((e) => e.name);
    const trace = Array.from({ length: 400 }, (_, i) => ({ arrival: Math.floor(i / 8) * 2, promptTokens: 128, outputTokens: 20, expert: names[(Math.floor(i / 8) * 37) % 150]! }));
    return simulate(many, trace, "pin-hot").result.latencyMean;
  };
  const ss = sim(sn40l);
  for (const [name, h, a] of [["presets", h100, a100], ["one host link", oneLink(h100), oneLink(a100)]] as const) {
    const sh = sim(h), sa = sim(a);
    lines.push(`coe-serve    150 experts, batches of 8 spread over all experts, pin-hot, DGX ${name}: mean latency sn40l-node ${ms(ss)}, dgx-h100 ${ms(sh)} (${(sh / ss).toFixed(1)}x), dgx-a100 ${ms(sa)} (${(sa / ss).toFixed(1)}x)`);
  }
  rmSync(dir, { recursive: true, force: true });
  return lines;
}

if (process.argv[2] === "--cli-child") await cliChild(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else if (import.meta.url === `file://${process.argv[1]}`) for (const line of await benchCoe()) console.log(line);
