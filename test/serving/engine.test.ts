// The serving engine on cases small enough to follow by hand: continuous
// batching with prefill first, turns per expert that do not starve another
// expert, disaggregated prefill and decode with the KV hand-over, a CoE served
// disaggregated, and experts split across instances.

import { describe, expect, it } from "vitest";
import { runEngine } from "../../compiler/serving/engine.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import type { EngineConfig, EngineRequest, ExpertCosts } from "../../compiler/serving/engine.js";
import { expectTierflowError } from "../support/errors.js";

const costs = (over: Partial<ExpertCosts> = {}): ExpertCosts => ({
  prefillSeconds: () => 0.01, decodeSeconds: () => 0.001, switchSeconds: 1, bytes: 100, kvTransferSeconds: () => 0.002, ...over,
});
const req = (arrival: number, expert: string, outputTokens: number): EngineRequest => ({ arrival, promptTokens: 8, outputTokens, expert });
const both = (n = 1, slots = 1) => Array.from({ length: n }, () => ({ role: "both" as const, slots, maxBatch: 8 }));
const times = (run: ReturnType<typeof runEngine>) => run.requests.map((r) => [r.firstToken, r.finish].map((t) => Number(t.toFixed(9))));

describe("serving engine", () => {
  it("prefills a prompt that arrives mid-decode before the next step", () => {
    const c: EngineConfig = { experts: new Map([["m", costs({ startsResident: true })]]), instances: both(), policy: "lru" };
    // R1: prefill to 10 ms, steps at 11, 12, 13 ms; R2 (12.5 ms) is prefilled 13 -> 23 ms, then both step.
    const run = runEngine([req(0, "m", 5), req(0.0125, "m", 3)], c);
    expect(times(run)).toEqual([[0.01, 0.024], [0.023, 0.025]]);
    expect(run.switches).toEqual([]);
    expect(run.turns).toBe(1);
  });

  it("does not let an expert's new requests join while another expert waits", () => {
    const c: EngineConfig = { experts: new Map([["a", costs({ startsResident: true })], ["b", costs()]]), instances: both(), policy: "lru" };
    // a's turn: R1 to 12 ms; R3 (a) arrives behind R2 (b) and waits; b switches in (1 s), then a again.
    const run = runEngine([req(0, "a", 3), req(0.005, "b", 2), req(0.006, "a", 2)], c);
    expect(times(run)).toEqual([[0.01, 0.012], [1.022, 1.023], [2.033, 2.034]]);
    expect(run.switches.map((s) => [Number(s.at.toFixed(9)), s.expert])).toEqual([[0.012, "b"], [1.023, "a"]]);
    expect(run.turns).toBe(3);
    expect(run.bytesMoved).toBe(200);
  });

  it("takes every request of a turn's expert waiting at its start, though others wait", () => {
    const c: EngineConfig = { experts: new Map([["a", costs({ startsResident: true })], ["b", costs()]]), instances: both(), policy: "lru" };
    // At 0: a, b, a, b, a waiting. a's turn takes its three (prefills to 10, 20, 30 ms, one step to 31 ms);
    // b is copied in (31 ms -> 1.031 s), prefills to 1.041 and 1.051, one step to 1.052.
    const run = runEngine([req(0, "a", 2), req(0, "b", 2), req(0, "a", 2), req(0, "b", 2), req(0, "a", 2)], c);
    expect(times(run)).toEqual([[0.01, 0.031], [1.041, 1.052], [0.02, 0.031], [1.051, 1.052], [0.03, 0.031]]);
    expect(run.turns).toBe(2);
  });

  it("hands the KV cache from prefill to decode instances", () => {
    const c: EngineConfig = {
      experts: new Map([["m", costs({ startsResident: true })]]), policy: "lru",
      instances: [{ role: "prefill", slots: 1, maxBatch: 8 }, { role: "decode", slots: 1, maxBatch: 8 }],
    };
    // Prefill: R1 0 -> 10 ms, R2 10 -> 20 ms; each KV cache arrives 2 ms later, then two steps each.
    expect(times(runEngine([req(0, "m", 3), req(0, "m", 3)], c))).toEqual([[0.01, 0.014], [0.02, 0.024]]);
  });

  it("serves a CoE disaggregated: both instances switch experts in", () => {
    const c: EngineConfig = {
      experts: new Map([["a", costs()], ["b", costs()]]), policy: "lru",
      instances: [{ role: "prefill", slots: 2, maxBatch: 8 }, { role: "decode", slots: 2, maxBatch: 8 }],
    };
    const run = runEngine([req(0, "a", 2), req(0, "b", 2)], c);
    // Prefill: a copied in (0 -> 1 s), prompt to 1.01; b copied (1.01 -> 2.01), prompt to 2.02.
    // Decode: a's KV at 1.012, a copied 1.012 -> 2.012, one step; b's KV at 2.022, b copied -> 3.022, one step.
    expect(times(run)).toEqual([[1.01, 2.013], [2.02, 3.023]]);
    expect(run.switches.map((s) => [s.instance, s.expert])).toEqual([[0, "a"], [0, "b"], [1, "a"], [1, "b"]]);
  });

  it("splits a CoE's experts across instances by their requests, and sums HBM over instances", () => {
    const c: EngineConfig = { experts: new Map(["a", "b", "c"].map((e) => [e, costs()])), instances: both(2, 3), policy: "lru", reservedBytes: 10 };
    const run = runEngine([req(0, "a", 2), req(0, "a", 2), req(0, "a", 2), req(0, "b", 2), req(0, "b", 2), req(0, "c", 2)], c);
    // a (3 requests) on instance 0; b (2) on 1; c (1) on 1, the lighter one.
    expect(run.switches.map((s) => [s.instance, s.expert])).toEqual([[0, "a"], [1, "b"], [1, "c"]]);
    expect(run.occupancy[0]).toEqual([0, 220]); // 10 reserved on each, plus a (100) and b (100) copied in at 0
    expect(run.occupancy.at(-1)![1]).toBe(20 + 300);
  });

  it("unloads an expert idle for the keep-alive, and matches a serverless pool's expected residents", () => {
    const one = (keepAliveSeconds: number) => runEngine([req(0, "a", 2), req(10, "a", 2)], { experts: new Map([["a", costs()]]), instances: both(1, 4), policy: "lru", keepAliveSeconds });
    // Loaded at 0, used until 1.011 s: idle 5 s, it is gone by 10 and loaded again; idle 20 s, it stays.
    expect(one(5).switches).toHaveLength(2);
    expect(one(20).switches).toHaveLength(1);
    expect(one(5).occupancy.map(([t, b]) => [Number(t.toFixed(3)), b])).toEqual([[0, 100], [6.011, 0], [10, 100], [16.011, 0]]);
    // M models, each with Poisson arrivals at lambda, kept T after their last request: on average
    // M (1 - e^(-lambda T)) are resident (Aegaeon, SOSP 2025: 100 models, 0.037 req/s, 16.79 s: about 46).
    const M = 100, lambda = 0.037, T = 16.79, horizon = 20_000, rand = seededRandom(5);
    const trace: EngineRequest[] = [];
    for (let m = 0; m < M; m++) for (let t = -Math.log(1 - rand()) / lambda; t < horizon; t += -Math.log(1 - rand()) / lambda) trace.push({ arrival: t, promptTokens: 1, outputTokens: 1, expert: `m${m}` });
    trace.sort((a, b) => a.arrival - b.arrival);
    const experts = new Map(Array.from({ length: M }, (_, m) => [`m${m}`, costs({ prefillSeconds: () => 1e-4, switchSeconds: 1e-3, bytes: 1 })]));
    const run = runEngine(trace, { experts, instances: [{ role: "both", slots: M, maxBatch: 8 }], policy: "lru", keepAliveSeconds: T });
    let area = 0;
    const from = 1000; // past the empty start
    run.occupancy.forEach(([t, n], i) => { const next = run.occupancy[i + 1]?.[0] ?? t; area += n * Math.max(0, Math.min(next, horizon) - Math.max(t, from)); });
    expect(Math.abs(area / (horizon - from) - M * (1 - Math.exp(-lambda * T)))).toBeLessThan(1);
  });

  it("shares HBM by bytes among experts of different sizes, and marks the requests that waited for a copy", () => {
    const experts = new Map([["a", costs({ bytes: 60, startsResident: true })], ["b", costs({ bytes: 30 })], ["c", costs({ bytes: 30 })]]);
    const run = runEngine([req(0, "a", 2), req(5, "b", 2), req(10, "c", 2), req(15, "b", 2)], {
      experts, instances: [{ role: "both", slots: 8, capacityBytes: 100, maxBatch: 8 }], policy: "lru",
    });
    // a (60) resident; b (30) fits beside it; c (30) needs a out (least recently used); b is still there at 15 s.
    expect(run.switches.map((s) => s.expert)).toEqual(["b", "c"]);
    expect(run.requests.map((r) => r.cold)).toEqual([false, true, true, false]);
    expect(run.switchSeconds).toBe(2);
  });

  it("serves each expert where the caller assigns it", () => {
    const c: EngineConfig = { experts: new Map([["a", costs()], ["b", costs()]]), instances: both(2, 2), policy: "lru", assignment: new Map([["a", 1], ["b", 1]]) };
    expect(runEngine([req(0, "a", 2), req(0, "b", 2)], c).switches.map((s) => s.instance)).toEqual([1, 1]);
    expectTierflowError(() => runEngine([req(0, "a", 2)], { ...c, assignment: new Map([["a", 2]]) }), /expert 'a' is assigned to instance 2, not one of the 2/);
  });

  it("refuses a trace naming an expert not served, and mixed or one-sided roles", () => {
    const c: EngineConfig = { experts: new Map([["a", costs()]]), instances: both(), policy: "lru" };
    expectTierflowError(() => runEngine([req(0, "z", 2)], c), /the trace names expert 'z', which is not served/);
    expectTierflowError(() => runEngine([], { ...c, instances: [{ role: "both", slots: 1, maxBatch: 1 }, { role: "decode", slots: 1, maxBatch: 1 }] }), /either all colocated/);
    expectTierflowError(() => runEngine([], { ...c, instances: [{ role: "prefill", slots: 1, maxBatch: 1 }] }), /needs prefill and decode instances/);
  });
});
