// Request traces for the serving simulation: JSON Lines, one request a line:
//   {"arrival": seconds, "prompt_tokens": n, "output_tokens": n, "expert": "name"}
// or "prompt_ids": [...] in place of "expert" for the router to route, and an
// optional "second": the router's second choice (used by the prefetch policy).
// A seeded generator makes uniform, Zipf and bursty traces.

import { fail } from "../../ir/diagnostics.js";
import { readUserText } from "../../ir/read-file.js";
import { seededRandom } from "../seeded-random.js";
import { zipfPicker } from "../seeded-choice.js";
import type { Check } from "../../ir/arguments.js";
import { COUNT, NUMBER, POSITIVE_NUMBER, STRING, arrayOf, checkOptions, oneOf } from "../../ir/arguments.js";

export interface TraceRequest {
  readonly arrival: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly expert?: string;
  readonly promptIds?: readonly number[];
  readonly second?: string;
}

export type TraceDistribution = "uniform" | "zipf" | "bursty";

export interface TraceOptions {
  readonly experts: readonly string[];
  readonly requests: number;
  /** Mean arrivals per second. */
  readonly rate: number;
  readonly distribution: TraceDistribution;
  readonly seed: number;
  readonly promptTokens?: number;
  readonly outputTokens?: number;
  /** Zipf exponent. */
  readonly zipfS?: number;
}

/**
 * The most requests a trace holds, generated or read: a request costs a few
 * hundred bytes through the simulation, so this bounds it to a few hundred MB.
 */
export const MAX_TRACE_REQUESTS = 1_000_000;

/**
 * Uniform: each expert equally likely. Zipf: expert k (1-based, manifest
 * order) with weight 1/k^s. Bursty: Zipf choice of expert, arrivals in bursts
 * (a tenth of the time at ten times the rate, idle between), so the mean rate holds.
 */
const TRACE_OPTIONS = {
  experts: arrayOf(STRING), requests: { what: "a number", ok: (v: unknown) => typeof v === "number" }, rate: POSITIVE_NUMBER,
  distribution: oneOf(["uniform", "zipf", "bursty"]), seed: NUMBER, promptTokens: COUNT, outputTokens: COUNT, zipfS: POSITIVE_NUMBER,
} satisfies Record<keyof TraceOptions, Check>;

/**
 * A seeded synthetic request trace over the named experts, in arrival order (Poisson
 * arrivals at `rate` per second): uniform, Zipf (expert k, in the given order, with weight
 * 1/k^s) or bursty (Zipf choice, arrivals in bursts at ten times the rate). Each request
 * also names a second choice for the prefetch policy. No experts, a request count that is no
 * whole number >= 0 or over a million, or another bad option throws a TierflowError.
 *
 * @example
 * ```ts
 * import { generateTrace } from "tierflow";
 *
 * const trace = generateTrace({ experts: ["math", "code", "chat", "story"], requests: 100, rate: 2, distribution: "zipf", seed: 7 });
 * console.log(trace[0]); // { arrival, promptTokens: 128, outputTokens: 20, expert, second }
 * ```
 */
export function generateTrace(o: TraceOptions): TraceRequest[] {
  checkOptions("generateTrace", "options", o, TRACE_OPTIONS, ["experts", "requests", "rate", "distribution", "seed"]);
  if (o.experts.length === 0) fail("a trace needs at least one expert");
  if (!Number.isSafeInteger(o.requests) || o.requests < 0) fail(`a trace of ${o.requests} requests: the count must be a whole number >= 0`);
  if (o.requests > MAX_TRACE_REQUESTS) fail(`a trace of ${o.requests} requests is over the limit of ${MAX_TRACE_REQUESTS}`);
  const rand = seededRandom(o.seed);
  const n = o.experts.length;
  const pick = zipfPicker(n, o.distribution === "uniform" ? 0 : (o.zipfS ?? 1), rand);
  const out: TraceRequest[] = [];
  let t = 0;
  const burstLength = 1 / o.rate; // 10 requests at 10x the rate
  for (let i = 0; i < o.requests; i++) {
    const rate = o.distribution === "bursty" ? o.rate * 10 : o.rate;
    t += -Math.log(1 - rand()) / rate;
    if (o.distribution === "bursty" && i > 0 && i % 10 === 0) t += 9 * burstLength;
    const first = pick();
    let second = pick();
    if (n > 1) while (second === first) second = pick();
    out.push({
      arrival: Number(t.toFixed(6)), promptTokens: o.promptTokens ?? 128, outputTokens: o.outputTokens ?? 20,
      expert: o.experts[first]!, ...(n > 1 ? { second: o.experts[second]! } : {}),
    });
  }
  return out;
}

export function traceToJsonl(trace: readonly TraceRequest[]): string {
  return trace.map((r) => JSON.stringify({
    arrival: r.arrival, prompt_tokens: r.promptTokens, output_tokens: r.outputTokens,
    ...(r.expert !== undefined ? { expert: r.expert } : {}), ...(r.promptIds !== undefined ? { prompt_ids: r.promptIds } : {}),
    ...(r.second !== undefined ? { second: r.second } : {}),
  })).join("\n") + "\n";
}

const isCount = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

export function parseTrace(text: string, file: string): TraceRequest[] {
  const out: TraceRequest[] = [];
  const lines = text.split("\n");
  const requests = lines.reduce((n, line) => (line.trim() === "" ? n : n + 1), 0);
  if (requests > MAX_TRACE_REQUESTS) fail(`the trace holds ${requests} requests, over the limit of ${MAX_TRACE_REQUESTS}`, { file });
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    const where = { file, line: i + 1 };
    let v: Record<string, unknown>;
    try {
      v = JSON.parse(line) as Record<string, unknown>;
    } catch {
      fail("not a JSON object", where);
    }
    if (typeof v !== "object" || v === null || Array.isArray(v)) fail("not a JSON object", where);
    if (typeof v.arrival !== "number" || !(v.arrival >= 0)) fail("\"arrival\" must be a number of seconds >= 0", where);
    const ids = v.prompt_ids;
    if (ids !== undefined && (!Array.isArray(ids) || ids.length === 0 || !ids.every(isCount))) fail("\"prompt_ids\" must be a non-empty list of token ids", where);
    const prompt = v.prompt_tokens ?? (Array.isArray(ids) ? ids.length : undefined);
    if (!isCount(prompt) || prompt < 1) fail("\"prompt_tokens\" must be a positive integer", where);
    if (!isCount(v.output_tokens) || v.output_tokens < 1) fail("\"output_tokens\" must be a positive integer", where);
    if (v.expert !== undefined && typeof v.expert !== "string") fail("\"expert\" must be a string", where);
    if (v.expert === undefined && ids === undefined) fail("give \"expert\" or \"prompt_ids\" (for the router to route)", where);
    if (v.second !== undefined && typeof v.second !== "string") fail("\"second\" must be a string", where);
    out.push({
      arrival: v.arrival, promptTokens: prompt, outputTokens: v.output_tokens,
      ...(typeof v.expert === "string" ? { expert: v.expert } : {}), ...(Array.isArray(ids) ? { promptIds: ids as number[] } : {}),
      ...(typeof v.second === "string" ? { second: v.second } : {}),
    });
  });
  for (let i = 1; i < out.length; i++) if (out[i]!.arrival < out[i - 1]!.arrival) fail(`requests must be in arrival order (line ${i + 1} arrives before the one above it)`, { file });
  return out;
}

/**
 * Read a request trace from a JSON Lines file: one request a line, `arrival` (seconds),
 * `prompt_tokens` (or `prompt_ids` for the router to route), `output_tokens`, and optionally
 * `expert` and `second`, in arrival order. A line that breaks these rules throws a
 * TierflowError naming the file and line.
 *
 * @example
 * ```ts
 * import { writeFileSync } from "node:fs";
 * import { readCoePlan, readTrace, simulate } from "tierflow";
 *
 * writeFileSync("trace.jsonl", '{"arrival": 0, "prompt_tokens": 64, "output_tokens": 16, "expert": "math"}\n');
 * const { result } = simulate(readCoePlan("out/coe"), readTrace("trace.jsonl"), "pin-hot");
 * ```
 */
export function readTrace(file: string): TraceRequest[] {
  return parseTrace(readUserText(file, "trace"), file);
}
