// Node-level benchmark: Llama shapes planned over the sockets of a node.
//
//   goals: Llama-2-7B bf16 on sn40l-node, TP8 decode at batch 1 with the looped decoder
//          (--kernel-looping, as Kernel Looping, arXiv 2410.23668, reports over 90% of peak
//          in decode on 8 sockets), within 1.3x of the floor set by 8 sockets' HBM
//          bandwidth (collectives' share shown); the fused decoder (a kernel call per
//          layer, the preset) beside it, looping's speedup within the paper's 2.5x;
//          a Llama-2-70B shape refused on one socket of sn40l-node with a
//          diagnostic naming what does not fit and a layout, and compiled with it;
//          Llama-3.1-8B and -70B on 16 sockets beside the published 1042 and 457
//          output tokens/s per user, the difference explained;
//          disaggregated prefill/decode wins on goodput when prefill and decode
//          interfere under a tight per-token target (and not when it is loose).

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compile, loadFused } from "../compiler/compile.js";
import type { Plan } from "../ir/placement/plan.js";
import { TierflowError } from "../ir/diagnostics.js";
import { loadTarget } from "../targets/target.js";
import { withKernelLooping } from "../compiler/cost/efficiency.js";
import { LLAMA_PRESETS, writeLlama } from "../examples/generate/llama-onnx.js";
import { servingSystems } from "../compiler/node/serving.js";
import { simulateServing } from "../compiler/node/serving-sim.js";
import { servingTable } from "../compiler/cli/simulate-serving.js";

// Published with the SN40L paper (hardware brief): Llama 3.1, 16 sockets, bf16, output tokens/s per user.
const PAPER_TOKENS_PER_USER: Readonly<Record<string, number>> = { "llama-3.1-8b": 1042, "llama-3.1-70b": 457 };

const ms = (s: number) => (s * 1e3).toFixed(3);
const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

function nodeLine(p: Plan): string {
  const n = p.parallel!.prediction;
  return `${ms(n.stepSeconds)} ms/token, ${n.tokensPerSecondPerUser.toFixed(0)} tokens/s per user; floor ${ms(n.floorSeconds)} ms; ratio ${p.prediction.ratioToFloor.toFixed(3)}; ` +
    `collectives ${ms(n.collectiveSeconds)} ms (${((100 * n.collectiveSeconds) / n.latencySeconds).toFixed(1)}% of the step)`;
}

export async function benchNodeParallel(): Promise<string[]> {
  const lines: string[] = [];
  const dir = mkdtempSync(join(tmpdir(), "tierflow-node-"));
  const model = (preset: string) => {
    const path = join(dir, `${preset}.onnx`);
    writeLlama(path, LLAMA_PRESETS[preset]!);
    return path;
  };
  const decode = { opt: 2 as const, phase: "decode" as const, batch: 1, seq: 128, dtype: "bf16" as const };
  try {
    const l7 = model("llama-2-7b");
    const tp8 = (await compile(l7, { ...decode, target: "sn40l-node", parallel: "tp=8" })).plan;
    const looped = (await compile(l7, { ...decode, target: withKernelLooping(loadTarget("sn40l-node")), parallel: "tp=8" })).plan;
    const speedup = tp8.prediction.seconds / looped.prediction.seconds;
    lines.push("Llama-2-7B shapes, bf16, sn40l-node (8 sockets), decode batch 1, context 128:");
    lines.push(`  TP8, looped decoder (--kernel-looping): ${nodeLine(looped)}; goal ratio <= 1.3 ${verdict(looped.prediction.ratioToFloor <= 1.3)}`);
    lines.push(`  TP8, fused decoder (a kernel call per layer): ${nodeLine(tp8)}; looping ${speedup.toFixed(2)}x faster, goal within Kernel Looping's 2.5x ${verdict(speedup > 1 && speedup <= 2.5)}`);
    const one = (await compile(l7, { ...decode, target: "sn40l" })).plan;
    lines.push(`  one socket (sn40l): ${ms(one.prediction.seconds)} ms/token; TP8 speedup ${(one.prediction.seconds / tp8.prediction.seconds).toFixed(2)}x on 8 sockets`);
    const gpu = (await compile(l7, { ...decode, target: "dgx-h100", parallel: "tp=8" })).plan;
    lines.push(`  dgx-h100 TP8, NCCL kernels: ${nodeLine(gpu)}`);

    const l70 = model("llama-2-70b");
    lines.push("Llama-2-70B shapes (80 layers, hidden 8192, 64 heads, 8 KV heads), bf16, decode batch 1:");
    let refusal = "";
    try {
      await compile(l70, { ...decode, target: "sn40l-node" });
    } catch (e) {
      if (!(e instanceof TierflowError)) throw e;
      refusal = e.message;
    }
    const refused = /do not fit one socket/.test(refusal) && /--parallel tp=\d/.test(refusal);
    lines.push(`  one socket: ${refusal ? `refused: "${refusal}"` : "not refused"} ${verdict(refused)}`);
    const p70 = (await compile(l70, { ...decode, target: "sn40l-node", parallel: "tp=8" })).plan;
    lines.push(`  sn40l-node TP8: ${nodeLine(p70)}; HBM peak ${(p70.occupancy.hbm / 2 ** 30).toFixed(1)} GiB of 64 per socket ${verdict(p70.occupancy.hbm <= loadTarget("sn40l-node").hbm.bytes)}`);

    lines.push("Llama 3.1 shapes, bf16, sn40l-node16 (16 sockets), TP16 decode batch 1, context 128, beside the paper:");
    for (const preset of ["llama-3.1-8b", "llama-3.1-70b"]) {
      const p = (await compile(model(preset), { ...decode, target: "sn40l-node16", parallel: "tp=16" })).plan;
      const n = p.parallel!.prediction;
      const paper = PAPER_TOKENS_PER_USER[preset]!;
      const ceiling = 1 / n.floorSeconds;
      lines.push(`  ${preset}: predicted ${n.tokensPerSecondPerUser.toFixed(0)} tokens/s per user vs ${paper} published (${(n.tokensPerSecondPerUser / paper).toFixed(2)}x); ` +
        `the HBM floor allows at most ${ceiling.toFixed(0)}; ${nodeLine(p)}`);
      lines.push(paper > ceiling
        ? `    the published figure is ${(paper / ceiling).toFixed(1)}x above what streaming bf16 weights from 16 sockets' HBM allows once per token, so it must come from what this model does not plan: several tokens per pass over the weights (speculative decoding) or fewer weight bytes per token; which one is not published`
        : n.tokensPerSecondPerUser > paper
          ? `    we predict more than published: the model leaves out sampling, the host's part of each step and any stall between sections; our socket link latency (1 us a step) and bandwidth are assumptions`
          : `    we predict less than published: the preset's fused decoder pays an assumed 10 us kernel call per layer and streams at most 85% of HBM bandwidth; whether the published run looped its decoder (--kernel-looping: one call, up to 90%) is not said, and our socket link latency (1 us a step) and bandwidth are assumptions`);
    }

    lines.push("Disaggregated prefill/decode (DistServe), Llama-2-7B shapes on sn40l-node, prefill=2,decode=6, seeded Poisson arrivals:");
    const { graph } = await loadFused(l7, { opt: 2 });
    const request = { disaggregate: "prefill=2,decode=6", promptTokens: 1024, outputTokens: 128, maxBatch: 64, dtype: "bf16" as const, opt: 2 as const };
    const systems = servingSystems(graph, loadTarget("sn40l-node"), request);
    lines.push(...systems.summary.map((s) => `  ${s}`));
    const base = { requests: 300, promptTokens: 1024, outputTokens: 128, seed: 7, ttftSeconds: 0.5 };
    const rates = [10, 20, 30, 40, 60];
    const run = (tpot: number) => rates.map((rate) => ({
      rate,
      colocated: simulateServing(systems.colocated, { ...base, tpotSeconds: tpot, rate }),
      disaggregated: simulateServing(systems.disaggregated, { ...base, tpotSeconds: tpot, rate }),
    }));
    // Targets relative to one undisturbed decode step: tight leaves a prefill no room, loose does.
    const step = systems.disaggregated.kind === "disaggregated" ? systems.disaggregated.decode.decodeSeconds(1) : 0;
    const sustained = (rows: ReturnType<typeof run>, key: "colocated" | "disaggregated") => Math.max(0, ...rows.filter((r) => r[key].attainment >= 0.9).map((r) => r.rate));
    for (const [name, factor] of [["tight", 1.5], ["loose", 5]] as const) {
      const rows = run(factor * step);
      lines.push(`  ${name} per-token target (${factor} x the decode step):`);
      lines.push(...servingTable(rows, { ...base, tpotSeconds: factor * step }).map((s) => `    ${s}`));
      const c = sustained(rows, "colocated"), d = sustained(rows, "disaggregated");
      lines.push(name === "tight"
        ? `    goal: disaggregated sustains a higher rate (${d} vs ${c} req/s) ${verdict(d > c)}`
        : `    with a loose target colocation's interference matters less: colocated ${c} req/s, disaggregated ${d} req/s (its 2 prefill sockets become the limit)`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchNodeParallel()) console.log(line);
}
