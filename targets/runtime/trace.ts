// A run's trace in Chrome's trace-event format, which Perfetto and
// chrome://tracing open (and `tierflow viz --trace` reads). One process; one
// track (thread) per memory tier carries the loads and transfers into that
// tier, one track per section carries the section and its kernels, and a
// host track the read-back of outputs. Spans ("X") are measured wall time on
// the CPU and carry the plan's prediction beside it in their args
// (predicted_us, measured_us). Counters ("C") give each tier's bytes in use
// over time, as the arenas hold them and as the plan says for each section.
// Metadata events ("M") name the process and tracks. Times are microseconds.
// A node-level plan gives each socket its own process (`socket(id)`), with the
// same tracks for that socket's arenas and sections, plus a link track for the
// collectives and stage-to-stage sends it takes part in.

import type { Plan, Transfer } from "../../ir/placement/plan.js";
import { planDigest } from "../../ir/placement/plan-digest.js";
import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import type { ArenaName } from "./arena.js";

export const PID = 1;
const TIER_TIDS: Readonly<Record<ArenaName | "host", number>> = { host: 1, ddr: 2, hbm: 3, sram: 4 };
const LINK_TID = 5;
const SECTION_TID_BASE = 10;

export interface TraceEvent {
  readonly name: string;
  readonly ph: "X" | "C" | "M";
  readonly ts?: number;
  readonly dur?: number;
  readonly pid: number;
  readonly tid?: number;
  readonly cat?: string;
  readonly args?: Readonly<Record<string, unknown>>;
}

export interface ChromeTrace {
  readonly traceEvents: readonly TraceEvent[];
  readonly displayTimeUnit: "ms";
  readonly otherData: Readonly<Record<string, unknown>>;
}

/** What a trace of the runtime measures: plans run on the CPU, not on the target they were compiled for. */
export const MEASURED_ON = "the CPU reference backend";

const us = (seconds: number) => seconds * 1e6;
const sectionTid = (i: number) => SECTION_TID_BASE + i;

export class TraceRecorder {
  private readonly events: TraceEvent[];
  private readonly t0: number;
  private readonly sectionNames: readonly string[];
  /** Sections this recorder's socket ran (a socket of a pipeline stage runs only its stage's). */
  private readonly ran = new Set<number>();
  private readonly sockets = new Map<number, TraceRecorder>();
  private linked = false;

  constructor(private readonly plan: Plan, private readonly pid = PID, private readonly processName?: string,
    shared?: { readonly events: TraceEvent[]; readonly t0: number }) {
    this.sectionNames = plan.sections.map((s) => s.name);
    this.events = shared?.events ?? [];
    this.t0 = shared?.t0 ?? performance.now();
  }

  /** The recorder of one socket of a node-level plan: a process of its own in the same trace. */
  socket(id: number): TraceRecorder {
    let r = this.sockets.get(id);
    if (!r) {
      r = new TraceRecorder(this.plan, PID + 1 + id, `socket ${id}`, { events: this.events, t0: this.t0 });
      this.sockets.set(id, r);
    }
    return r;
  }

  /** Microseconds since the recorder started. */
  now(): number {
    return (performance.now() - this.t0) * 1000;
  }

  private span(tid: number, name: string, cat: string, start: number, args: Record<string, unknown>, predictedSeconds?: number): void {
    const end = this.now();
    this.events.push({
      name, cat, ph: "X", ts: start, dur: end - start, pid: this.pid, tid,
      args: { ...args, measured_us: end - start, ...(predictedSeconds !== undefined ? { predicted_us: us(predictedSeconds) } : {}) },
    });
  }

  /** A weight or constant read from the model's files (the plan does not predict this). */
  load(tensor: string, tier: ArenaName, bytes: number, start: number): void {
    this.span(TIER_TIDS[tier], `load ${tensor}`, "load", start, { tensor, bytes, from: "model file", to: tier });
  }

  transfer(t: Transfer, index: number, start: number): void {
    this.span(TIER_TIDS[t.to], `${t.tensor} ${t.from}->${t.to}`, "transfer", start,
      { transfer: index, tensor: t.tensor, from: t.from, to: t.to, bytes: t.bytes, beforeSection: t.beforeSection }, t.seconds);
  }

  kernel(k: DfKernel, section: number, start: number, tiles: number): void {
    const predicted = this.plan.sections[section]?.kernels.find((a) => a.kernel === k.name)?.seconds;
    this.span(sectionTid(section), `${k.name} ${k.ops.join(",")}`, "kernel", start,
      { section: this.sectionNames[section], kernel: k.name, kind: k.kind, nodes: k.nodes, tiles }, predicted);
  }

  section(index: number, start: number): void {
    const s = this.plan.sections[index]!;
    this.span(sectionTid(index), s.name, "section", start, { section: s.name, bound: s.cost.bound, kernels: s.kernels.length }, s.cost.seconds);
  }

  /** A collective or a stage-to-stage send this socket took part in, on its link track. */
  link(name: string, start: number, args: Record<string, unknown>, predictedSeconds?: number): void {
    this.linked = true;
    this.span(LINK_TID, name, "link", start, args, predictedSeconds);
  }

  readback(tensor: string, start: number): void {
    this.span(TIER_TIDS.host, `read ${tensor}`, "readback", start, { tensor, to: "host" });
  }

  occupancy(tier: ArenaName, bytes: number): void {
    this.events.push({ name: `${tier} occupancy`, ph: "C", ts: this.now(), pid: this.pid, args: { bytes } });
  }

  /** The bytes the plan has live in each tier during a section, beside the arenas' measured occupancy. */
  sectionStarted(index: number): void {
    this.ran.add(index);
    const ts = this.now();
    for (const tier of ["sram", "hbm", "ddr"] as const) {
      const bytes = this.plan.allocations.filter((a) => a.tier === tier && a.firstSection <= index && index <= a.lastSection).reduce((n, a) => n + a.bytes, 0);
      this.events.push({ name: `${tier} occupancy (plan)`, ph: "C", ts, pid: this.pid, args: { bytes } });
    }
  }

  private metadata(): TraceEvent[] {
    const pid = this.pid;
    const name = this.processName ?? `plan for ${this.plan.target} on the CPU reference backend`;
    const events: TraceEvent[] = [{ name: "process_name", ph: "M", pid, args: { name } }, { name: "process_sort_index", ph: "M", pid, args: { sort_index: pid } }];
    const track = (tid: number, label: string) => {
      events.push({ name: "thread_name", ph: "M", pid, tid, args: { name: label } });
      events.push({ name: "thread_sort_index", ph: "M", pid, tid, args: { sort_index: tid } });
    };
    for (const [tier, tid] of Object.entries(TIER_TIDS)) track(tid, tier === "host" ? "host" : `tier ${tier}`);
    if (this.linked) track(LINK_TID, "links (collectives, sends)");
    this.sectionNames.forEach((s, i) => { if (this.ran.has(i)) track(sectionTid(i), `section ${s}`); });
    return [...events, ...[...this.sockets.values()].flatMap((r) => r.metadata())];
  }

  toJson(): ChromeTrace {
    const p = this.plan;
    return {
      traceEvents: [...this.metadata(), ...this.events],
      displayTimeUnit: "ms",
      otherData: {
        model: p.model.file, target: p.target, opt: p.options.opt, phase: p.options.phase, batch: p.options.batch, seq: p.options.seq,
        predicted_seconds: p.prediction.seconds, plan: planDigest(p), measured_on: MEASURED_ON,
      },
    };
  }
}
