// The serving simulation engine under `simulate` (a CoE on a node) and
// `simulate-serving` (colocated against disaggregated prefill and decode):
// a discrete-event simulation of instances serving a request trace with step
// costs taken from compiled plans.
//
// An instance is a socket group with HBM slots for expert weights. Its role is
// "both" (prefill and decode), "prefill" (hands each prompt's KV cache on) or
// "decode" (takes requests once their KV cache arrives). It serves one expert
// at a time, in turns:
//   - a turn starts when the instance is idle: it takes the expert of the oldest
//     waiting request, copies it into HBM if absent (evicting by the policy),
//     and admits that expert's waiting requests, oldest first, up to the batch;
//   - during the turn, continuous batching: a request of the turn's expert that
//     arrives joins at the next step while no other expert's request waits (so
//     no request waits behind a busy expert for ever); a waiting prompt is
//     prefilled before the next decode step (vLLM's order, which DistServe
//     measures); a decode step costs the expert's step time at the batch still
//     running, and requests leave as their outputs end;
//   - the turn ends when its batch drains.
// One model served by replicas is the case of one expert that never switches;
// then this is DistServe's colocated/disaggregated comparison (Zhong et al.,
// OSDI 2024). TTFT = end of prefill (the prompt's last position gives the first
// token) - arrival; TPOT = (last token - first token) / (output tokens - 1).
// Requests are given to instances before the run: replicas of one model take
// them round-robin; a CoE's experts are split across instances, balancing the
// trace's requests, so an expert's requests meet its weights on one instance.
// Policies for the slots besides the turn's expert:
//   pin-hot   the hottest experts stay pinned; one slot swaps
//   lru       every slot swaps, least recently used out
//   lfu       every slot swaps, least often requested out
//   prefetch  lru, and while a turn computes, the router's second choice of its
//             first request is copied into a free slot
// Known weaknesses: the assignment is static (no work stealing, no migration of
// hot experts); prefill takes one prompt at a time (no chunked prefill); KV
// capacity is bounded only by the batch; a hand-over costs a fixed time per
// prompt token with no network queueing.

import { fail } from "../../ir/diagnostics.js";

/** The costs of serving one expert (one model when a single model is served). */
export interface ExpertCosts {
  /** Seconds to prefill one prompt of `tokens` tokens. */
  readonly prefillSeconds: (tokens: number) => number;
  /** Seconds of one decode step for `batch` requests. */
  readonly decodeSeconds: (batch: number) => number;
  /** Seconds to copy the expert's weights into HBM, and their bytes. */
  readonly switchSeconds: number;
  readonly bytes: number;
  /** Seconds to hand a prompt's KV cache from a prefill to a decode instance. */
  readonly kvTransferSeconds?: (tokens: number) => number;
  /** In HBM when serving starts (the compiled residency). */
  readonly startsResident?: boolean;
  /** How hot the expert is, for pin-hot (manifest shares, or the trace's request counts). */
  readonly heat?: number;
}

export type Policy = "pin-hot" | "lru" | "lfu" | "prefetch";
export type Role = "both" | "prefill" | "decode";

export interface EngineRequest {
  readonly arrival: number;
  readonly promptTokens: number;
  readonly outputTokens: number;
  readonly expert: string;
  readonly second?: string;
}

/**
 * A socket group serving requests. HBM for experts is `slots` experts at most and, when
 * given, `capacityBytes` bytes at most (experts of different sizes share it by bytes).
 */
export interface Instance {
  readonly role: Role;
  readonly slots: number;
  readonly capacityBytes?: number;
  readonly maxBatch: number;
}

export interface EngineConfig {
  readonly experts: ReadonlyMap<string, ExpertCosts>;
  /** Instances by role: colocated replicas are all "both"; disaggregated ones split "prefill" and "decode". */
  readonly instances: readonly Instance[];
  readonly policy: Policy;
  /** Seconds the router takes per request before it can be queued (0 for one model). */
  readonly routerSeconds?: number;
  /** HBM bytes an instance holds besides expert weights (router, KV cache), for occupancy. */
  readonly reservedBytes?: number;
  /**
   * Serverless keep-alive: an expert idle this many seconds leaves HBM (its slot frees), as a
   * serverless pool unloads a model with no requests. Without it experts leave only when evicted.
   */
  readonly keepAliveSeconds?: number;
  /**
   * Which instance (0-based among the instances of a role) serves each expert, when the caller
   * places them (a CoE over several nodes, each with its own memory). Without it: replicas
   * of one model round-robin, a CoE's experts split by their requests.
   */
  readonly assignment?: ReadonlyMap<string, number>;
}

/** What happened to one request; times in seconds. */
export interface RequestOutcome {
  readonly arrival: number;
  readonly firstToken: number;
  readonly finish: number;
  readonly outputTokens: number;
  readonly expert: string;
  /** It waited for its expert to be copied into HBM (a cold start). */
  readonly cold: boolean;
}

export interface EngineRun {
  readonly requests: readonly RequestOutcome[];
  /** Each copy of an expert into an instance's HBM: when it started and which expert. */
  readonly switches: readonly { readonly at: number; readonly expert: string; readonly instance: number }[];
  readonly bytesMoved: number;
  /** Seconds spent copying experts in, summed over switches. */
  readonly switchSeconds: number;
  readonly turns: number;
  /** (time, HBM bytes) at each change, summed over instances. */
  readonly occupancy: readonly (readonly [number, number])[];
  readonly makespanSeconds: number;
}

interface Live {
  readonly r: EngineRequest;
  readonly index: number;
  /** When it may join an instance: arrival + router, or when its KV cache arrives. */
  ready: number;
  firstToken: number;
  finish: number;
  generated: number;
  cold: boolean;
}

/** Waiting requests of one instance: one FIFO per expert and the order they became ready. */
class WaitingQueue {
  private readonly byExpert = new Map<string, Live[]>();
  private readonly heads = new Map<string, number>();
  private readonly order: Live[] = [];
  private orderHead = 0;
  private readonly taken = new Set<number>();
  size = 0;

  push(x: Live): void {
    let q = this.byExpert.get(x.r.expert);
    if (!q) { q = []; this.byExpert.set(x.r.expert, q); this.heads.set(x.r.expert, 0); }
    q.push(x);
    this.order.push(x);
    this.size++;
  }
  count(expert: string): number {
    return (this.byExpert.get(expert)?.length ?? 0) - (this.heads.get(expert) ?? 0);
  }
  oldest(): Live | undefined {
    while (this.orderHead < this.order.length && this.taken.has(this.order[this.orderHead]!.index)) this.orderHead++;
    return this.order[this.orderHead];
  }
  take(expert: string): Live | undefined {
    const q = this.byExpert.get(expert);
    const h = this.heads.get(expert) ?? 0;
    if (!q || h >= q.length) return undefined;
    this.heads.set(expert, h + 1);
    this.taken.add(q[h]!.index);
    this.size--;
    return q[h];
  }
}

/** HBM slots of one instance under a policy. */
class Residency {
  private readonly ready = new Map<string, number>(); // expert -> when its copy completes
  private readonly lastUse = new Map<string, number>();
  private readonly uses = new Map<string, number>();
  private used = 0;
  constructor(readonly slots: number, readonly capacity: number, readonly bytes: (e: string) => number, readonly policy: Policy,
    readonly pinned: ReadonlySet<string>, initial: readonly string[]) {
    for (const e of initial) if (!this.ready.has(e) && this.fits(e)) this.load(e, 0);
  }
  private fits(e: string): boolean { return this.ready.size < this.slots && this.used + this.bytes(e) <= this.capacity; }
  /** Drop the residents idle `keepAlive` seconds by `t` (not pinned, not `keep`), calling `gone` in the order they expired. */
  expire(t: number, keepAlive: number, keep: string | undefined, gone: (e: string, at: number) => void): void {
    const idle = [...this.ready.keys()].filter((n) => n !== keep && !this.pinned.has(n) && (this.lastUse.get(n) ?? 0) + keepAlive <= t)
      .map((n) => ({ n, at: (this.lastUse.get(n) ?? 0) + keepAlive })).sort((a, b) => a.at - b.at || (a.n < b.n ? -1 : 1));
    for (const { n, at } of idle) { this.drop(n); gone(n, at); }
  }
  has(e: string): boolean { return this.ready.has(e); }
  readyAt(e: string): number { return this.ready.get(e) ?? Infinity; }
  residents(): IterableIterator<string> { return this.ready.keys(); }
  touch(e: string, t: number, requests: number): void {
    this.lastUse.set(e, t);
    this.uses.set(e, (this.uses.get(e) ?? 0) + requests);
  }
  /** Make room for expert `e`, keeping `keep`, evicting by the policy; false when what must stay leaves no room. */
  evictFor(e: string, keep: ReadonlySet<string>): boolean {
    while (!this.fits(e)) {
      let victim: string | undefined, best = Infinity;
      for (const n of this.ready.keys()) {
        if (this.pinned.has(n) || keep.has(n)) continue;
        const score = this.policy === "lfu" ? (this.uses.get(n) ?? 0) * 1e12 + (this.lastUse.get(n) ?? 0) : (this.lastUse.get(n) ?? 0);
        if (score < best || (score === best && victim !== undefined && n < victim)) { victim = n; best = score; }
      }
      if (victim === undefined) return false;
      this.drop(victim);
    }
    return true;
  }
  load(e: string, readyAt: number): void { this.ready.set(e, readyAt); this.lastUse.set(e, readyAt); this.used += this.bytes(e); }
  private drop(e: string): void { this.ready.delete(e); this.used -= this.bytes(e); }
}

/** Experts to instances: each expert on the instance with the fewest requests so far, heaviest first. */
function partition(requests: readonly EngineRequest[], instances: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of requests) counts.set(r.expert, (counts.get(r.expert) ?? 0) + 1);
  const load = new Array<number>(instances).fill(0);
  const home = new Map<string, number>();
  for (const [e, n] of [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))) {
    let k = 0;
    for (let i = 1; i < instances; i++) if (load[i]! < load[k]!) k = i;
    home.set(e, k);
    load[k]! += n;
  }
  return home;
}

function assign(requests: readonly Live[], instances: number, single: boolean, given: ReadonlyMap<string, number> | undefined): Live[][] {
  const out: Live[][] = Array.from({ length: instances }, () => []);
  if (single && !given) {
    requests.forEach((x, i) => out[i % instances]!.push(x));
    return out;
  }
  const home = given ?? partition(requests.map((x) => x.r), instances);
  for (const x of requests) {
    const k = home.get(x.r.expert);
    if (k === undefined || !Number.isInteger(k) || k < 0 || k >= instances) fail(`expert '${x.r.expert}' is assigned to instance ${String(k)}, not one of the ${instances}`);
  }
  for (const x of requests) out[home.get(x.r.expert)!]!.push(x);
  return out;
}

interface InstanceLog {
  switches: { at: number; expert: string; instance: number }[];
  bytesMoved: number;
  switchSeconds: number;
  turns: number;
  /** (time, change in HBM bytes) of every instance. */
  occupancyChanges: [number, number][];
}

/**
 * Run one instance over its requests (sorted by `ready`). Prefill instances set each
 * request's `ready` to when its KV cache reaches a decode instance.
 */
function runInstance(id: number, inst: Instance, requests: readonly Live[], c: EngineConfig, log: InstanceLog): void {
  const { role, slots, maxBatch } = inst;
  const capacity = inst.capacityBytes ?? Infinity;
  const costs = (e: string) => c.experts.get(e)!;
  const served = new Set(requests.map((x) => x.r.expert));
  // Served experts in the config's order: ties in heat go to the earlier one.
  const order = [...c.experts.keys()].filter((e) => served.has(e));
  const byHeat = order.map((e, i) => ({ e, i })).sort((a, b) => (costs(b.e).heat ?? 0) - (costs(a.e).heat ?? 0) || a.i - b.i).map((x) => x.e);
  // pin-hot keeps the hottest pinned, leaving room for one more: a slot, and the largest expert's bytes.
  const pinned = new Set<string>();
  if (c.policy === "pin-hot") {
    const room = capacity - order.reduce((m, e) => Math.max(m, costs(e).bytes), 0);
    let bytes = 0;
    for (const e of byHeat) {
      if (pinned.size >= slots - 1 || bytes + costs(e).bytes > room) break;
      pinned.add(e);
      bytes += costs(e).bytes;
    }
  }
  // Every policy starts from the compiled residency; only pin-hot keeps its hot set pinned.
  const hbm = new Residency(slots, capacity, (e) => costs(e).bytes, c.policy, pinned, [...order.filter((e) => costs(e).startsResident), ...pinned]);
  const reserved = c.reservedBytes ?? 0;
  let recorded = 0;
  const record = (at: number) => {
    let b = reserved;
    for (const e of hbm.residents()) b += costs(e).bytes;
    log.occupancyChanges.push([at, b - recorded]);
    recorded = b;
  };
  record(0);
  const copyIn = (e: string, start: number, keep: ReadonlySet<string>): number => {
    if (!hbm.evictFor(e, keep)) return NaN;
    const done = start + costs(e).switchSeconds;
    hbm.load(e, done);
    log.switches.push({ at: start, expert: e, instance: id });
    log.bytesMoved += costs(e).bytes;
    log.switchSeconds += costs(e).switchSeconds;
    record(start);
    return done;
  };

  const waiting = new WaitingQueue();
  let next = 0, t = 0;
  const arrive = () => { while (next < requests.length && requests[next]!.ready <= t) waiting.push(requests[next++]!); };
  const active: Live[] = [];
  let expert: string | undefined;
  let atStart = 0; // requests of the turn's expert that were waiting when it started and have not joined yet
  let coldTurn = false; // the turn waited for its expert's copy
  while (next < requests.length || waiting.size > 0 || active.length > 0) {
    arrive();
    if (active.length === 0 && waiting.size === 0) { t = requests[next]!.ready; continue; }
    if (active.length === 0) {
      // A new turn: the oldest waiting request's expert, copied in if absent.
      const head = waiting.oldest()!;
      if (c.keepAliveSeconds !== undefined) hbm.expire(t, c.keepAliveSeconds, undefined, (_, at) => record(at));
      if (role !== "prefill" || head.r.expert !== expert) log.turns++;
      expert = head.r.expert;
      let start = t;
      if (!hbm.has(expert)) start = copyIn(expert, t, new Set([expert]));
      else start = Math.max(t, hbm.readyAt(expert));
      if (Number.isNaN(start)) fail(`instance ${id} has no HBM slot free for expert '${expert}' (all pinned)`);
      hbm.touch(expert, t, waiting.count(expert));
      const second = head.r.second;
      if (c.policy === "prefetch" && slots > 1 && second !== undefined && served.has(second) && !hbm.has(second)) copyIn(second, start, new Set([expert]));
      coldTurn = start > t;
      t = start;
      atStart = Math.min(maxBatch, waiting.count(expert));
      arrive();
    }
    const e = expert!;
    // Admit: at the turn's start any waiting request of its expert; later only while no other expert waits.
    const others = waiting.size - waiting.count(e);
    if (active.length < maxBatch && waiting.count(e) > 0 && (atStart > 0 || others === 0 || role === "prefill")) {
      const x = waiting.take(e)!;
      if (atStart > 0) { atStart--; if (coldTurn) x.cold = true; }
      if (role === "decode") {
        x.generated = 1;
        active.push(x);
        continue;
      }
      t += costs(e).prefillSeconds(x.r.promptTokens);
      hbm.touch(e, t, 0);
      x.firstToken = t;
      x.generated = 1;
      if (role === "prefill") {
        x.ready = t + (costs(e).kvTransferSeconds?.(x.r.promptTokens) ?? 0);
        if (x.r.outputTokens <= 1) x.finish = t;
        continue;
      }
      if (x.r.outputTokens <= 1) { x.finish = t; continue; }
      active.push(x);
      continue;
    }
    if (active.length === 0) continue;
    t += costs(e).decodeSeconds(active.length);
    hbm.touch(e, t, 0);
    let kept = 0;
    for (const x of active) {
      x.generated++;
      if (x.generated >= x.r.outputTokens) x.finish = t;
      else active[kept++] = x;
    }
    active.length = kept;
  }
  // Past the last request every expert but the pinned idles out.
  if (c.keepAliveSeconds !== undefined) hbm.expire(Infinity, c.keepAliveSeconds, undefined, (_, at) => record(at));
}

/**
 * Simulate instances serving `requests` (in arrival order). Returns every request's
 * first-token and finish times, the switches and the HBM occupancy over time.
 */
export function runEngine(requests: readonly EngineRequest[], c: EngineConfig): EngineRun {
  for (const r of requests) if (!c.experts.has(r.expert)) fail(`the trace names expert '${r.expert}', which is not served`);
  if (c.instances.length === 0) fail("no instances to serve the trace");
  const live: Live[] = requests.map((r, index) => ({ r, index, ready: r.arrival + (c.routerSeconds ?? 0), firstToken: NaN, finish: NaN, generated: 0, cold: false }));
  const log: InstanceLog = { switches: [], bytesMoved: 0, switchSeconds: 0, turns: 0, occupancyChanges: [] };
  const single = c.experts.size === 1;
  const run = (role: Role) => {
    const ids = c.instances.map((s, i) => ({ s, i })).filter((x) => x.s.role === role);
    if (ids.length === 0) return;
    const shares = assign(live.filter((x) => role !== "decode" || x.r.outputTokens > 1), ids.length, single, c.assignment);
    ids.forEach(({ s, i }, k) => runInstance(i, s, [...shares[k]!].sort((a, b) => a.ready - b.ready || a.index - b.index), c, log));
  };
  const roles = new Set(c.instances.map((s) => s.role));
  if (roles.has("both") && roles.size > 1) fail("instances are either all colocated ('both') or split into prefill and decode");
  if (roles.has("prefill") !== roles.has("decode")) fail("a disaggregated system needs prefill and decode instances");
  run("both");
  run("prefill");
  run("decode");
  const occupancy = totalOverTime(log.occupancyChanges);
  const outcomes = live.map((x) => ({ arrival: x.r.arrival, firstToken: x.firstToken, finish: x.finish, outputTokens: x.r.outputTokens, expert: x.r.expert, cold: x.cold }));
  const makespan = outcomes.reduce((m, o) => Math.max(m, o.finish), 0);
  return { requests: outcomes, switches: log.switches.sort((a, b) => a.at - b.at || a.instance - b.instance), bytesMoved: log.bytesMoved, switchSeconds: log.switchSeconds, turns: log.turns, occupancy, makespanSeconds: makespan };
}

/** Changes of every instance into the total at each time it changes. */
function totalOverTime(changes: readonly [number, number][]): [number, number][] {
  const out: [number, number][] = [];
  let total = 0;
  for (const [at, d] of [...changes].sort((a, b) => a[0] - b[0])) {
    total += d;
    if (out.length > 0 && out[out.length - 1]![0] === at) out[out.length - 1]![1] = total;
    else out.push([at, total]);
  }
  return out;
}
