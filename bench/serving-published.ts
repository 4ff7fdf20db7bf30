// Published serving results beside tierflow's serving engine
// (compiler/serving/engine.ts) on plans from tierflow's node compiler, each
// figure printed beside the paper's with the cause of the difference:
//   1. Aegaeon (SOSP 2025): models resident in a serverless pool with a
//      keep-alive, M (1 - e^(-lambda T)) for 100 models, 0.037 req/s, 16.79 s.
//   2. DistServe (Zhong et al., OSDI 2024): per-GPU goodput of a 13B-class
//      model on A100s, 2 prefill GPUs (TP2) and 1 decode GPU, TTFT / TPOT
//      targets at 90% attainment; its repository's simulator expects 1.56
//      requests/s per GPU (LLMServe/DistServe, simdistserve/README.md).
//   3. Splitwise (Patel et al., ISCA 2024): phase-split against colocated
//      Llama-2-70B machines on the Azure LLM inference traces 2023 (code and
//      conversation; CC-BY 4.0, from the Splitwise paper), under its slowdown
//      SLOs; the paper: 1.4x throughput at 20% lower cost, or 2.35x at the same
//      cost and power.
//   4. The SN40L paper's expert sweep (Prabhakar et al., MICRO 2024) on the
//      Azure conversation trace's arrivals, requests mapped onto the experts by
//      a seeded Zipf: where latency jumps as experts grow (paper: DGX at ~50).
// Each plan is compiled once and reused; figures cited come from the papers,
// the hardware brief or the papers' simulators (named where used).
//
//   npx tsx bench/serving-published.ts

import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadFused } from "../compiler/compile.js";
import { compileCoe } from "../compiler/coe/compile-coe.js";
import type { CoePlan } from "../compiler/coe/compile-coe.js";
import { readManifest } from "../compiler/coe/manifest.js";
import { simulate } from "../compiler/coe/simulate.js";
import { planWithExperts } from "../compiler/coe/sweep.js";
import { compileNodePlan } from "../compiler/node/compile-node.js";
import { kvCacheBytes, kvSummary } from "../compiler/node/kv-cache.js";
import { servingSystems } from "../compiler/node/serving.js";
import type { ReplicaTiming, ServingSystem } from "../compiler/node/serving-sim.js";
import { linear, simulateServing } from "../compiler/node/serving-sim.js";
import { seededRandom } from "../compiler/seeded-random.js";
import { runEngine } from "../compiler/serving/engine.js";
import type { EngineRequest, ExpertCosts, Role } from "../compiler/serving/engine.js";
import { attainment, attains, checkSlowdowns, highestRate, requestLatencies, slowdowns } from "../compiler/serving/slo.js";
import type { RequestLatency } from "../compiler/serving/slo.js";
import { readRequestTrace } from "../compiler/serving/trace-formats.js";
import { shapeTrace } from "../compiler/serving/trace-shape.js";
import type { Module } from "../ir/graph/graph.js";
import { loadTarget } from "../targets/target.js";
import type { Target } from "../targets/target.js";
import { LLAMA_PRESETS, writeLlama } from "../examples/generate/llama-onnx.js";
import type { LlamaConfig } from "../examples/generate/llama-onnx.js";

const ROOT = join(import.meta.dirname, "..");
const TRACES = join(ROOT, "..", "shared", "data", "traces");
const ms = (s: number) => `${(s * 1e3).toFixed(1)} ms`;
const x = (v: number) => `${v.toFixed(2)}x`;

/** One row of the closing table: what, tierflow's figure, the paper's, and why they differ. */
interface Row { readonly what: string; readonly ours: string; readonly paper: string }

/** Bytes of KV cache one token of one request adds, from a Llama preset (kv-cache.ts's formula, bf16). */
function kvPerToken(c: LlamaConfig): number {
  return kvCacheBytes({ batch: 1, context: 1, layers: c.layers, kvHeads: c.kvHeads, headDim: c.hidden / c.heads, dtypeBytes: 2 });
}

// ---- 1. Aegaeon: expected residents of a serverless pool ----

function aegaeon(lines: string[], rows: Row[]): void {
  const M = 100, lambda = 0.037, T = 16.79, horizon = 20_000, from = 1_000;
  const rand = seededRandom(5);
  const trace: EngineRequest[] = [];
  for (let m = 0; m < M; m++) {
    for (let t = -Math.log(1 - rand()) / lambda; t < horizon; t += -Math.log(1 - rand()) / lambda) trace.push({ arrival: t, promptTokens: 1, outputTokens: 1, expert: `m${m}` });
  }
  trace.sort((a, b) => a.arrival - b.arrival);
  const costs: ExpertCosts = { prefillSeconds: () => 1e-4, decodeSeconds: () => 1e-4, switchSeconds: 1e-3, bytes: 1 };
  const run = runEngine(trace, { experts: new Map(Array.from({ length: M }, (_, m) => [`m${m}`, costs])), instances: [{ role: "both", slots: M, maxBatch: 8 }], policy: "lru", keepAliveSeconds: T });
  let area = 0;
  run.occupancy.forEach(([t, n], i) => { const next = run.occupancy[i + 1]?.[0] ?? t; area += n * Math.max(0, Math.min(next, horizon) - Math.max(t, from)); });
  const simulated = area / (horizon - from), formula = M * (1 - Math.exp(-lambda * T));
  lines.push("1. Aegaeon (SOSP 2025): models resident in a serverless pool, each kept T after its last request");
  lines.push(`   ${M} models, Poisson arrivals at ${lambda} req/s each, keep-alive ${T} s, ${trace.length} requests over ${horizon} s (mean taken from ${from} s): ` +
    `simulated ${simulated.toFixed(1)} resident, M (1 - e^(-lambda T)) = ${formula.toFixed(1)}, paper "about 46"`);
  lines.push("   the formula holds for a model's idle gaps being exponential; the engine also keeps a model through its own (0.1 ms) service, which the formula leaves out");
  rows.push({ what: "Aegaeon: models resident (100 models, 0.037 req/s, 16.79 s)", ours: simulated.toFixed(1), paper: `about 46 (formula ${formula.toFixed(1)})` });
}

// ---- 2. DistServe: per-GPU goodput, 13B on A100s, 2 prefill GPUs + 1 decode GPU ----

/** DistServe's simulator: A100 step times fitted to its own measurements (simdistserve/estimators/profile_data/profiler-a100-80g.distserve.json, OPT-13B), in ms. */
const DISTSERVE_PROFILE = {
  prefillTp2: [14.743, 0.068577, 2.4496e-6] as const, // a + b n + c n^2 for a prompt of n tokens
  decodeTp1: [19.935, 0.00062694, 0.038507] as const, // a + b (tokens in the batch) + c batch, below batch 95
};
const PER_GPU_SEARCH = { high: 5, tolerance: 0.25 } as const; // the repository's quick start: --max-per-gpu-rate 5 --esp 0.25

function distServe(graph: Module, lines: string[], rows: Row[]): void {
  const a100 = loadTarget("dgx-a100");
  const target: Target = { ...a100, node: { ...a100.node!, sockets: 3 } };
  // ShareGPT-like lengths: the issue's figures for DistServe's ShareGPT means, not checked against the paper here.
  const prompt = 755, output = 200, maxBatch = 64, gpus = 3;
  const systems = servingSystems(graph, target, { disaggregate: "prefill=2,decode=1", promptTokens: prompt, outputTokens: output, maxBatch, dtype: "bf16", opt: 2 });
  const [pa, pb, pc] = DISTSERVE_PROFILE.prefillTp2, [da, db, dc] = DISTSERVE_PROFILE.decodeTp1;
  const context = prompt + output / 2;
  const profiled: ReplicaTiming = { prefillSeconds: (n) => (pa + pb * n + pc * n * n) / 1e3, decodeSeconds: (b) => (da + db * b * context + dc * b) / 1e3, maxBatch };
  const kv = systems.disaggregated.kind === "disaggregated" ? systems.disaggregated.kvTransferSeconds : 0;
  const withProfile: ServingSystem = { kind: "disaggregated", prefillReplicas: 1, decodeReplicas: 1, prefill: profiled, decode: profiled, kvTransferSeconds: kv };

  lines.push("2. DistServe (OSDI 2024): per-GPU goodput, Llama-2-13B shapes (OPT-13B in the paper: 40 layers, hidden 5120, the same size) on 3 A100 sockets of dgx-a100");
  lines.push(...systems.summary.map((s) => `   ${s}`));
  lines.push(`   workload: 300 requests (the repository's N), Poisson arrivals, seed 0; prompts and outputs uniform in 0.5-1.5x of ${prompt} and ${output} tokens ` +
    "(assumed ShareGPT means; DistServe samples the ShareGPT set itself, whose lengths are long-tailed)");
  lines.push(`   DistServe's own A100 profile for OPT-13B: a ${prompt}-token prefill on TP2 ${ms(profiled.prefillSeconds(prompt))} (tierflow ${ms(systems.disaggregated.kind === "disaggregated" ? systems.disaggregated.prefill.prefillSeconds(prompt) : 0)}), ` +
    `a decode step on one GPU ${ms(profiled.decodeSeconds(1))} at batch 1 and ${ms(profiled.decodeSeconds(maxBatch))} at ${maxBatch} (tierflow ${ms(systems.colocated.kind === "colocated" ? systems.colocated.timing.decodeSeconds(1) : 0)}, ${ms(systems.colocated.kind === "colocated" ? systems.colocated.timing.decodeSeconds(maxBatch) : 0)})`);
  const goodput = (system: ServingSystem, ttft: number, mode: "each" | "both", search: { high: number; tolerance: number }) =>
    highestRate((perGpu) => {
      const r = simulateServing(system, { rate: perGpu * gpus, requests: 300, promptTokens: prompt, outputTokens: output, seed: 0, ttftSeconds: ttft, tpotSeconds: 0.1 });
      const lat: RequestLatency[] = r.ttft.map((t, i) => ({ ttft: t, tbt: r.tpot[i]!, e2e: NaN }));
      return attains(attainment(lat, { ttftSeconds: ttft, tpotSeconds: 0.1 }), 0.9, mode);
    }, search);
  const fine = { high: 40, tolerance: 0.01 };
  let grid = 0, colocated = 0, profiledGrid = 0;
  for (const ttft of [0.2, 0.25]) {
    const g = goodput(systems.disaggregated, ttft, "each", PER_GPU_SEARCH);
    const gFine = goodput(systems.disaggregated, ttft, "each", fine), gBoth = goodput(systems.disaggregated, ttft, "both", fine);
    const c = goodput(systems.colocated, ttft, "each", fine), prof = goodput(withProfile, ttft, "each", PER_GPU_SEARCH);
    const profFine = goodput(withProfile, ttft, "each", fine);
    lines.push(`   TTFT ${ttft} s / TPOT 0.1 s, 90% attainment${ttft === 0.2 ? " (the repository's quick start, where 1.56 comes from)" : ""}: disaggregated ${g.toFixed(2)} req/s per GPU on DistServe's search grid (0..5 by bisection to 0.25), ` +
      `${gFine.toFixed(2)} searched finely (${gBoth.toFixed(2)} with both targets met by the same 90% of requests); colocated (3 replicas of one GPU) ${c.toFixed(2)}; ` +
      `disaggregated with DistServe's profiled step times ${prof.toFixed(2)} on its grid, ${profFine.toFixed(2)} finely; its simulator 1.56`);
    if (ttft === 0.2) {
      [grid, colocated, profiledGrid] = [g, c, prof];
      rows.push({ what: "DistServe: per-GPU goodput, 13B, 2 prefill + 1 decode A100 (TTFT 0.2 s)", ours: `${g.toFixed(2)} (grid), ${gFine.toFixed(2)} (fine); profiled steps ${prof.toFixed(2)}`, paper: "1.56 (its simulator)" });
      rows.push({ what: "DistServe: colocated on the same 3 A100s, per GPU", ours: c.toFixed(2), paper: "-" });
    }
  }
  const ours = systems.disaggregated.kind === "disaggregated" ? systems.disaggregated : undefined;
  const oursColocated = systems.colocated.kind === "colocated" ? systems.colocated.timing : undefined;
  if (ours && oursColocated) {
    lines.push(`   why tierflow is ${grid > 1.56 ? "higher" : "lower"}: its step times come from the cost model, where DistServe's are measured (its prefill ${x(profiled.prefillSeconds(prompt) / ours.prefill.prefillSeconds(prompt))} and its batch-1 decode step ` +
      `${x(profiled.decodeSeconds(1) / ours.decode.decodeSeconds(1))} tierflow's); with DistServe's step times the engine gives ${profiledGrid.toFixed(2)}, and what remains is the workload: lengths uniform around assumed means here, ` +
      "ShareGPT's long tail there (its slowest 10% of prompts set a P90 TTFT), DistServe's prefill instance batching prompts where the engine prefills one at a time, and each decode step costed at the mean context");
    lines.push(colocated > grid
      ? `   colocated beats disaggregated here: the TPOT target (0.1 s) is ${x(0.1 / oursColocated.decodeSeconds(maxBatch))} a decode step at batch ${maxBatch}, so a ${ms(oursColocated.prefillSeconds(prompt))} prefill stalling the batch leaves TPOT within it, ` +
        "and colocation has three GPUs that prefill where disaggregation has one TP2 pair; DistServe's case for disaggregation rests on interference that breaks the targets, which this cost model does not reach at 13B"
      : "   disaggregated beats colocated, as DistServe finds: prefills stalling the colocated decode batches break the TPOT target first");
  }
}

// ---- 3. Splitwise: phase-split vs colocated Llama-2-70B machines on the Azure traces ----

/** Splitwise's simulator (Mutinifni/splitwise-sim): a DGX-H100 costs 4.76 / 2.21 DGX-A100s (configs/experiment/isocost_cluster.yaml), draws 10.2 against 6.5 kW (configs/hardware_repo/skus), and a KV cache moves at 200 GB/s (configs/orchestrator_repo/schedulers/kv_jsq.yaml). */
const SPLITWISE = { costH100: 4.76 / 2.21, powerH100: 10_200, powerA100: 6_500, kvBandwidth: 200e9 };
const MACHINES = 8;

interface Machine { readonly name: string; readonly prefill: (tokens: number) => number; readonly decode: (batch: number) => number; readonly maxBatch: number }

interface Design { readonly name: string; readonly both: number; readonly prompt: number; readonly token: number; readonly promptMachine: Machine; readonly tokenMachine: Machine; readonly cost: number; readonly power: number }

/** A DGX running Llama-2-70B with TP8: prefill linear through plans at 256 and 512 tokens, decode linear through batch 1 and 64 at `context`, up to the batch its HBM holds. */
function machine(graph: Module, targetName: string, context: number): Machine {
  const target = loadTarget(targetName);
  const plan = (phase: "prefill" | "decode", batch: number, seq: number) => compileNodePlan(graph, target, { phase, batch, seq, dtype: "bf16", opt: 2 }, { parallel: "tp=8", disaggregate: undefined }).planParts;
  const p256 = plan("prefill", 1, 256).parallel.prediction.latencySeconds, p512 = plan("prefill", 1, 512).parallel.prediction.latencySeconds;
  const d1 = plan("decode", 1, context), d64 = plan("decode", 64, context).parallel.prediction.stepSeconds;
  const kv = kvSummary(d1.dataflow, d1.allocations, d1.occupancy.hbm, target.hbm.bytes);
  return { name: targetName, prefill: linear(256, p256, 512, p512), decode: linear(1, d1.parallel.prediction.stepSeconds, 64, d64), maxBatch: Math.floor(kv.maxTokensInHbm / (context + 1)) };
}

function splitwiseDesigns(h100: Machine, a100: Machine): { iso: Design[]; cheaper: Design[]; baseline: Design } {
  const design = (name: string, both: number, prompt: number, token: number, tokenMachine: Machine): Design => {
    const a = tokenMachine === a100 ? token : 0, h = both + prompt + (tokenMachine === a100 ? 0 : token);
    return { name, both, prompt, token, promptMachine: h100, tokenMachine, cost: h * SPLITWISE.costH100 + a, power: h * SPLITWISE.powerH100 + a * SPLITWISE.powerA100 };
  };
  const baseline = design(`Baseline-H100: ${MACHINES} DGX-H100, colocated`, MACHINES, 0, 0, h100);
  // Same budget: cost and power at most the baseline's; cheaper: cost at most `share` of it, power free.
  const within = (d: Design, share: number) => d.cost <= share * baseline.cost + 1e-9 && (share < 1 || d.power <= baseline.power + 1e-9);
  const splits = (hMachines: number, share: number) => {
    const out: Design[] = [];
    for (let p = 1; p < hMachines; p++) out.push(design(`Splitwise-HH: ${p} prompt + ${hMachines - p} token DGX-H100`, 0, p, hMachines - p, h100));
    for (let p = 1; p <= hMachines; p++) {
      let t = 1;
      while (within(design("", 0, p, t + 1, a100), share)) t++;
      const d = design(`Splitwise-HA: ${p} prompt DGX-H100 + ${t} token DGX-A100`, 0, p, t, a100);
      if (within(d, share)) out.push(d);
    }
    return out.filter((d) => within(d, share));
  };
  return { baseline, iso: splits(MACHINES, 1), cheaper: splits(Math.floor(0.8 * MACHINES), 0.8) };
}

/** `n` requests at `rate`: Poisson arrivals, each prompt and output length drawn from a trace's own columns (apart), as Splitwise's trace generator does. */
function poissonFromTrace(lengths: readonly { promptTokens: number; outputTokens: number }[], rate: number, n: number, seed: number): EngineRequest[] {
  const rand = seededRandom(seed);
  let t = 0;
  return Array.from({ length: n }, () => {
    t += -Math.log(1 - rand()) / rate;
    const a = lengths[Math.floor(rand() * lengths.length)]!, b = lengths[Math.floor(rand() * lengths.length)]!;
    return { arrival: t, promptTokens: a.promptTokens, outputTokens: b.outputTokens, expert: "llama" };
  });
}

function serve(d: Design, requests: readonly EngineRequest[], kvBytesPerToken: number): RequestLatency[] {
  const costs: ExpertCosts = {
    prefillSeconds: d.promptMachine.prefill, decodeSeconds: (d.both > 0 ? d.promptMachine : d.tokenMachine).decode, switchSeconds: 0, bytes: 0, startsResident: true,
    kvTransferSeconds: (tokens) => (tokens * kvBytesPerToken) / SPLITWISE.kvBandwidth,
  };
  const instances = (role: Role, n: number, m: Machine) => Array.from({ length: n }, () => ({ role, slots: 1, maxBatch: m.maxBatch }));
  const run = runEngine(requests, {
    experts: new Map([["llama", costs]]), policy: "lru",
    instances: [...instances("both", d.both, d.promptMachine), ...instances("prefill", d.prompt, d.promptMachine), ...instances("decode", d.token, d.tokenMachine)],
  });
  return requestLatencies(run.requests);
}

function splitwise(graph: Module, lines: string[], rows: Row[]): void {
  const cfg = LLAMA_PRESETS["llama-2-70b"]!, kvBytes = kvPerToken(cfg);
  // One decode context for both traces, between their means (conversation 1155 + 211 / 2, code 2048 + 28 / 2): a step moves by under 6% between them.
  const context = 1660;
  const h100 = machine(graph, "dgx-h100", context), a100 = machine(graph, "dgx-a100", context);
  const { baseline, iso, cheaper } = splitwiseDesigns(h100, a100);
  lines.push("3. Splitwise (ISCA 2024): Llama-2-70B shapes, bf16, a DGX per model instance (TP8), on the Azure LLM inference traces 2023 (CC-BY 4.0, Patel et al.)");
  for (const m of [h100, a100]) {
    lines.push(`   ${m.name} TP8: prefill ${ms(m.prefill(256))} / ${ms(m.prefill(1024))} / ${ms(m.prefill(2048))} for 256 / 1024 / 2048 tokens; decode step ${ms(m.decode(1))} at batch 1, ${ms(m.decode(64))} at 64 (context ${context}); KV cache holds ${m.maxBatch} requests`);
  }
  lines.push(`   SLOs (Splitwise's): slowdown against the request alone on an unloaded DGX-A100 (its simulator's reference), TTFT P50/P90/P99 <= 2/3/6x, TBT and end-to-end <= 1.25/1.5/5x; KV cache handed over at ${SPLITWISE.kvBandwidth / 1e9} GB/s`);
  lines.push(`   clusters: ${MACHINES} machines' cost and power, a DGX-H100 costing ${SPLITWISE.costH100.toFixed(2)} DGX-A100s and drawing ${SPLITWISE.powerH100 / 1e3} against ${SPLITWISE.powerA100 / 1e3} kW (Splitwise's simulator); ` +
    "arrivals Poisson at each rate with prompt and output lengths drawn from the trace (Splitwise's trace generator), 3000 requests a run, the rate bisected to 0.5 req/s");
  const unloaded = (reqs: readonly EngineRequest[]): RequestLatency[] => reqs.map((r) => {
    const ttft = a100.prefill(r.promptTokens), tbt = a100.decode(1);
    return { ttft, tbt, e2e: ttft + tbt * Math.max(0, r.outputTokens - 1) };
  });
  const best = (designs: readonly Design[], rateOf: (d: Design) => number) => designs.map((d) => ({ d, rate: rateOf(d) })).reduce((a, b) => (b.rate > a.rate ? b : a));
  for (const name of ["conv", "code"] as const) {
    const trace = readRequestTrace(join(TRACES, `azure_llm_2023_${name}.csv`)).requests;
    const rateOf = (d: Design) => highestRate((rate) => {
      const reqs = poissonFromTrace(trace, rate, 3000, 1);
      return checkSlowdowns(slowdowns(serve(d, reqs, kvBytes), unloaded(reqs))).met;
    }, { high: 256, tolerance: 0.5 });
    const b = rateOf(baseline), c = best(cheaper, rateOf);
    const hh = best(iso.filter((d) => d.tokenMachine === h100), rateOf), ha = best(iso.filter((d) => d.tokenMachine === a100), rateOf);
    const i = ha.rate > hh.rate ? ha : hh;
    const share = (d: Design) => `cost ${(d.cost / baseline.cost).toFixed(2)}, power ${(d.power / baseline.power).toFixed(2)}`;
    lines.push(`   ${name === "conv" ? "conversation" : "code"} trace (${trace.length} requests in its hour): ${baseline.name} ${b.toFixed(1)} req/s within the SLOs`);
    for (const d of [hh, ha]) lines.push(`     same cost and power: best ${d.d.name} ${d.rate.toFixed(1)} req/s (${x(d.rate / b)}; ${share(d.d)})`);
    lines.push(`     at most 80% of the cost: best ${c.d.name} ${c.rate.toFixed(1)} req/s (${x(c.rate / b)}; ${share(c.d)})`);
    // The trace's own timestamps, rate-scaled: its bursts (the code trace sends 67 requests in one second) weigh on P99 TTFT.
    const real = shapeTrace(trace, ["llama"], { window: { start: 0, end: 1200 } }).requests;
    const base = real.length / 1200;
    const scaled = (d: Design) => highestRate((rate) => {
      const reqs = real.map((r) => ({ arrival: (r.arrival * base) / rate, promptTokens: r.promptTokens, outputTokens: r.outputTokens, expert: "llama" }));
      return checkSlowdowns(slowdowns(serve(d, reqs, kvBytes), unloaded(reqs))).met;
    }, { high: 256, tolerance: 0.5 });
    const rb = scaled(baseline), ri = scaled(i.d);
    const perSecond = new Map<number, number>();
    for (const r of real) perSecond.set(Math.floor(r.arrival), (perSecond.get(Math.floor(r.arrival)) ?? 0) + 1);
    lines.push(`     on the trace's own arrivals (first 20 min, ${base.toFixed(2)} req/s on average, up to ${Math.max(...perSecond.values())} in one second; rate-scaled): ` +
      `baseline ${rb.toFixed(1)}, ${i.d.name.split(":")[0]} ${ri.toFixed(1)} req/s (${x(ri / rb)}): the bursts, not the mean rate, set P99 TTFT`);
    rows.push({ what: `Splitwise, ${name} trace: phase-split / colocated, same cost and power`, ours: `${x(i.rate / b)} (${i.d.name.split(": ")[1]})`, paper: "2.35x at the same cost and power" });
    rows.push({ what: `Splitwise, ${name} trace: phase-split / colocated, at most 80% of the cost`, ours: `${x(c.rate / b)} (${c.d.name.split(": ")[1]})`, paper: "1.4x at 20% lower cost" });
  }
  const perRequest = (m: Machine) => `${((m.decode(64) - m.decode(1)) / 63 * 1e3).toFixed(3)} ms`;
  lines.push(`   why tierflow's gain is smaller: ${MACHINES} machines split in steps of one eighth, where the paper provisions 40 DGX-H100s' worth (its simulator's iso-cost cluster); ` +
    "it leaves out the paper's mixed pool (machines that take either phase under load), join-the-shortest-queue scheduling (requests go round-robin here), " +
    "power-capped H100 token machines (Splitwise-HHcap) and prompts batched with other work in one iteration (a prompt machine here prefills one prompt at a time, first come first served, so P99 TTFT is what binds the split designs); " +
    `A100 token machines batch less under the TBT bound (the unloaded A100 step x 1.25) because a decode step grows ${perRequest(a100)} per request on them against ${perRequest(h100)} on H100 in this cost model; ` +
    "cost and power are list ratios, not measured draw; " +
    "TBT is each request's mean gap between tokens, as Splitwise's simulator takes it");
}

// ---- 4. The SN40L paper's expert sweep on the Azure conversation trace's arrivals ----

const SWEEP = [1, 10, 20, 40, 50, 60, 80, 100, 150, 200, 500, 850, 1000];
/** The SN40L paper's DGX switching: every switch over one host link (hardware brief), as bench/coe.ts shows it too. */
const PAPER_HOST_LINK_H100 = 64e9;

function coeFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-published-coe-"));
  writeLlama(join(dir, "base/model.onnx"), LLAMA_PRESETS["llama-2-7b"]!);
  copyFileSync(join(ROOT, "examples/coe/router.onnx"), join(dir, "router.onnx"));
  mkdirSync(join(dir, "experts"));
  writeFileSync(join(dir, "coe.json"), JSON.stringify({
    format: "tierflow-coe", version: 1, router: { model: "router.onnx", routes: { 0: "e0", 1: "e0", 2: "e0" } },
    experts: { e0: { graph: "base/model.onnx", weights: "experts/e0.data" } },
    shared_graphs: { "base/model.onnx": { external_data_location: "model.onnx.data" } },
  }));
  return dir;
}

async function expertSweep(lines: string[], rows: Row[]): Promise<void> {
  const dir = coeFolder();
  try {
    const conv = readRequestTrace(join(TRACES, "azure_llm_2023_conv.csv")).requests;
    const window = { start: 0, end: 600 };
    const compiled = async (target: string) => (await compileCoe(readManifest(join(dir, "coe.json")), { target, batch: 8, seq: 128, context: 512 })).plan;
    const sn40l = await compiled("sn40l-node"), h100 = await compiled("dgx-h100");
    const oneLink = planWithExperts({ ...h100, node: { ...h100.node, switchBandwidth: PAPER_HOST_LINK_H100 } }, 1);
    const nodes: [string, CoePlan][] = [["sn40l-node (1 TB/s)", sn40l], ["dgx-h100, a host link per GPU (440 GB/s)", h100], ["dgx-h100, one host link (64 GB/s, the paper's)", oneLink]];
    lines.push("4. SN40L (MICRO 2024) expert sweep on real arrivals: Llama-2-7B experts (tp=8 over the node), batch 8, pin-hot; the Azure conversation trace's first 10 minutes " +
      `(${conv.filter((r) => r.arrival < window.end).length} requests), each request's expert drawn by a seeded draw over the experts`);
    const sweep = (plan: CoePlan, mapping: "zipf" | "uniform", lengths: "sweep" | "trace") => SWEEP.map((n) => {
      const p = planWithExperts(plan, n);
      const shaped = shapeTrace(conv, p.experts.map((e) => e.name), { window, mapping: mapping === "zipf" ? { kind: "zipf", s: 1, seed: 1 } : { kind: "uniform", seed: 1 } }).requests;
      const trace = lengths === "sweep" ? shaped.map((r) => ({ ...r, promptTokens: 128, outputTokens: 20 })) : shaped;
      return { n, r: simulate(p, trace, "pin-hot").result, pinned: p.experts.filter((e) => e.home === "hbm").length };
    });
    const report = (name: string, results: ReturnType<typeof sweep>) => {
      const base = results[0]!.r.latencyMean;
      const jump = results.find((r) => r.r.latencyMean > 2 * base), oom = results.find((r) => r.r.outOfMemory);
      lines.push(`     ${name}: ${ms(base)} at 1 expert, doubles at ${jump ? `${jump.n} experts (${jump.pinned} pinned in HBM)` : "no count up to 1000"}, out of memory at ${oom ? oom.n : "no count up to 1000"}; ` +
        results.filter((r) => [10, 40, 50, 60, 100, 150, 850].includes(r.n)).map((r) => `${r.n}: ${ms(r.r.latencyMean)}${r.r.outOfMemory ? " OOM" : ""}`).join(", "));
      return { jump: jump?.n, oom: oom?.n };
    };
    for (const mapping of ["zipf", "uniform"] as const) {
      lines.push(`   ${mapping === "zipf" ? "Zipf (s = 1)" : "uniform (as the paper's and bench/coe.ts's sweep)"} over the experts, the sweep's lengths (128-token prompts, 20 output tokens), mean latency:`);
      for (const [name, plan] of nodes) {
        const r = report(name, sweep(plan, mapping, "sweep"));
        rows.push({ what: `SN40L sweep, Azure conv arrivals, ${mapping}, ${name.split(" (")[0]}: doubles / OOM at`, ours: `${r.jump ?? "-"} / ${r.oom ?? "-"} experts`, paper: name.startsWith("sn40l") ? "serves 850" : "~50 / ~150 (DGX)" });
      }
    }
    const inWindow = conv.filter((r) => r.arrival < window.end);
    const mean = (f: (r: (typeof conv)[number]) => number) => inWindow.reduce((a, r) => a + f(r), 0) / inWindow.length;
    lines.push(`   Zipf (s = 1) with the trace's own lengths (mean ${mean((r) => r.promptTokens).toFixed(0)}-token prompts, ${mean((r) => r.outputTokens).toFixed(0)} output tokens), mean latency:`);
    const saturates = nodes.slice(0, 2).map(([name, plan]) => report(name, sweep(plan, "zipf", "trace")).jump);
    lines.push("   under Zipf the hot experts stay pinned and most requests meet their expert in HBM, so latency moves later and less than under the uniform draw the paper sweeps with; " +
      `at the trace's real lengths a turn decodes ${mean((r) => r.outputTokens).toFixed(0)} tokens on average and the node serves one expert at a time (the paper's CoE), so it saturates once requests spread over ` +
      `${saturates.map((n) => n ?? "-").join(" / ")} experts, whatever fits in HBM; the DGX's jump near the HBM limit comes with the paper's one host link, where a switch costs ${ms(oneLink.experts[0]!.bytes / oneLink.node.switchBandwidth)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function benchServingPublished(): Promise<string[]> {
  const t0 = performance.now();
  const lines: string[] = [], rows: Row[] = [];
  const dir = mkdtempSync(join(tmpdir(), "tierflow-published-"));
  const took: string[] = [];
  const timed = async (name: string, f: () => void | Promise<void>) => {
    const t = performance.now();
    await f();
    took.push(`${name} ${((performance.now() - t) / 1e3).toFixed(0)} s`);
  };
  const model = async (preset: string) => {
    const path = join(dir, `${preset}.onnx`);
    writeLlama(path, LLAMA_PRESETS[preset]!);
    return (await loadFused(path, { opt: 2 })).graph;
  };
  try {
    await timed("Aegaeon", () => aegaeon(lines, rows));
    await timed("DistServe", async () => distServe(await model("llama-2-13b"), lines, rows));
    await timed("Splitwise", async () => splitwise(await model("llama-2-70b"), lines, rows));
    await timed("SN40L sweep", () => expertSweep(lines, rows));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const width = Math.max(...rows.map((r) => r.what.length)), ours = Math.max(...rows.map((r) => r.ours.length));
  lines.push("", `${"published result".padEnd(width)}  ${"tierflow".padEnd(ours)}  paper`);
  for (const r of rows) lines.push(`${r.what.padEnd(width)}  ${r.ours.padEnd(ours)}  ${r.paper}`);
  lines.push(`serving-published: ${((performance.now() - t0) / 1e3).toFixed(0)} s (${took.join(", ")}; plans compiled once each)`);
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of await benchServingPublished()) console.log(line);
}
