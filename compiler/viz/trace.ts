// Measured times from a runtime trace, in Chrome's trace-event format (an
// array of events, or an object with `traceEvents`): complete events (ph "X")
// and begin/end pairs (ph "B"/"E") per thread, timestamps in microseconds.
// Spans are matched to the plan by name (a section or kernel name) or by
// args.section / args.kernel; anything else is still drawn in its own lane.
// Malformed events are skipped, not fatal: a trace is an aid, the plan is the subject.

import type { Plan } from "../../ir/placement/plan.js";
import { planDigest } from "../../ir/placement/plan-digest.js";

export interface TraceSpan {
  readonly name: string;
  /** Seconds from the first event. */
  readonly start: number;
  readonly seconds: number;
  /** "pid:tid", or the thread's name when the trace gives one. */
  readonly lane: string;
  readonly section?: number;
  readonly kernel?: string;
}

/** More spans than this would only slow the page; the first ones are kept. */
export const MAX_SPANS = 20_000;

interface RawEvent {
  readonly name?: unknown;
  readonly ph?: unknown;
  readonly ts?: unknown;
  readonly dur?: unknown;
  readonly pid?: unknown;
  readonly tid?: unknown;
  readonly args?: { readonly section?: unknown; readonly kernel?: unknown; readonly name?: unknown };
}

function eventsOf(trace: unknown): RawEvent[] {
  const list = Array.isArray(trace) ? trace : (trace as { traceEvents?: unknown } | null)?.traceEvents;
  return Array.isArray(list) ? list.filter((e): e is RawEvent => typeof e === "object" && e !== null) : [];
}

/** The trace's own account of what it measured, if it gives one (the runtime's traces do). */
export function traceSource(trace: unknown): { plan?: string; measuredOn?: string } {
  const other = (trace as { otherData?: unknown } | null)?.otherData;
  if (typeof other !== "object" || other === null || Array.isArray(other)) return {};
  const get = (key: string) => (Object.hasOwn(other, key) && typeof (other as Record<string, unknown>)[key] === "string" ? (other as Record<string, string>)[key] : undefined);
  const plan = get("plan"), measuredOn = get("measured_on");
  return { ...(plan !== undefined ? { plan } : {}), ...(measuredOn !== undefined ? { measuredOn } : {}) };
}

/**
 * Why `trace` is not of `plan`, if it is not: the digest of the plan it names is
 * another's, or (a trace that names none) none of its spans is one of the plan's
 * sections or kernels.
 */
export function traceMismatch(trace: unknown, plan: Plan): string | undefined {
  const named = traceSource(trace).plan;
  if (named !== undefined) return named === planDigest(plan) ? undefined : `the trace is of another plan (its plan digest ${named.slice(0, 12)}..., this plan's ${planDigest(plan).slice(0, 12)}...)`;
  const spans = traceSpans(trace, plan);
  return spans.length === 0 || spans.some((s) => s.section !== undefined || s.kernel !== undefined) ? undefined : "the trace names none of the plan's sections or kernels";
}

export function isTrace(trace: unknown): boolean {
  return Array.isArray(trace) || Array.isArray((trace as { traceEvents?: unknown } | null)?.traceEvents);
}

export function traceSpans(trace: unknown, plan: Plan): TraceSpan[] {
  const events = eventsOf(trace);
  const threadNames = new Map<string, string>();
  for (const e of events) {
    if (e.ph === "M" && e.name === "thread_name" && typeof e.args?.name === "string") threadNames.set(`${String(e.pid)}:${String(e.tid)}`, e.args.name);
  }
  const sectionIndex = new Map(plan.sections.map((s, i) => [s.name, i]));
  const kernelNames = new Set(plan.dataflow.kernels.map((k) => k.name));
  const raw: { name: string; ts: number; dur: number; lane: string; args: RawEvent["args"] }[] = [];
  const open = new Map<string, { name: string; ts: number; args: RawEvent["args"] }[]>();
  for (const e of events) {
    if (typeof e.ts !== "number" || !Number.isFinite(e.ts)) continue;
    const thread = `${String(e.pid)}:${String(e.tid)}`;
    const lane = threadNames.get(thread) ?? thread;
    const name = typeof e.name === "string" ? e.name : "";
    if (e.ph === "X" && typeof e.dur === "number" && e.dur >= 0) raw.push({ name, ts: e.ts, dur: e.dur, lane, args: e.args });
    else if (e.ph === "B") {
      if (!open.has(thread)) open.set(thread, []);
      open.get(thread)!.push({ name, ts: e.ts, args: e.args });
    } else if (e.ph === "E") {
      const begin = open.get(thread)?.pop();
      if (begin && e.ts >= begin.ts) raw.push({ name: begin.name, ts: begin.ts, dur: e.ts - begin.ts, lane, args: begin.args });
    }
  }
  const t0 = raw.reduce((m, r) => Math.min(m, r.ts), Infinity);
  return raw
    .sort((a, b) => a.ts - b.ts)
    .slice(0, MAX_SPANS)
    .map((r) => {
      const sectionName = typeof r.args?.section === "string" ? r.args.section : r.name;
      const kernelName = typeof r.args?.kernel === "string" ? r.args.kernel : r.name;
      const section = sectionIndex.get(sectionName) ?? (typeof r.args?.section === "number" ? r.args.section : undefined);
      return {
        name: r.name, start: (r.ts - t0) / 1e6, seconds: r.dur / 1e6, lane: r.lane,
        ...(section !== undefined && section >= 0 && section < plan.sections.length ? { section } : {}),
        ...(kernelNames.has(kernelName) ? { kernel: kernelName } : {}),
      };
    });
}
