// A small serving simulation: requests arrive (seeded Poisson process), are
// prefilled, then decoded a token per step in a continuous batch, on replicas
// whose step times come from compiled plans. Compares colocated serving (each
// replica does both phases) with disaggregated serving (prefill replicas hand
// the KV cache to decode replicas), by goodput: requests per second that meet
// both the time-to-first-token (TTFT) and time-per-output-token (TPOT) targets.
//
// Algorithm, after DistServe (Zhong et al., "DistServe: Disaggregating Prefill
// and Decoding for Goodput-optimized Large Language Model Serving", OSDI 2024):
// colocated replicas run prefill first (a waiting prompt pre-empts the next
// decode step, as vLLM schedules), so prefills stretch the decode steps of the
// requests already running; disaggregated prefill replicas serve prompts first
// come first served and decode replicas never wait on a prompt. Requests go to
// replicas round-robin. TTFT = first token - arrival; TPOT = (last token -
// first token) / (output tokens - 1).
// Known weakness: one request per prefill (no batching of prompts, no chunked
// prefill), step times linear in batch and prompt length between the compiled
// points, no KV capacity limit beyond `maxBatch`, no network queueing for the
// KV transfer.

import { seededRandom } from "../seeded-random.js";

export interface Workload {
  /** Requests per second (mean of the Poisson process). */
  readonly rate: number;
  readonly requests: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly seed: number;
  readonly ttftSeconds: number;
  readonly tpotSeconds: number;
}

/** Step times of one replica, from compiled plans. */
export interface ReplicaTiming {
  /** Prefill of one prompt of `tokens` tokens. */
  readonly prefillSeconds: (tokens: number) => number;
  /** One decode step for `batch` requests. */
  readonly decodeSeconds: (batch: number) => number;
  readonly maxBatch: number;
}

export type ServingSystem =
  | { readonly kind: "colocated"; readonly replicas: number; readonly timing: ReplicaTiming }
  | { readonly kind: "disaggregated"; readonly prefillReplicas: number; readonly decodeReplicas: number; readonly prefill: ReplicaTiming; readonly decode: ReplicaTiming; readonly kvTransferSeconds: number };

interface Request {
  readonly arrival: number;
  readonly prompt: number;
  readonly output: number;
  firstToken: number;
  finish: number;
  generated: number;
  ready: number;
}

export interface ServingResult {
  readonly ttft: readonly number[];
  readonly tpot: readonly number[];
  /** Fraction of requests meeting both targets. */
  readonly attainment: number;
  /** Requests per second meeting both targets, over the arrival window. */
  readonly goodput: number;
}

/** Arrivals at exponential gaps; prompt and output lengths uniform in [0.5, 1.5] x the given ones. */
export function arrivals(w: Workload): Request[] {
  const next = seededRandom(w.seed);
  let t = 0;
  return Array.from({ length: w.requests }, () => {
    t += -Math.log(1 - next()) / w.rate;
    const prompt = Math.max(1, Math.round(w.promptTokens * (0.5 + next())));
    const output = Math.max(2, Math.round(w.outputTokens * (0.5 + next())));
    return { arrival: t, prompt, output, firstToken: NaN, finish: NaN, generated: 0, ready: NaN };
  });
}

/**
 * Continuous batching on one replica: `ready(r)` is when a request may join.
 * With `prefill`, a waiting request is prefilled before the next decode step.
 */
function runReplica(requests: Request[], timing: ReplicaTiming, prefill: boolean): void {
  const waiting = [...requests].sort((a, b) => (prefill ? a.arrival - b.arrival : a.ready - b.ready));
  const active: Request[] = [];
  let t = 0;
  const steps = requests.reduce((s, r) => s + r.output + 2, 0) * 2 + 10;
  for (let i = 0; i < steps && (waiting.length > 0 || active.length > 0); i++) {
    const head = waiting[0];
    const at = head ? (prefill ? head.arrival : head.ready) : Infinity;
    if (head && at <= t && active.length < timing.maxBatch) {
      waiting.shift();
      if (prefill) {
        t += timing.prefillSeconds(head.prompt);
        head.firstToken = t;
      }
      head.generated = 1;
      active.push(head);
    } else if (active.length > 0) {
      t += timing.decodeSeconds(active.length);
      for (const r of [...active]) {
        r.generated++;
        if (r.generated >= r.output) {
          r.finish = t;
          active.splice(active.indexOf(r), 1);
        }
      }
    } else {
      t = at;
    }
  }
}

/** Prefill replicas, first come first served: when each request's first token and KV cache are ready. */
function runPrefill(requests: Request[], timing: ReplicaTiming, transfer: number): void {
  let free = 0;
  for (const r of [...requests].sort((a, b) => a.arrival - b.arrival)) {
    const start = Math.max(free, r.arrival);
    free = start + timing.prefillSeconds(r.prompt);
    r.firstToken = free;
    r.ready = free + transfer;
  }
}

function roundRobin<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = Array.from({ length: Math.max(1, n) }, () => []);
  items.forEach((x, i) => out[i % out.length]!.push(x));
  return out;
}

export function simulateServing(system: ServingSystem, w: Workload): ServingResult {
  const requests = arrivals(w);
  if (system.kind === "colocated") {
    for (const share of roundRobin(requests, system.replicas)) runReplica(share, system.timing, true);
  } else {
    for (const share of roundRobin(requests, system.prefillReplicas)) runPrefill(share, system.prefill, system.kvTransferSeconds);
    for (const share of roundRobin(requests, system.decodeReplicas)) runReplica(share, system.decode, false);
  }
  const ttft = requests.map((r) => r.firstToken - r.arrival);
  const tpot = requests.map((r) => (r.finish - r.firstToken) / (r.output - 1));
  const good = requests.filter((_, i) => ttft[i]! <= w.ttftSeconds && tpot[i]! <= w.tpotSeconds).length;
  const window = requests.at(-1)?.arrival ?? 1;
  return { ttft, tpot, attainment: good / Math.max(1, requests.length), goodput: good / window };
}

/** A linear model through two compiled points (x1, y1), (x2, y2), never below y1 at x1. */
export function linear(x1: number, y1: number, x2: number, y2: number): (x: number) => number {
  const slope = x2 > x1 ? (y2 - y1) / (x2 - x1) : 0;
  return (x) => y1 + slope * (x - x1);
}

export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
