// What a user does to a real trace before simulating it: take a time window,
// scale the arrival rate, and map requests onto the experts being served —
// by the trace's own model names, or by a seeded Zipf (or uniform) choice
// over the experts when the trace has none or serves other models.
// Order of steps: window (in the trace's own seconds), then rate scale (times
// divided by the factor), then mapping; the window's start becomes time 0.

import { fail } from "../../ir/diagnostics.js";
import type { TraceRequest } from "../coe/trace.js";
import { seededRandom } from "../seeded-random.js";
import { zipfPicker } from "../seeded-choice.js";

/** How requests are given experts: the trace's own names, or a seeded draw over the experts in order. */
export type ExpertMapping =
  | { readonly kind: "model" }
  | { readonly kind: "zipf"; readonly s: number; readonly seed: number }
  | { readonly kind: "uniform"; readonly seed: number };

export interface TraceShape {
  /** Seconds [start, end) of the trace to keep, in its own time. */
  readonly window?: { readonly start: number; readonly end: number };
  /** Arrival rate multiplier: 2 halves every gap. */
  readonly rateScale?: number;
  readonly mapping?: ExpertMapping;
}

/** "300:900", "300:" or ":600" (seconds) into a window; anything else throws naming the flag. */
export function parseWindow(text: string, flag = "--window"): { start: number; end: number } {
  const m = /^\s*([0-9.]*)\s*:\s*([0-9.]*)\s*$/.exec(text);
  const start = m && m[1] !== "" ? Number(m[1]) : 0;
  const end = m && m[2] !== "" ? Number(m[2]) : Infinity;
  if (!m || (m[1] === "" && m[2] === "") || Number.isNaN(start) || Number.isNaN(end) || !(end > start)) {
    fail(`${flag} '${text}': give START:END in seconds with END > START (either may be left out)`);
  }
  return { start, end };
}

/** "model", "uniform", "zipf" or "zipf:S" (S > 0) into a mapping; anything else throws naming the flag. */
export function parseMapping(text: string, seed: number, flag = "--map-experts"): ExpertMapping {
  if (text === "model") return { kind: "model" };
  if (text === "uniform") return { kind: "uniform", seed };
  const m = /^zipf(?::([0-9.]+))?$/.exec(text);
  const s = m ? (m[1] !== undefined ? Number(m[1]) : 1) : NaN;
  if (!(s > 0) || !Number.isFinite(s)) fail(`${flag} '${text}': give model (the trace's names), uniform, zipf or zipf:S with S > 0`);
  return { kind: "zipf", s, seed };
}

/**
 * The requests of `trace` in the window, rate-scaled and mapped onto `experts` (in the
 * order a Zipf draw favours). Returns them with a line on each choice the user should know
 * of. A model name the experts lack, under the "model" mapping, throws naming it.
 */
export function shapeTrace(trace: readonly TraceRequest[], experts: readonly string[], shape: TraceShape): { requests: TraceRequest[]; notes: string[] } {
  const notes: string[] = [];
  const scale = shape.rateScale ?? 1;
  if (!(scale > 0) || !Number.isFinite(scale)) fail(`a rate scale of ${scale}: it must be a number > 0`);
  let kept = [...trace];
  if (shape.window) {
    const { start, end } = shape.window;
    kept = kept.filter((r) => r.arrival >= start && r.arrival < end);
    if (kept.length === 0) fail(`the window ${start}:${end === Infinity ? "" : end} s holds none of the trace's ${trace.length} requests (they arrive from ${trace[0]?.arrival ?? 0} to ${trace.at(-1)?.arrival ?? 0} s)`);
    notes.push(`window ${start}:${end === Infinity ? "" : end} s: ${kept.length} of ${trace.length} requests`);
    kept = kept.map((r) => ({ ...r, arrival: r.arrival - start }));
  }
  if (scale !== 1) {
    kept = kept.map((r) => ({ ...r, arrival: r.arrival / scale }));
    notes.push(`arrival rate scaled by ${scale}`);
  }
  const mapping = shape.mapping ?? (kept.every((r) => r.expert !== undefined || r.promptIds !== undefined) ? { kind: "model" as const } : { kind: "zipf" as const, s: 1, seed: 0 });
  if (mapping.kind === "model") {
    const known = new Set(experts);
    for (const r of kept) {
      if (r.expert === undefined && r.promptIds === undefined) fail("--map-experts model: the trace names no model for some requests; map them with zipf or uniform");
      if (r.expert !== undefined && !known.has(r.expert)) fail(`the trace names model '${r.expert}', which is not one of the ${experts.length} experts served; map requests with --map-experts zipf or uniform`);
    }
    return { requests: kept, notes };
  }
  if (experts.length === 0) fail("no experts to map the trace's requests onto");
  const rand = seededRandom(mapping.seed);
  const pick = zipfPicker(experts.length, mapping.kind === "zipf" ? mapping.s : 0, rand);
  const named = kept.some((r) => r.expert !== undefined);
  notes.push(`requests mapped onto ${experts.length} experts by a seeded ${mapping.kind === "zipf" ? `Zipf (s = ${mapping.s})` : "uniform"} draw (seed ${mapping.seed})${named ? ", in place of the trace's model names" : ""}`);
  const requests = kept.map((r) => {
    const first = pick();
    let second = pick();
    if (experts.length > 1) while (second === first) second = pick();
    const { expert: _e, second: _s, promptIds: _p, ...rest } = r;
    return { ...rest, expert: experts[first]!, ...(experts.length > 1 ? { second: experts[second]! } : {}) };
  });
  return { requests, notes };
}
