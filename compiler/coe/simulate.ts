// Serving simulation of a compiled CoE: one node serving a request trace,
// run by the serving engine (compiler/serving/engine.ts: turns per expert,
// continuous batching within a turn, HBM slots under a policy) with the plan's
// costs: prefill the plan's prefill seconds scaled by prompt length, a decode
// step what the plan compiled for the batch it runs (decode plans at batch 1,
// 2, 4, ..., linear between them), a switch the expert's bytes over the switch
// path (DDR or host memory; storage past it), the router's seconds on arrival.
// Policies (the engine's, plus one that picks among them):
//   pin-hot   the hottest experts (manifest shares, else trace counts) stay pinned; one slot swaps
//   lru       every slot swaps, least recently used out
//   lfu       every slot swaps, least frequently requested out
//   prefetch  lru, and while a turn computes, the router's second choice of its first request is copied into a free slot
//   auto      runs the others and keeps the one with the lowest p99 latency
// Known weakness: one node, no overlap of a switch with the previous turn's
// decode except by prefetch.

import { fail } from "../../ir/diagnostics.js";
import type { CoePlan } from "./compile-coe.js";
import type { TraceRequest } from "./trace.js";
import { decodeStepSeconds } from "./decode-steps.js";
import { planResidency } from "./residency.js";
import { attainment, requestLatencies } from "../serving/slo.js";
import { runEngine } from "../serving/engine.js";
import type { EngineRun, ExpertCosts } from "../serving/engine.js";
import type { Check } from "../../ir/arguments.js";
import { COUNT, FUNCTION, NUMBER, arrayOf, checkArg, isObject, oneOf } from "../../ir/arguments.js";
import type { OnStage } from "../stage.js";

export const POLICIES = ["pin-hot", "lru", "lfu", "prefetch"] as const;
/**
 * Which experts stay in HBM while a CoE serves: "pin-hot" keeps the hottest pinned, "lru" and
 * "lfu" swap every slot (least recently or least frequently used out), "prefetch" is lru that
 * also copies in the router's second choice while a batch computes; "auto" runs them all and
 * keeps the one with the lowest p99 latency.
 */
export type Policy = (typeof POLICIES)[number] | "auto";

/** One policy's simulated serving of a request trace; times in seconds. */
export interface SimResult {
  /** The policy simulated. */
  readonly policy: Exclude<Policy, "auto">;
  /** Requests in the trace. */
  readonly requests: number;
  /** When the last request completes. */
  readonly makespanSeconds: number;
  /** Request latency, arrival to last token: mean and percentiles. */
  readonly latencyMean: number;
  readonly latencyP50: number;
  readonly latencyP90: number;
  readonly latencyP99: number;
  /** Time to first token (the end of the prompt's prefill): percentiles. */
  readonly ttftP50: number;
  readonly ttftP90: number;
  readonly ttftP99: number;
  /** Time per output token after the first: percentiles over requests of two or more tokens. */
  readonly tpotP50: number;
  readonly tpotP90: number;
  readonly tpotP99: number;
  /** Output tokens per second from the first arrival to the end. */
  readonly tokensPerSecond: number;
  /** Experts copied into HBM. */
  readonly switches: number;
  /** Requests that waited for their expert's copy (cold starts), and the seconds all copies took. */
  readonly coldStarts: number;
  readonly switchSeconds: number;
  /** Nodes serving the CoE. */
  readonly nodes: number;
  /** With latency targets: the fraction of requests meeting both, and those requests per second of the run (goodput). */
  readonly attainment?: number;
  readonly goodput?: number;
  /** Bytes those copies moved. */
  readonly bytesMoved: number;
  /** Turns served: an expert's batch, from the switch to it until its batch drains. */
  readonly batches: number;
  /** Expert slots in HBM besides the router and KV cache. */
  readonly hbmSlots: number;
  readonly hbmOccupancyMeanBytes: number;
  readonly hbmOccupancyMaxBytes: number;
  /** (time, HBM bytes) at each change, at most 200 points. */
  readonly occupancy: readonly (readonly [number, number])[];
  /** Switches started in each of 50 equal intervals of the run. */
  readonly switchesOverTime: { readonly binSeconds: number; readonly counts: readonly number[] };
  /** Latency of the requests arriving in each of those intervals: median and 99th percentile (0 where none arrive). */
  readonly latencyOverTime: { readonly binSeconds: number; readonly p50: readonly number[]; readonly p99: readonly number[] };
  /** Requests and switches of each expert that had either. */
  readonly perExpert: readonly { readonly name: string; readonly requests: number; readonly switches: number }[];
  /** Some experts do not fit in DDR (or host memory) and are read from storage. */
  readonly outOfMemory: boolean;
  /** No expert fits in HBM beside the router and KV cache: nothing was served. */
  readonly unservable: boolean;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

/** Seconds to copy an expert into HBM from its home (DDR or host memory; storage past it). */
export function copySeconds(plan: CoePlan, e: CoePlan["experts"][number]): number {
  return e.bytes / (e.home === "storage" ? plan.node.storageBandwidth : plan.node.switchBandwidth);
}

/** Expert slots in HBM besides the router and KV cache: the active region plus what pinning could use. */
export function hbmSlots(plan: CoePlan): number {
  const bytes = Math.max(...plan.experts.map((e) => e.bytes));
  return Math.max(0, Math.floor((plan.node.hbmBytes - plan.residency.hbmReservedBytes) / bytes));
}

/** How a CoE is served beyond its compiled node: more nodes, a serverless keep-alive, latency targets. */
export interface SimOptions {
  /** Nodes serving the CoE, each a copy of the compiled node with its own HBM and DDR; experts are split across them by their requests. */
  readonly nodes?: number;
  /** An expert idle this many seconds leaves HBM, as a serverless pool unloads a model. */
  readonly keepAliveSeconds?: number;
  /** Latency targets: the result gives the fraction of requests meeting both. */
  readonly slo?: { readonly ttftSeconds: number; readonly tpotSeconds: number };
  /**
   * Prefill on some nodes and decode on others, each node holding the CoE as compiled; a
   * prompt's KV cache goes to a decode node at `kvBandwidth` bytes per second.
   */
  readonly disaggregate?: { readonly prefillNodes: number; readonly decodeNodes: number; readonly kvBandwidth: number };
}

/** Experts to nodes, heaviest first onto the node with the fewest requests; experts with none spread by bytes. */
function placeOnNodes(plan: CoePlan, counts: ReadonlyMap<string, number>, nodes: number): Map<string, number> {
  const load = new Array<number>(nodes).fill(0), bytes = new Array<number>(nodes).fill(0);
  const home = new Map<string, number>();
  const byRequests = plan.experts.map((e, i) => ({ e, i, n: counts.get(e.name) ?? 0 })).sort((a, b) => b.n - a.n || a.i - b.i);
  for (const { e, n } of byRequests) {
    let k = 0;
    for (let j = 1; j < nodes; j++) if (n > 0 ? load[j]! < load[k]! : bytes[j]! < bytes[k]!) k = j;
    home.set(e.name, k);
    load[k]! += n;
    bytes[k]! += e.bytes;
  }
  return home;
}

function simulateOne(plan: CoePlan, trace: readonly TraceRequest[], policy: Exclude<Policy, "auto">, o: SimOptions): SimResult {
  const experts = new Map(plan.experts.map((e) => [e.name, e]));
  const graphs = new Map(plan.graphs.map((g) => [g.id, g]));
  for (const r of trace) if (r.expert === undefined || !experts.has(r.expert)) fail(`trace names expert '${r.expert ?? "(none: route it first)"}', which the CoE plan does not have`);
  const slots = hbmSlots(plan);
  const split = o.disaggregate;
  const nodes = split ? split.prefillNodes + split.decodeNodes : (o.nodes ?? 1);
  const counts = new Map<string, number>();
  for (const r of trace) counts.set(r.expert!, (counts.get(r.expert!) ?? 0) + 1);
  // pin-hot ranks by the manifest's shares when they differ, else by the trace's counts.
  const uneven = new Set(plan.experts.map((e) => e.share)).size > 1;
  const heat = (e: CoePlan["experts"][number]) => (uneven ? e.share : (counts.get(e.name) ?? 0));
  // One node keeps the compiled homes; several each place their own experts in their own HBM, DDR and storage.
  const assignment = nodes > 1 && !split ? placeOnNodes(plan, counts, nodes) : undefined;
  const homes = new Map<string, { home: "hbm" | "ddr" | "storage"; switchSeconds: number }>(plan.experts.map((e) => [e.name, { home: e.home, switchSeconds: copySeconds(plan, e) }]));
  let spilled = plan.residency.spilledToStorage;
  if (assignment) {
    spilled = 0;
    for (let k = 0; k < nodes; k++) {
      const mine = plan.experts.filter((e) => assignment.get(e.name) === k).map((e) => ({ name: e.name, bytes: e.bytes, share: heat(e) }));
      const r = planResidency(plan.node, mine, plan.residency.hbmReservedBytes, 0);
      spilled += r.spilledToStorage;
      for (const x of r.experts) homes.set(x.name, { home: x.home, switchSeconds: x.home === "hbm" ? copySeconds(plan, { ...experts.get(x.name)!, home: "ddr" }) : x.switchSeconds });
    }
  }
  const costs = new Map<string, ExpertCosts>(plan.experts.map((e) => {
    const g = graphs.get(e.graph)!;
    const h = homes.get(e.name)!;
    // KV cache per token: the graph's cache at the compiled batch and context, spread over them.
    const kvPerToken = g.kvBytes / (plan.options.batch * plan.options.context);
    return [e.name, {
      ...(split ? { kvTransferSeconds: (tokens: number) => (kvPerToken * tokens) / split.kvBandwidth } : {}),
      prefillSeconds: (tokens: number) => g.prefillSeconds * (tokens / plan.options.seq),
      decodeSeconds: (batch: number) => decodeStepSeconds(g.decodeSteps, batch),
      switchSeconds: h.switchSeconds, bytes: e.bytes, startsResident: h.home === "hbm", heat: heat(e),
    }];
  }));
  const unservable = !plan.residency.fitsHbm || slots < 1;
  const capacityBytes = plan.node.hbmBytes - plan.residency.hbmReservedBytes;
  const run = runEngine(unservable ? [] : trace.map((r) => ({ ...r, expert: r.expert! })), {
    experts: costs, policy, routerSeconds: plan.router.seconds, reservedBytes: plan.residency.hbmReservedBytes,
    // HBM is shared by bytes: experts of different graphs differ in size.
    instances: split
      ? [...Array.from({ length: split.prefillNodes }, () => ({ role: "prefill" as const, slots: Number.MAX_SAFE_INTEGER, capacityBytes, maxBatch: plan.options.batch })),
        ...Array.from({ length: split.decodeNodes }, () => ({ role: "decode" as const, slots: Number.MAX_SAFE_INTEGER, capacityBytes, maxBatch: plan.options.batch }))]
      : Array.from({ length: nodes }, () => ({ role: "both" as const, slots: Number.MAX_SAFE_INTEGER, capacityBytes, maxBatch: plan.options.batch })),
    ...(assignment ? { assignment } : {}), ...(o.keepAliveSeconds !== undefined ? { keepAliveSeconds: o.keepAliveSeconds } : {}),
  });
  return { ...summarize(run, trace, policy, slots, plan.experts.map((e) => e.name), o), nodes, outOfMemory: spilled > 0, unservable };
}

/** The fraction of requests whose TTFT and TPOT meet the targets (a one-token request has no TPOT to miss); 1 when none ran. */
function sloShare(run: EngineRun, slo: NonNullable<SimOptions["slo"]>): number {
  return run.requests.length === 0 ? 1 : attainment(requestLatencies(run.requests), slo).both;
}

/** The share within the targets and those requests per second of the run (goodput). */
const withinTargets = (share: number, requests: number, span: number) => ({ attainment: share, goodput: span > 0 ? (share * requests) / span : 0 });

/** The figures of one engine run over the trace it served. */
function summarize(run: EngineRun, trace: readonly TraceRequest[], policy: Exclude<Policy, "auto">, slots: number, names: readonly string[], o: SimOptions): Omit<SimResult, "nodes" | "outOfMemory" | "unservable"> {
  const latencies = run.requests.map((r) => r.finish - r.arrival).sort((a, b) => a - b);
  const ttfts = run.requests.map((r) => r.firstToken - r.arrival).sort((a, b) => a - b);
  const tpots = run.requests.filter((r) => r.outputTokens > 1).map((r) => (r.finish - r.firstToken) / (r.outputTokens - 1)).sort((a, b) => a - b);
  const tokens = run.requests.reduce((s, r) => s + r.outputTokens, 0);
  const end = run.makespanSeconds;
  let area = 0, max = 0;
  const occ = run.occupancy.length > 0 ? [...run.occupancy, [end, run.occupancy.at(-1)![1]] as const] : [];
  for (let i = 0; i < occ.length; i++) {
    const [t, b] = occ[i]!;
    max = Math.max(max, b);
    if (i + 1 < occ.length) area += b * (occ[i + 1]![0] - t);
  }
  const span = end - (trace[0]?.arrival ?? 0);
  const step = Math.max(1, Math.ceil(occ.length / 200));
  const perExpert = new Map(names.map((n) => [n, { requests: 0, switches: 0 }]));
  for (const r of run.requests) perExpert.get(r.expert)!.requests++;
  for (const s of run.switches) perExpert.get(s.expert)!.switches++;
  const bins = 50;
  const binSeconds = end > 0 ? end / bins : 1;
  const switchesOverTime = new Array<number>(end > 0 ? bins : 0).fill(0);
  for (const s of run.switches) switchesOverTime[Math.min(bins - 1, Math.floor(s.at / binSeconds))]!++;
  const byArrival: number[][] = Array.from({ length: switchesOverTime.length }, () => []);
  for (const r of run.requests) byArrival[Math.min(bins - 1, Math.floor(r.arrival / binSeconds))]?.push(r.finish - r.arrival);
  for (const b of byArrival) b.sort((x, y) => x - y);
  return {
    policy, requests: trace.length, makespanSeconds: end,
    latencyMean: latencies.length > 0 ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0,
    latencyP50: percentile(latencies, 0.5), latencyP90: percentile(latencies, 0.9), latencyP99: percentile(latencies, 0.99),
    ttftP50: percentile(ttfts, 0.5), ttftP90: percentile(ttfts, 0.9), ttftP99: percentile(ttfts, 0.99),
    tpotP50: percentile(tpots, 0.5), tpotP90: percentile(tpots, 0.9), tpotP99: percentile(tpots, 0.99),
    tokensPerSecond: span > 0 ? tokens / span : 0,
    switches: run.switches.length, bytesMoved: run.bytesMoved, batches: run.turns, hbmSlots: slots,
    coldStarts: run.requests.filter((r) => r.cold).length, switchSeconds: run.switchSeconds,
    ...(o.slo ? withinTargets(sloShare(run, o.slo), run.requests.length, span) : {}),
    hbmOccupancyMeanBytes: end > 0 ? area / end : max, hbmOccupancyMaxBytes: max,
    occupancy: occ.filter((_, i) => i % step === 0).map(([t, b]) => [t, b] as const),
    switchesOverTime: { binSeconds, counts: switchesOverTime },
    latencyOverTime: { binSeconds, p50: byArrival.map((b) => percentile(b, 0.5)), p99: byArrival.map((b) => percentile(b, 0.99)) },
    perExpert: [...perExpert].filter(([, v]) => v.requests > 0 || v.switches > 0).map(([name, v]) => ({ name, ...v })),
  };
}

const TRACE_REQUEST: Check = {
  what: "a request ({arrival, promptTokens, outputTokens, ...}: arrival a finite number >= 0, token counts whole numbers >= 0)",
  ok: (v) => isObject(v) && NUMBER.ok(v.arrival) && (v.arrival as number) >= 0 && COUNT.ok(v.promptTokens) && COUNT.ok(v.outputTokens) &&
    (v.expert === undefined || typeof v.expert === "string") && (v.second === undefined || typeof v.second === "string") &&
    (v.promptIds === undefined || arrayOf(COUNT).ok(v.promptIds)),
};

/**
 * Simulate one node serving a request trace with a compiled CoE's costs, under an HBM
 * residency policy; with "auto", every policy is run (`tried`, each announced to `onStage`
 * as one of the "policies") and the one with the lowest p99 latency is the `result`. A
 * malformed plan, trace or policy, or a request naming an expert the plan does not have (or
 * none), throws a TierflowError.
 *
 * @example
 * ```ts
 * import { compileCoe, generateTrace, readManifest, simulate } from "tierflow";
 *
 * const { plan } = await compileCoe(readManifest("examples/coe/coe.json"));
 * const trace = generateTrace({ experts: plan.experts.map((e) => e.name), requests: 200, rate: 4, distribution: "zipf", seed: 1 });
 * const { result, tried } = simulate(plan, trace, "auto");
 * for (const r of tried) console.log(r.policy, r.latencyP99, r.switches);
 * console.log(`auto picks ${result.policy}`);
 * ```
 */
export function simulate(plan: CoePlan, trace: readonly TraceRequest[], policy: Policy, onStage?: OnStage, options: SimOptions = {}): { result: SimResult; tried: readonly SimResult[] } {
  checkArg("simulate", "plan", plan, { what: "a CoePlan (compileCoe(...).plan or readCoePlan(...))", ok: (v) => isObject(v) && isObject(v.residency) });
  checkArg("simulate", "trace", trace, { what: "an array", ok: Array.isArray });
  trace.forEach((r, i) => checkArg("simulate", `trace[${i}]`, r, TRACE_REQUEST));
  checkArg("simulate", "policy", policy, oneOf([...POLICIES, "auto"]));
  if (onStage !== undefined) checkArg("simulate", "onStage", onStage, FUNCTION);
  const nodeCount = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 1 && (v as number) <= 1024;
  checkArg("simulate", "options", options, { what: "{nodes?, keepAliveSeconds?, slo?: {ttftSeconds, tpotSeconds}, disaggregate?: {prefillNodes, decodeNodes, kvBandwidth}} (nodes whole numbers 1..1024, seconds and bandwidth > 0, nodes or disaggregate)", ok: (v) => isObject(v) &&
    (v.disaggregate === undefined || (v.nodes === undefined && isObject(v.disaggregate) && nodeCount(v.disaggregate.prefillNodes) && nodeCount(v.disaggregate.decodeNodes) &&
      NUMBER.ok(v.disaggregate.kvBandwidth) && (v.disaggregate.kvBandwidth as number) > 0)) &&
    (v.nodes === undefined || (Number.isSafeInteger(v.nodes) && (v.nodes as number) >= 1 && (v.nodes as number) <= 1024)) &&
    (v.keepAliveSeconds === undefined || (NUMBER.ok(v.keepAliveSeconds) && (v.keepAliveSeconds as number) > 0)) &&
    (v.slo === undefined || (isObject(v.slo) && NUMBER.ok(v.slo.ttftSeconds) && NUMBER.ok(v.slo.tpotSeconds) && (v.slo.ttftSeconds as number) > 0 && (v.slo.tpotSeconds as number) > 0)) });
  if (policy !== "auto") return { result: simulateOne(plan, trace, policy, options), tried: [] };
  const tried = POLICIES.map((p, i) => {
    onStage?.(`policy ${p}`, { done: i, total: POLICIES.length, unit: "policies" });
    return simulateOne(plan, trace, p, options);
  });
  const best = tried.reduce((a, b) => (b.latencyP99 < a.latencyP99 - 1e-12 ? b : a));
  return { result: best, tried };
}
