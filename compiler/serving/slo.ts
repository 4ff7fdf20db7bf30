// Service-level objectives of LLM serving as two published comparisons define
// them, and the search for the highest request rate that meets one.
//
// DistServe (Zhong et al., "DistServe: Disaggregating Prefill and Decoding for
// Goodput-optimized Large Language Model Serving", OSDI 2024): a request meets
// its targets when its time to first token (TTFT) and its time per output token
// (TPOT) are within them; a system attains a share of its requests (90% in the
// paper), and goodput is the highest rate at which it does. The repository's
// simulator (LLMServe/DistServe, simdistserve) counts the two targets apart
// (90% meet the TTFT target and 90% meet the TPOT target: mode "each"), and
// bisects the per-GPU rate in [0, max] until the bracket is narrower than a
// tolerance, keeping the last rate that met them: `highestRate` does the same,
// so both land on the same grid of rates.
//
// Splitwise (Patel et al., "Splitwise: Efficient generative LLM inference using
// phase splitting", ISCA 2024): targets are slowdowns against the same request
// run alone on an unloaded machine: TTFT at most 2x / 3x / 6x at P50 / P90 /
// P99, time between tokens (TBT) 1.25x / 1.5x / 5x, and end-to-end latency with
// TBT's bounds (the bounds and the per-request TBT, a mean over the request's
// tokens, as its simulator computes them: Mutinifni/splitwise-sim,
// notebooks/plots.ipynb). Percentiles interpolate linearly between order
// statistics, pandas' default, which that simulator's figures use.
//
// Known weaknesses: a request's TBT is its mean gap between tokens, so one long
// stall (a prompt prefilled between two decode steps) is averaged over the
// request, as in both papers' simulators; the rate search assumes that meeting
// the targets is monotone in the rate, and a rate the bisection never visits is
// not reported however good it is.

import { fail } from "../../ir/diagnostics.js";

/** One request's latencies in seconds: time to first token, mean time between its tokens, arrival to last token. */
export interface RequestLatency {
  readonly ttft: number;
  readonly tbt: number;
  readonly e2e: number;
}

/**
 * Latencies of served requests (the serving engine's outcomes): TTFT = first token - arrival,
 * TBT = (last token - first token) / (tokens - 1), 0 for a single token; e2e = last token - arrival.
 *
 * @example
 * ```ts
 * requestLatencies([{ arrival: 0, firstToken: 0.1, finish: 0.4, outputTokens: 4 }]); // [{ ttft: 0.1, tbt: 0.1, e2e: 0.4 }]
 * ```
 */
export function requestLatencies(outcomes: readonly { readonly arrival: number; readonly firstToken: number; readonly finish: number; readonly outputTokens: number }[]): RequestLatency[] {
  return outcomes.map((o) => ({
    ttft: o.firstToken - o.arrival,
    tbt: o.outputTokens > 1 ? (o.finish - o.firstToken) / (o.outputTokens - 1) : 0,
    e2e: o.finish - o.arrival,
  }));
}

/**
 * The q-quantile (0 <= q <= 1) of `values`, interpolated linearly between order statistics
 * (position q x (n - 1)); NaN when there are none.
 *
 * @example
 * ```ts
 * quantile([4, 1, 3, 2], 0.5); // 2.5
 * quantile([1, 2, 3, 4, 5], 0.9); // 4.6
 * ```
 */
export function quantile(values: readonly number[], q: number): number {
  if (!(q >= 0 && q <= 1)) fail(`a quantile of ${q}: it must be between 0 and 1`);
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at), hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** DistServe's per-request targets, in seconds. */
export interface LatencyTargets {
  readonly ttftSeconds: number;
  readonly tpotSeconds: number;
}

/** Shares of requests within the TTFT target, within the TPOT target, and within both. */
export interface Attainment {
  readonly ttft: number;
  readonly tpot: number;
  readonly both: number;
}

/**
 * The shares of `latencies` meeting each target and both (TPOT is the request's TBT).
 *
 * @example
 * ```ts
 * const a = attainment([{ ttft: 0.1, tbt: 0.05, e2e: 1 }, { ttft: 0.3, tbt: 0.05, e2e: 1 }], { ttftSeconds: 0.25, tpotSeconds: 0.1 });
 * // a = { ttft: 0.5, tpot: 1, both: 0.5 }
 * ```
 */
export function attainment(latencies: readonly RequestLatency[], targets: LatencyTargets): Attainment {
  const n = Math.max(1, latencies.length);
  let ttft = 0, tpot = 0, both = 0;
  for (const l of latencies) {
    const a = l.ttft <= targets.ttftSeconds, b = l.tbt <= targets.tpotSeconds;
    if (a) ttft++;
    if (b) tpot++;
    if (a && b) both++;
  }
  return { ttft: ttft / n, tpot: tpot / n, both: both / n };
}

/**
 * Whether an attainment reaches `share` (0.9 for DistServe's 90%): "each" asks it of the TTFT
 * and the TPOT target apart (DistServe's simulator), "both" of the requests meeting both.
 *
 * @example
 * ```ts
 * attains({ ttft: 0.95, tpot: 0.92, both: 0.88 }, 0.9, "each"); // true
 * attains({ ttft: 0.95, tpot: 0.92, both: 0.88 }, 0.9, "both"); // false
 * ```
 */
export function attains(a: Attainment, share: number, mode: "each" | "both"): boolean {
  return mode === "each" ? a.ttft >= share && a.tpot >= share : a.both >= share;
}

export type SloMetric = keyof RequestLatency;

/** A bound on one percentile of one metric's slowdown. */
export interface SlowdownBound {
  readonly metric: SloMetric;
  readonly quantile: number;
  readonly max: number;
}

/** Splitwise's SLOs: slowdown against an unloaded run at P50 / P90 / P99. */
export const SPLITWISE_SLO: readonly SlowdownBound[] = [
  { metric: "ttft", quantile: 0.5, max: 2 }, { metric: "ttft", quantile: 0.9, max: 3 }, { metric: "ttft", quantile: 0.99, max: 6 },
  { metric: "tbt", quantile: 0.5, max: 1.25 }, { metric: "tbt", quantile: 0.9, max: 1.5 }, { metric: "tbt", quantile: 0.99, max: 5 },
  { metric: "e2e", quantile: 0.5, max: 1.25 }, { metric: "e2e", quantile: 0.9, max: 1.5 }, { metric: "e2e", quantile: 0.99, max: 5 },
];

/**
 * Each request's slowdown: its latencies under load over the same request's unloaded ones
 * (the two lists in the same order). A metric that is 0 unloaded (the TBT of a one-token
 * answer) has slowdown 1.
 *
 * @example
 * ```ts
 * slowdowns([{ ttft: 0.3, tbt: 0.012, e2e: 1.5 }], [{ ttft: 0.1, tbt: 0.01, e2e: 1 }]); // [{ ttft: 3, tbt: 1.2, e2e: 1.5 }]
 * ```
 */
export function slowdowns(loaded: readonly RequestLatency[], unloaded: readonly RequestLatency[]): RequestLatency[] {
  if (loaded.length !== unloaded.length) fail(`slowdowns need one unloaded run per request: ${loaded.length} loaded, ${unloaded.length} unloaded`);
  const ratio = (a: number, b: number) => (b > 0 ? a / b : 1);
  return loaded.map((l, i) => {
    const u = unloaded[i]!;
    return { ttft: ratio(l.ttft, u.ttft), tbt: ratio(l.tbt, u.tbt), e2e: ratio(l.e2e, u.e2e) };
  });
}

/** Each bound with the percentile it bounds, and whether all hold. */
export interface SlowdownCheck {
  readonly met: boolean;
  readonly bounds: readonly (SlowdownBound & { readonly value: number; readonly met: boolean })[];
}

/**
 * Check slowdowns against percentile bounds (Splitwise's by default).
 *
 * @example
 * ```ts
 * const check = checkSlowdowns(slowdowns(loaded, unloaded));
 * if (!check.met) console.log(check.bounds.filter((b) => !b.met));
 * ```
 */
export function checkSlowdowns(slow: readonly RequestLatency[], bounds: readonly SlowdownBound[] = SPLITWISE_SLO): SlowdownCheck {
  const checked = bounds.map((b) => {
    const value = quantile(slow.map((s) => s[b.metric]), b.quantile);
    return { ...b, value, met: value <= b.max };
  });
  return { met: slow.length > 0 && checked.every((b) => b.met), bounds: checked };
}

/** A bisection over rates: from `low` (default 0) to `high`, until the bracket is at most `tolerance` wide. */
export interface RateSearch {
  readonly low?: number;
  readonly high: number;
  readonly tolerance: number;
}

/**
 * The highest rate the bisection finds meeting `meets`, 0 (or `low`) when none does: the
 * middle of the bracket is tried, the bracket keeps the half the answer lies in, and the last
 * rate that met is returned (DistServe's search; `high` itself is never tried).
 *
 * @example
 * ```ts
 * highestRate((rate) => rate <= 1.7, { high: 5, tolerance: 0.25 }); // 1.5625: tries 2.5, 1.25, 1.875, 1.5625, 1.71875
 * ```
 */
export function highestRate(meets: (rate: number) => boolean, s: RateSearch): number {
  let low = s.low ?? 0, high = s.high;
  if (!(high > low) || !(s.tolerance > 0)) fail(`a rate search from ${low} to ${high} by ${s.tolerance}: need high > low and a tolerance > 0`);
  let best = low;
  while (high - low > s.tolerance) {
    const mid = (low + high) / 2;
    if (meets(mid)) { low = mid; best = mid; } else high = mid;
  }
  return best;
}
