// Colocated against disaggregated serving of one model: requests arrive
// (a seeded Poisson process, or a trace), are prefilled, then decoded a token
// per step in a continuous batch, on replicas whose step times come from
// compiled plans. Colocated replicas do both phases; disaggregated prefill
// replicas hand the KV cache to decode replicas. Compared by goodput: requests
// per second that meet both the time-to-first-token (TTFT) and
// time-per-output-token (TPOT) targets.
//
// The serving engine (compiler/serving/engine.ts) runs it, with one expert
// that never switches: colocated replicas prefill first (a waiting prompt goes
// before the next decode step, as vLLM schedules, so prefills stretch the
// steps of requests already running); disaggregated prefill replicas serve
// prompts first come first served and decode replicas never wait on a prompt,
// after DistServe (Zhong et al., OSDI 2024). Requests go to replicas
// round-robin.
// Known weakness: one request per prefill (no batching of prompts, no chunked
// prefill), step times linear in batch and prompt length between the compiled
// points, no KV capacity limit beyond `maxBatch`, no network queueing for the
// KV transfer.

import { seededRandom } from "../seeded-random.js";
import { runEngine } from "../serving/engine.js";
import type { ExpertCosts, Role } from "../serving/engine.js";

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
    return { arrival: t, prompt, output };
  });
}

/** One model's costs on a replica as the engine takes them. */
function modelCosts(timing: ReplicaTiming, kvTransferSeconds: number): ExpertCosts {
  return { prefillSeconds: timing.prefillSeconds, decodeSeconds: timing.decodeSeconds, switchSeconds: 0, bytes: 0, kvTransferSeconds: () => kvTransferSeconds, startsResident: true };
}

export function simulateServing(system: ServingSystem, w: Workload, trace?: readonly { arrival: number; prompt: number; output: number }[]): ServingResult {
  const requests = (trace ?? arrivals(w)).map((r) => ({ arrival: r.arrival, promptTokens: r.prompt, outputTokens: r.output, expert: "model" }));
  const replica = (role: Role, timing: ReplicaTiming) => ({ role, slots: 1, maxBatch: timing.maxBatch });
  const run = system.kind === "colocated"
    ? runEngine(requests, { experts: new Map([["model", modelCosts(system.timing, 0)]]), instances: Array.from({ length: Math.max(1, system.replicas) }, () => replica("both", system.timing)), policy: "lru" })
    : runEngine(requests, {
      // Prefill and decode replicas run the same model: the prefill group's prompt cost, the decode group's step cost.
      experts: new Map([["model", { ...modelCosts(system.decode, system.kvTransferSeconds), prefillSeconds: system.prefill.prefillSeconds }]]),
      instances: [
        ...Array.from({ length: Math.max(1, system.prefillReplicas) }, () => replica("prefill", system.prefill)),
        ...Array.from({ length: Math.max(1, system.decodeReplicas) }, () => replica("decode", system.decode)),
      ],
      policy: "lru",
    });
  const ttft = run.requests.map((r) => r.firstToken - r.arrival);
  const tpot = run.requests.map((r) => (r.outputTokens > 1 ? (r.finish - r.firstToken) / (r.outputTokens - 1) : 0));
  const good = run.requests.filter((_, i) => ttft[i]! <= w.ttftSeconds && tpot[i]! <= w.tpotSeconds).length;
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
