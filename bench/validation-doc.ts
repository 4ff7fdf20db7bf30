// docs/VALIDATION.md, written by `npx tsx bench/h100-grid.ts --write-docs` from the rows it computed
// and the SN40L figures (bench/sn40l-figures.ts): every number in the page comes from a run.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Target } from "../targets/target.js";
import { loadTarget } from "../targets/target.js";
import type { Grid, GridRow } from "./h100-grid.js";
import { CALIBRATED, parts, pct, summary, tokens } from "./h100-grid.js";
import { PAPER, sn40lFigures } from "./sn40l-figures.js";
import type { Sn40lFigures } from "./sn40l-figures.js";

const ms = (v: number) => v.toFixed(2);
const x = (v: number) => `${v.toFixed(2)}x`;
const share = (v: number) => `${(100 * v).toFixed(1)}%`;
/** A published share, as the paper gives it. */
const cited = (v: number) => `${Math.round(100 * v)}%`;

function gridTable(rows: readonly GridRow[]): string[] {
  const out = [
    "| model | phase | batch | context / prompt | measured ms | before ms | before error | after ms | after error | after: matrix ms | after: memory/overhead ms | error in matrix part | error in memory/overhead part |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    const pt = r.point;
    const head = `| ${pt.model} | ${pt.phase} | ${pt.batch} | ${tokens(pt)} | ${pt.ms ? ms(pt.ms.median) : "—"} |`;
    if (r.predictedMs === undefined) {
      out.push(`${head} — | — | — | — | — | — | — | — |`);
      continue;
    }
    const p = parts(r.predictedByClass!);
    const m = r.measuredByClass ? parts(r.measuredByClass) : undefined;
    const measured = pt.ms!.median;
    out.push(`${head} ${ms(r.baselineMs!)} | ${pct(r.baselineError!)} | ${ms(r.predictedMs)} | ${pct(r.error!)} | ${ms(p.matrix)} | ${ms(p.rest)} | ` +
      `${m ? pct((p.matrix - m.matrix) / measured) : "—"} | ${m ? pct((p.rest - m.rest) / measured) : "—"} |`);
  }
  return out;
}

function notCompiled(rows: readonly GridRow[]): string[] {
  return rows.filter((r) => r.predictedMs === undefined).map((r) => `- ${r.point.model} ${r.point.phase} batch ${r.point.batch} x ${tokens(r.point)}: ${r.note}`);
}

function classTable(rows: readonly GridRow[]): string[] {
  const classes = ["gemm", "attention", "elementwise", "norm", "copy", "other", "host"] as const;
  const out = [
    `| point | ${classes.join(" | ")} | kernels |`,
    `| --- | ${classes.map(() => "---:").join(" | ")} | ---: |`,
  ];
  for (const r of rows.filter((r) => r.measuredByClass && r.predictedByClass)) {
    const pt = r.point;
    out.push(`| ${pt.model} ${pt.phase} ${pt.batch} x ${tokens(pt)} | ${classes.map((c) => `${ms(r.predictedByClass![c])} / ${ms(r.measuredByClass![c])}`).join(" | ")} | ${r.predictedKernels} / ${pt.profile!.kernels_per_step} |`);
  }
  return out;
}

function sn40lSection(f: Sn40lFigures): string[] {
  const out: string[] = [];
  const us = (v: number) => `${(v * 1e6).toFixed(0)} µs`;
  out.push("### The share of HBM bandwidth a plan implies");
  out.push("");
  out.push(`The paper reports about ${cited(PAPER.fusedHbmShare)} of HBM bandwidth for a decoder layer fused into one kernel; Kernel Looping over ${cited(PAPER.loopedPeakShare)} of peak with looping. ` +
    "`efficiency.dataflow` of the sn40l presets caps every section's HBM term at those shares (looped only for sections the loop covers), so no plan implies more. The largest share any section of these plans streams at:");
  out.push("");
  out.push("| plan | fused (preset) | looped |", "| --- | ---: | ---: |");
  for (const b of f.bandwidth) out.push(`| ${b.what} | ${share(b.fused)} | ${share(b.looped)} |`);
  out.push("");
  out.push("A section below the cap is slower than its HBM traffic for another reason: its kernel calls' overhead, collectives, or compute (prefill).");
  out.push("");
  out.push("### Table IV: Llama 3.1 on 16 sockets");
  out.push("");
  out.push("Output tokens/s per user, bf16, TP16 decode at batch 1 and context 128 on `sn40l-node16`, beside Table IV of the SN40L paper. The ceiling is every socket streaming its share of the weights and KV cache once per token at the full HBM bandwidth (the plan's floor).");
  out.push("");
  out.push("| model | published | fused (preset) | ratio | looped | ratio | ceiling at 100% of HBM |", "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of f.tableIV) out.push(`| ${r.model} | ${r.published} | ${r.fused.toFixed(0)} | ${x(r.fused / r.published)} | ${r.looped.toFixed(0)} | ${x(r.looped / r.published)} | ${r.ceiling.toFixed(0)} |`);
  out.push("");
  const [r8, ...big] = f.tableIV;
  if (r8) {
    out.push(`- **${r8.model}**: the published ${r8.published} tokens/s is ${share(r8.published / r8.ceiling)} of the ceiling. It lies between our fused decoder (${r8.fused.toFixed(0)}, ${share(r8.fused / r8.ceiling)}: one kernel call per layer, each paying an assumed ${us(f.launchSeconds)} of argument load and synchronisation, and ${cited(PAPER.fusedHbmShare)} of HBM bandwidth) and our looped one (${r8.looped.toFixed(0)}, ${share(r8.looped / r8.ceiling)}: one call per step, ${cited(PAPER.loopedPeakShare)}). ` +
      `Our looped plan is faster than the published figure, which includes what the plan leaves out (sampling, the host's part of each step), and below Kernel Looping's "over ${cited(PAPER.loopedPeakShare)} of peak" because its collectives take ${share(r8.loopedCollectives)} of the step, over links whose bandwidth and latency the preset assumes (neither is published; the 16 sockets span two nodes). The two papers' figures do not agree with each other under this ceiling (${cited(PAPER.loopedPeakShare)} of it would be ${(PAPER.loopedPeakShare * r8.ceiling).toFixed(0)} tokens/s): Kernel Looping's peak, batch and context for that figure are not in the figures we hold, and Table IV does not say whether it was taken with looping.`);
  }
  for (const r of big) {
    out.push(`- **${r.model}**: the published ${r.published} tokens/s is ${x(r.published / r.ceiling)} what streaming bf16 weights from 16 sockets' HBM once per token allows (${r.ceiling.toFixed(0)}), so it cannot come from the plan this model makes of the decoder at any efficiency: it needs several tokens per pass over the weights (speculative decoding) or fewer weight bytes per token, which the paper does not describe. Our ${r.fused.toFixed(0)} (fused) and ${r.looped.toFixed(0)} (looped) are ${share(r.fused / r.ceiling)} and ${share(r.looped / r.ceiling)} of that ceiling.`);
  }
  out.push("");
  out.push("### Speedups");
  out.push("");
  out.push(`Kernel Looping reports decode up to ${PAPER.loopSpeedupOneSocket}x faster on SN40L and up to ${PAPER.loopSpeedupSockets}x over several sockets. Ours, fused against looped:`);
  out.push("");
  out.push("| decode | sockets | fused ms | looped ms | speedup |", "| --- | ---: | ---: | ---: | ---: |");
  for (const l of f.looping) out.push(`| ${l.what} | ${l.sockets} | ${(l.fused * 1e3).toFixed(3)} | ${(l.looped * 1e3).toFixed(3)} | ${x(l.fused / l.looped)} |`);
  out.push("");
  const eight = f.looping.find((l) => l.what.startsWith("llama-3.1-8b"));
  // The per-call cost at which 8B on 16 sockets (32 layers) would loop 2.5x faster: (A + 32c) / (B + c) = 2.5.
  const a = eight ? eight.fused - 32 * f.launchSeconds : 0, b = eight ? eight.looped - f.launchSeconds : 0;
  const needed = (PAPER.loopSpeedupSockets * b - a) / (32 - PAPER.loopSpeedupSockets);
  out.push(`Within the published bounds: looping saves one argument load and synchronisation per layer (${us(f.launchSeconds)} each, an assumption: neither is published) and raises the HBM share from ${cited(PAPER.fusedHbmShare)} to ${cited(PAPER.loopedPeakShare)}, so it matters most where a socket's share of the weights is small (8B on 16 sockets) and least on one socket or for 405B. The papers' ${PAPER.loopSpeedupOneSocket}x and ${PAPER.loopSpeedupSockets}x are maxima over their models; a per-call cost of ${us(needed)} would give ${PAPER.loopSpeedupSockets}x for 8B on 16 sockets.`);
  out.push("");
  out.push(`The SN40L paper reports fusion speeding prefill up ${PAPER.prefillFusion.join("-")}x and decode ${PAPER.decodeFusion.join("-")}x over an unfused baseline on 8 sockets. Ours, \`-O0\` (one section per operator) against \`-O2\` on \`sn40l-node\`:`);
  out.push("");
  out.push("| plan | -O0 ms | -O2 ms | speedup |", "| --- | ---: | ---: | ---: |");
  for (const s of f.fusion) out.push(`| ${s.what} | ${(s.o0 * 1e3).toFixed(3)} | ${(s.o2 * 1e3).toFixed(3)} | ${x(s.o0 / s.o2)} |`);
  out.push("");
  const decodeFusion = f.fusion.find((s) => s.what.includes("decode"));
  out.push(`Both above the paper's ranges: our unfused baseline pays a program load (${us(f.sectionSwitchSeconds)}, assumed) and a kernel call (${us(f.launchSeconds)}, assumed) for each of its ${decodeFusion?.o0Sections ?? "?"} sections a decode step (one per operator), ${decodeFusion ? share((decodeFusion.o0Sections * (f.sectionSwitchSeconds + f.launchSeconds)) / decodeFusion.o0) : "?"} of its time; the paper does not describe its baseline closely enough to say what an operator costs to launch there, and its baseline may keep conventional fusion (1-5 operators a kernel). The fused plans are the ones the comparisons above rest on.`);
  return out;
}

interface FrameworkFigures { graphKernelSeconds?: number; eagerKernelSeconds?: number }

/** The spread of a tiny Llama's host time per layer over the rounds of bench/device/h100-framework.json, seconds. */
function frameworkRounds(): { hostLayerSeconds: { min: number; max: number } } {
  const fw = JSON.parse(readFileSync(join(import.meta.dirname, "device", "h100-framework.json"), "utf8")) as {
    eager_host: Record<string, { ms_per_layer_rounds: { min: number; max: number } }>;
  };
  const rounds = Object.values(fw.eager_host).map((v) => v.ms_per_layer_rounds);
  return { hostLayerSeconds: { min: Math.min(...rounds.map((r) => r.min)) * 1e-3, max: Math.max(...rounds.map((r) => r.max)) * 1e-3 } };
}

/** Where the remaining error comes from, with the run's own numbers. */
function residuals(target: Target, rows: readonly GridRow[], framework: { hostLayerSeconds: { min: number; max: number } }): string[] {
  const fw = (target.efficiency as { framework?: FrameworkFigures } | undefined)?.framework ?? {};
  const bare = target.efficiency?.launch?.eagerKernelSeconds ?? 0;
  const us = (v: number | undefined) => `${((v ?? 0) * 1e6).toFixed(1)} µs`;
  const decode = rows.filter((r) => r.error !== undefined && r.point.phase === "decode");
  const range = (rs: readonly GridRow[]) => rs.length ? `${pct(Math.min(...rs.map((r) => r.error!)))} to ${pct(Math.max(...rs.map((r) => r.error!)))}` : "none";
  const short = rows.filter((r) => r.error !== undefined && r.point.phase === "prefill" && tokens(r.point) <= 512 && r.point.batch === 1);
  const profiled = rows.find((r) => r.point.phase === "prefill" && r.measuredByClass && r.predictedKernels);
  const repeat = target.efficiency?.curves?.["repeat-kv"];
  const plateau = repeat ? repeat.points[repeat.points.length - 1]![1] * target.hbm.bandwidth : 0;
  const gqa = rows.filter((r) => r.error !== undefined && r.point.phase === "decode" && r.point.model.includes("3.1"));
  const independent = target.efficiency?.launch?.graphKernelSeconds ?? 0;
  const hostRounds = framework.hostLayerSeconds;
  return [
    "### Where the remaining error comes from",
    "",
    `- **Decode** errors run ${range(decode)}. A model's kernels form a chain, each waiting for the one before, which the microbenchmarks' independent calls do not: every kernel pays the difference between a decoder's smallest kernel replayed from a graph (${us(fw.graphKernelSeconds)}, a tiny Llama's decode step) and an independent tiny kernel replayed the same way (${us(independent)}), ${us((fw.graphKernelSeconds ?? 0) - independent)} on top of its curve time (\`compiler/cost/kernel-time.ts\`). What remains at batch 1 is over-predicted (the largest weight products overlap their neighbours more than that), at batch 16-64 under-predicted: the framework's broadcasting and float32 elementwise kernels run on TensorIterator's slower path, and transformers computes RMSNorm in float32 where the plan computes it in bf16 (the profile's reductions take 2-9 µs).`,
    `- **Eager prefill at 512 tokens is bound by the host** (${short.map((r) => `${r.point.model} ${pct(r.error!)}`).join(", ")}). The host time per kernel, ${us(fw.eagerKernelSeconds)}, is a tiny Llama's eager forward at ${(fw.eagerKernelSeconds ?? 0) / (bare || 1) > 0 ? ((fw.eagerKernelSeconds ?? 0) / bare).toFixed(2) : "?"} bare eager ops (${us(bare)} each, measured with the grid, the process pinned to one CPU: the tiny model's host time per layer spread from ${us(hostRounds.min)} to ${us(hostRounds.max)} over its rounds, where an unpinned run's host issued kernels at two speeds about 2x apart; \`bench/device/README.md\`). The two 512-token prefills, the same Python code path but for the grouped-query model's repeat_kv copies, measured ${short.map((r) => `${r.point.ms!.median.toFixed(1)} ms`).join(" and ")}. The plan launches ${profiled ? `${profiled.predictedKernels} kernels where the profiler counted ${profiled.point.profile!.kernels_per_step} (${profiled.point.model} prefill ${profiled.point.batch} x ${tokens(profiled.point)})` : "more kernels than transformers"}: the exported graph's shape arithmetic, rotary slices and the RMSNorm as Pow, Sqrt and Reciprocal, each an eager launch, priced at the host time per kernel measured on transformers' own.`,
    `- **The grouped-query points** (${range(gqa)}) are within the others' error because the model prices what the profiles show: transformers copies the 8 KV heads to 32 before SDPA every step (repeat_kv at ${(plateau / 1e12).toFixed(2)} TB/s at its largest, measured apart), then SDPA reads the 32-head copies.`,
  ];
}

export async function validationDoc(grid: Grid, target: Target, rows: readonly GridRow[]): Promise<string> {
  const before = summary(rows, "baselineError"), after = summary(rows, "error");
  const goal = after.within === after.n && after.median <= 0.05;
  const figures = await sn40lFigures();
  const h100 = loadTarget("h100");
  const lines = [
    "# Validation of the cost model",
    "",
    "Written by `npx tsx bench/h100-grid.ts --write-docs`: every number in the tables and in the summaries below them comes from that run (compiled plans beside measurements and published figures), none is typed; the notes on the profiles cite `bench/device/h100-grid.json`. Issue 17 asks for every H100 grid point within 10% and the median within 5%, with the parameters taken from microbenchmarks, and for a SN40L model that matches every published figure or explains why not.",
    "",
    "## H100: the measured grid",
    "",
    `Measured: Hugging Face transformers ${grid.machine.transformers} (SDPA attention), torch ${grid.machine.torch}, on one ${grid.machine.gpu}, ${grid.date_utc.slice(0, 10)} (\`bench/device/h100-grid.json\`, \`bench/device/README.md\`): Llama-2-7B and a grouped-query model with Llama-3.1-8B shapes, bf16, random weights; decode replayed from a CUDA graph with a static KV cache, prefill one eager forward.`,
    "",
    "Predicted from the Llama generator's graph (`examples/generate/llama-onnx.ts`) at each point's batch and context:",
    "",
    `- **before**: \`h100 -O0\`, the preset's peaks: each kernel at the larger of its FLOPs at the bf16 peak and its bytes at the HBM bandwidth, plus ${(h100.overheads.launchSeconds * 1e6).toFixed(2)} µs a kernel, attention as the five kernels of eager attention.`,
    `- **after**: \`${target.name}\` (\`${CALIBRATED.slice(CALIBRATED.indexOf("targets/"))}\`) on the kernels transformers runs: the \`-O0\` graph (every fused pattern decomposed again) with attention one kernel, as SDPA runs it. Each kernel is priced by the target's curves (\`compiler/cost/kernel-time.ts\`), which come from microbenchmarks only (\`bench/device/h100-micro.json\`: bandwidth against bytes per kernel class, GEMM FLOP/s against rows per shape, SDPA decode and prefill, launch; \`bench/device/h100-framework.json\`: transformers' repeat_kv copy against bytes, and the host time per kernel of an eager forward of a tiny Llama), never from the grid. Decode replays from a graph (each kernel its curve time, which includes the graph's per-kernel cost); prefill is issued eagerly, a host/device pipeline in which a kernel waits for the host where the host is slower (\`compiler/cost/launch.ts\`). Where the framework adds kernels the plan does not have, the target's \`efficiency.framework\` says so and they are priced too: grouped KV heads copied to every query head before a multi-head SDPA (the grouped-query model's 64 copies a step), and the copies that write new keys and values into the cache.`,
    "",
    "The prediction is split by kernel class into matrix kernels (gemm, attention) and memory traffic and overhead (elementwise, norm, copy, other, and the time outside kernels: launch gaps and waiting for the host). Where the profiler ran, the measured step splits the same way (the time outside kernels is the step's time less its kernels'), and the error is attributed to the two parts (they add up to the whole error).",
    "",
    ...gridTable(rows),
    "",
    `- before: median absolute error ${share(before.median)}, largest ${share(before.largest)}, ${before.within} of ${before.n} points within 10%.`,
    `- after: median absolute error ${share(after.median)}, largest ${share(after.largest)}, ${after.within} of ${after.n} points within 10%.`,
    `- goal (every point within 10%, median within 5%): ${goal ? "met" : "not met"}.`,
    "",
    "Not compared:",
    "",
    ...notCompiled(rows),
    "",
    "By kernel class, predicted / measured ms (after), where the profiler ran (`host`: the step's time outside kernels), and the kernels the plan launches (the framework's copies included) beside those the profiler counted:",
    "",
    ...classTable(rows),
    "",
    ...residuals(target, rows, frameworkRounds()),
    "",
    "## SN40L: published figures",
    "",
    "The `sn40l` presets model what the papers publish, each figure cited in the preset's `sources`: a fused section streams HBM at most at 85% of its bandwidth (Prabhakar et al., MICRO 2024); a section's program loads once and each kernel call loads its arguments and synchronises, a section of L decoder layers being L calls (one layer is one kernel call on SN40L); and, as an option (`tierflow compile --kernel-looping`, or `efficiency.dataflow.loop.enabled` in a target file), the looped decoder of Kernel Looping (arXiv 2410.23668): consecutive calls of one layer's program become one call, and the looped sections stream at up to 90% of peak. Figures from `bench/sn40l-figures.ts`.",
    "",
    ...sn40lSection(figures),
    "",
  ];
  return lines.join("\n");
}
