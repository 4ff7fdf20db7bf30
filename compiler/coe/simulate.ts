// Serving simulation of a compiled CoE: a discrete-event simulation of one
// node serving a request trace with the plan's costs.
//
// Model: requests arrive, the router runs (router seconds each, on arrival);
// the node serves one expert at a time. When idle it picks the expert of the
// oldest waiting request and batches up to `batch` waiting requests for it
// (first come, first served across experts). If that expert is not in HBM it
// is copied in (switch seconds, bytes over the switch path), evicting one by
// the policy; then prefill (the plan's prefill seconds scaled by prompt length)
// and decode steps (the decode plan's step time, at the plan's batch) until
// the longest output is done. A request's first token comes after the prefill
// and one decode step; it completes after its own output tokens.
// Policies decide which experts stay in HBM slots besides the active one:
// All start from the compiled residency (the hot set already in HBM).
//   pin-hot   the hottest experts (manifest shares, else trace counts) stay pinned; one slot swaps
//   lru       every slot swaps, least recently used out
//   lfu       every slot swaps, least frequently requested out
//   prefetch  lru, and while a batch computes, the router's second choice of its first request is copied into a free slot
//   auto      runs the others and keeps the one with the lowest p99 latency
// Known weakness: one node, no overlap of a switch with the previous batch's
// decode except by prefetch. A decode step costs what the plan compiled for
// the batch it runs (decode plans at batch 1, 2, 4, ..., linear between them).

import { fail } from "../../ir/diagnostics.js";
import type { CoePlan } from "./compile-coe.js";
import type { TraceRequest } from "./trace.js";
import { decodeStepSeconds } from "./decode-steps.js";
import type { Check } from "../../ir/arguments.js";
import { COUNT, NUMBER, arrayOf, checkArg, isObject, oneOf } from "../../ir/arguments.js";

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
  /** Request latency, arrival to last token: mean, median and 99th percentile. */
  readonly latencyMean: number;
  readonly latencyP50: number;
  readonly latencyP99: number;
  /** Time to first token: median and 99th percentile. */
  readonly ttftP50: number;
  readonly ttftP99: number;
  /** Output tokens per second from the first arrival to the end. */
  readonly tokensPerSecond: number;
  /** Experts copied into HBM. */
  readonly switches: number;
  /** Bytes those copies moved. */
  readonly bytesMoved: number;
  /** Batches served. */
  readonly batches: number;
  /** Expert slots in HBM besides the router and KV cache. */
  readonly hbmSlots: number;
  readonly hbmOccupancyMeanBytes: number;
  readonly hbmOccupancyMaxBytes: number;
  /** (time, HBM bytes) at each change, at most 200 points. */
  readonly occupancy: readonly (readonly [number, number])[];
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

function simulateOne(plan: CoePlan, trace: readonly TraceRequest[], policy: Exclude<Policy, "auto">): SimResult {
  const experts = new Map(plan.experts.map((e) => [e.name, e]));
  const graphs = new Map(plan.graphs.map((g) => [g.id, g]));
  for (const r of trace) if (r.expert === undefined || !experts.has(r.expert)) fail(`trace names expert '${r.expert ?? "(none: route it first)"}', which the CoE plan does not have`);
  const slots = hbmSlots(plan);
  const reserved = plan.residency.hbmReservedBytes;
  const batchMax = plan.options.batch;
  const counts = new Map<string, number>();
  for (const r of trace) counts.set(r.expert!, (counts.get(r.expert!) ?? 0) + 1);
  // pin-hot: the hottest (slots - 1) experts stay; manifest shares when they differ, else the trace's counts.
  const uneven = new Set(plan.experts.map((e) => e.share)).size > 1;
  const heat = (name: string) => (uneven ? experts.get(name)!.share : (counts.get(name) ?? 0));
  const pinned = new Set(policy === "pin-hot" ? [...experts.keys()].map((n, i) => ({ n, i })).sort((a, b) => heat(b.n) - heat(a.n) || a.i - b.i).slice(0, Math.max(0, slots - 1)).map((x) => x.n) : []);
  // Every policy starts from the compiled residency (its hot set loaded); only pin-hot keeps it pinned.
  const resident = new Map<string, number>(); // name -> time it is ready in HBM
  for (const e of plan.experts) if (e.home === "hbm" && resident.size < slots) resident.set(e.name, 0);
  for (const p of pinned) if (!resident.has(p) && resident.size < slots) resident.set(p, 0);
  const lastUse = new Map<string, number>();
  const uses = new Map<string, number>();
  let switches = 0, bytesMoved = 0, batches = 0;
  const occupancy: [number, number][] = [];
  const hbmBytes = () => reserved + [...resident.keys()].reduce((s, n) => s + experts.get(n)!.bytes, 0);
  const record = (t: number) => occupancy.push([t, hbmBytes()]);
  record(0);

  const evictFor = (keep: ReadonlySet<string>): void => {
    if (resident.size < slots) return;
    const candidates = [...resident.keys()].filter((n) => !pinned.has(n) && !keep.has(n));
    if (candidates.length === 0) return;
    const score = (n: string) => (policy === "lfu" ? (uses.get(n) ?? 0) * 1e12 + (lastUse.get(n) ?? 0) : (lastUse.get(n) ?? 0));
    candidates.sort((a, b) => score(a) - score(b) || (a < b ? -1 : 1));
    resident.delete(candidates[0]!);
  };
  const copyIn = (name: string, start: number, keep: ReadonlySet<string>): number => {
    const e = experts.get(name)!;
    evictFor(keep);
    switches++;
    bytesMoved += e.bytes;
    const ready = start + copySeconds(plan, e);
    resident.set(name, ready);
    return ready;
  };

  const latencies: number[] = [], ttfts: number[] = [];
  let tokens = 0;
  const waiting: { r: TraceRequest; ready: number }[] = [];
  let next = 0, now = 0;
  const unservable = !plan.residency.fitsHbm || slots < 1;
  while (!unservable && (next < trace.length || waiting.length > 0)) {
    if (waiting.length === 0) now = Math.max(now, trace[next]!.arrival + plan.router.seconds);
    while (next < trace.length && trace[next]!.arrival + plan.router.seconds <= now) {
      waiting.push({ r: trace[next]!, ready: trace[next]!.arrival + plan.router.seconds });
      next++;
    }
    const expert = waiting[0]!.r.expert!;
    const batch = waiting.filter((w) => w.r.expert === expert).slice(0, batchMax);
    for (const w of batch) waiting.splice(waiting.indexOf(w), 1);
    batches++;
    const e = experts.get(expert)!;
    const g = graphs.get(e.graph)!;
    let start = now;
    if (!resident.has(expert)) start = copyIn(expert, now, new Set([expert]));
    else start = Math.max(now, resident.get(expert)!);
    lastUse.set(expert, now);
    uses.set(expert, (uses.get(expert) ?? 0) + batch.length);
    record(now);
    const second = batch[0]!.r.second;
    if (policy === "prefetch" && slots > 1 && second !== undefined && experts.has(second) && !resident.has(second)) {
      copyIn(second, start, new Set([expert])); // overlaps this batch's compute
      record(start);
    }
    const prefill = batch.reduce((s, w) => s + g.prefillSeconds * (w.r.promptTokens / plan.options.seq), 0);
    // Requests leave the batch as their outputs end: each step costs the batch still decoding.
    const lengths = batch.map((w) => w.r.outputTokens).sort((a, b) => a - b);
    const doneAfter = (tokens: number): number => {
      let t = 0, done = 0;
      for (let i = 0; i < lengths.length; i++) {
        const steps = Math.min(tokens, lengths[i]!) - done;
        if (steps > 0) t += steps * decodeStepSeconds(g.decodeSteps, lengths.length - i);
        done = Math.max(done, Math.min(tokens, lengths[i]!));
      }
      return t;
    };
    const firstToken = start + prefill + doneAfter(1);
    for (const w of batch) {
      ttfts.push(firstToken - w.r.arrival);
      latencies.push(start + prefill + doneAfter(w.r.outputTokens) - w.r.arrival);
      tokens += w.r.outputTokens;
    }
    now = start + prefill + doneAfter(lengths[lengths.length - 1]!);
    lastUse.set(expert, now);
  }
  record(now);
  latencies.sort((a, b) => a - b);
  ttfts.sort((a, b) => a - b);
  let area = 0, max = 0;
  for (let i = 0; i < occupancy.length; i++) {
    const [t, b] = occupancy[i]!;
    max = Math.max(max, b);
    if (i + 1 < occupancy.length) area += b * (occupancy[i + 1]![0] - t);
  }
  const span = now - (trace[0]?.arrival ?? 0);
  const step = Math.max(1, Math.ceil(occupancy.length / 200));
  return {
    policy, requests: trace.length, makespanSeconds: now,
    latencyMean: latencies.length > 0 ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0, latencyP50: percentile(latencies, 0.5), latencyP99: percentile(latencies, 0.99),
    ttftP50: percentile(ttfts, 0.5), ttftP99: percentile(ttfts, 0.99), tokensPerSecond: span > 0 ? tokens / span : 0,
    switches, bytesMoved, batches, hbmSlots: slots, hbmOccupancyMeanBytes: now > 0 ? area / now : max, hbmOccupancyMaxBytes: max,
    occupancy: occupancy.filter((_, i) => i % step === 0), outOfMemory: plan.residency.spilledToStorage > 0, unservable,
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
 * residency policy; with "auto", every policy is run (`tried`) and the one with the lowest
 * p99 latency is the `result`. A malformed plan, trace or policy, or a request naming an
 * expert the plan does not have (or none), throws a TierflowError.
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
export function simulate(plan: CoePlan, trace: readonly TraceRequest[], policy: Policy): { result: SimResult; tried: readonly SimResult[] } {
  checkArg("simulate", "plan", plan, { what: "a CoePlan (compileCoe(...).plan or readCoePlan(...))", ok: (v) => isObject(v) && isObject(v.residency) });
  checkArg("simulate", "trace", trace, { what: "an array", ok: Array.isArray });
  trace.forEach((r, i) => checkArg("simulate", `trace[${i}]`, r, TRACE_REQUEST));
  checkArg("simulate", "policy", policy, oneOf([...POLICIES, "auto"]));
  if (policy !== "auto") return { result: simulateOne(plan, trace, policy), tried: [] };
  const tried = POLICIES.map((p) => simulateOne(plan, trace, p));
  const best = tried.reduce((a, b) => (b.latencyP99 < a.latencyP99 - 1e-12 ? b : a));
  return { result: best, tried };
}
