// Residency and the serving simulation on hand-made plans: hand-checkable
// switch costs, policies, determinism, and the sweep's two cliffs (HBM full,
// then host memory full) on a DGX-like node with Llama-2-7B-sized experts.

import { describe, expect, it } from "vitest";
import type { CoePlan } from "../../compiler/coe/compile-coe.js";
import { nodeOf, planResidency } from "../../compiler/coe/residency.js";
import { hbmSlots, simulate } from "../../compiler/coe/simulate.js";
import { parseSweep, planWithExperts, sweepExperts } from "../../compiler/coe/sweep.js";
import { generateTrace, parseTrace, traceToJsonl } from "../../compiler/coe/trace.js";
import type { TraceRequest } from "../../compiler/coe/trace.js";
import { loadTarget } from "../../targets/target.js";
import { validateCoePlan } from "../../compiler/coe/write.js";
import type { TierflowError } from "../../ir/diagnostics.js";

const GB = 1e9;

/** A plan of `n` experts of `bytes` each on 8 x `target`, with round-number costs. */
function plan(target: string, n: number, bytes: number, batch = 1): CoePlan {
  const node = nodeOf(loadTarget(target), 8);
  const base: CoePlan = {
    version: 2, format: "tierflow-coe-plan", manifest: "coe.json", target, options: { opt: 2, dtype: "f16", batch, seq: 100, context: 512 }, node,
    router: { file: "router.onnx", plan: "router/plan.json", routes: {}, bytes: 0, seconds: 0 },
    graphs: [{ id: "g0", file: "base.onnx", weightBytes: bytes, kvBytes: 0, prefillSeconds: 0.01, decodeSeconds: 0.001, decodeSteps: [{ batch, seconds: 0.001 }] }],
    experts: [{ name: "x", graph: "g0", bytes, share: 1, home: "ddr", switchSeconds: 0 }],
    residency: planResidency(node, [], 0, 0),
  };
  return planWithExperts(base, n);
}

const req = (arrival: number, expert: string, second?: string): TraceRequest =>
  ({ arrival, promptTokens: 100, outputTokens: 10, expert, ...(second ? { second } : {}) });

describe("residency", () => {
  it("pins experts while HBM lasts and prices a switch as bytes over the switch path", () => {
    const p = plan("h100", 100, 13.48 * GB);
    // 8 x 80 GiB = 687 GB; one active region of 13.48 GB leaves room for 49 pinned experts.
    expect(p.experts.filter((e) => e.home === "hbm").length).toBe(49);
    const ddr = p.experts.find((e) => e.home === "ddr")!;
    expect(ddr.switchSeconds).toBeCloseTo(13.48 / 55, 6); // one host link at 55 GB/s
    expect(p.residency.spilledToStorage).toBe(0);
  });

  it("runs out of host memory past 2 TB of experts (148 of 13.48 GB fit)", () => {
    expect(plan("h100", 148, 13.48 * GB).residency.spilledToStorage).toBe(0);
    expect(plan("h100", 150, 13.48 * GB).residency.spilledToStorage).toBe(2);
  });

  it("a node-level target gives its own sockets and load bandwidth", () => {
    const socket = loadTarget("sn40l");
    const node = nodeOf({ ...socket, node: { sockets: 4, loadBandwidth: 5e11 } } as typeof socket, 8);
    expect([node.sockets, node.switchBandwidth, node.hbmBytes]).toEqual([4, 5e11, 4 * socket.hbm.bytes]);
    expect(nodeOf(socket).sockets).toBe(8);
  });

  it("an SN40L node holds all 850 experts in DDR", () => {
    const p = plan("sn40l", 850, 13.48 * GB);
    expect(p.residency.spilledToStorage).toBe(0);
    expect(p.node.switchBandwidth).toBe(8 * 200e9);
  });
});

describe("simulation", () => {
  it("costs a cold request as switch + prefill + decode steps", () => {
    const p = plan("h100", 1, 55 * GB);
    // One expert: it fits HBM and is pinned, so no switch. The 10 ms prefill gives the first
    // of 10 tokens; 9 decode steps of 1 ms give the rest.
    const r = simulate(p, [req(0, "x-0")], "lru").result;
    expect(r.latencyP50).toBeCloseTo(0.019, 9);
    expect(r.ttftP50).toBeCloseTo(0.01, 9);
    expect(r.tpotP50).toBeCloseTo(0.001, 9);
    expect(r.switches).toBe(0);
  });

  it("switches when experts outnumber HBM slots, and lru keeps a repeated expert", () => {
    const p = plan("h100", 3, 300 * GB); // 687 GB of HBM: 2 slots of 300 GB
    expect(hbmSlots(p)).toBe(2);
    const trace = [req(0, "x-0"), req(10, "x-1"), req(20, "x-2"), req(30, "x-1")];
    const lru = simulate(p, trace, "lru").result;
    // x-0 starts in HBM (the compiled hot set); x-1 takes the free slot; x-2 evicts x-0; x-1 is still there.
    expect(lru.switches).toBe(2);
    expect(lru.bytesMoved).toBe(600 * GB);
    expect(lru.latencyP99).toBeCloseTo(300 / 55 + 0.019, 6);
  });

  it("lfu keeps the often-requested expert where lru evicts it", () => {
    const p = plan("h100", 4, 300 * GB); // 2 slots; x-0 starts in HBM
    const trace = [req(0, "x-0"), req(10, "x-0"), req(20, "x-0"), req(30, "x-1"), req(40, "x-2"), req(50, "x-0")];
    expect(simulate(p, trace, "lfu").result.switches).toBe(2); // x-1 in, x-2 evicts x-1
    expect(simulate(p, trace, "lru").result.switches).toBe(3); // x-2 evicts x-0, which comes back
  });

  it("batches waiting requests for one expert", () => {
    const p = plan("sn40l", 1, 10 * GB, 8);
    const r = simulate(p, Array.from({ length: 8 }, () => req(0, "x-0")), "lru").result;
    expect(r.batches).toBe(1);
  });

  it("charges each decode step at the batch still decoding", () => {
    const base = plan("sn40l", 1, 10 * GB, 8);
    const p: CoePlan = { ...base, graphs: [{ ...base.graphs[0]!, decodeSteps: [{ batch: 1, seconds: 0.001 }, { batch: 2, seconds: 0.002 }, { batch: 4, seconds: 0.003 }, { batch: 8, seconds: 0.004 }] }] };
    // Alone: 10 ms prefill (the first token) + 9 steps at batch 1.
    expect(simulate(p, [req(0, "x-0")], "lru").result.latencyP50).toBeCloseTo(0.01 + 9 * 0.001, 9);
    // Eight at once: 8 prefills (a waiting prompt goes before the next step) + 9 steps at batch 8.
    expect(simulate(p, Array.from({ length: 8 }, () => req(0, "x-0")), "lru").result.latencyP99).toBeCloseTo(0.08 + 9 * 0.004, 9);
    // Three, one wanting 30 tokens: 9 steps at batch 3 (between 2 and 4: 2.5 ms), then 20 alone.
    const long = { ...req(0, "x-0"), outputTokens: 30 };
    const r = simulate(p, [req(0, "x-0"), req(0, "x-0"), long], "lru").result;
    expect(r.latencyP50).toBeCloseTo(0.03 + 9 * 0.0025, 9);
    expect(r.latencyP99).toBeCloseTo(0.03 + 9 * 0.0025 + 20 * 0.001, 9);
  });

  it("prefetching the router's second choice hides its switch", () => {
    const p = plan("h100", 4, 300 * GB);
    const trace = [req(0, "x-2", "x-3"), req(100, "x-3")];
    const plain = simulate(p, trace, "lru").result;
    const prefetch = simulate(p, trace, "prefetch").result;
    expect(prefetch.latencyP99).toBeLessThan(plain.latencyP99);
  });

  it("splits experts across nodes, each holding its own in HBM", () => {
    const p = plan("h100", 4, 300 * GB); // 687 GB of HBM a node: 2 experts of 300 GB
    const trace = [0, 1, 2, 3, 0, 1, 2, 3].map((k, i) => req(10 * i, `x-${k}`));
    // One node: x-0 starts in HBM; every later request evicts the least recently used.
    expect(simulate(p, trace, "lru").result.switches).toBe(7);
    // Two nodes: x-0 and x-2 on one, x-1 and x-3 on the other; each node pins one and copies the other in once.
    const two = simulate(p, trace, "lru", undefined, { nodes: 2, slo: { ttftSeconds: 1, tpotSeconds: 1 } }).result;
    expect([two.nodes, two.switches, two.coldStarts]).toEqual([2, 2, 2]);
    expect(two.switchSeconds).toBeCloseTo(2 * 300 / 55, 6);
    // The two cold requests wait 5.5 s for their copy: 6 of 8 meet a 1 s TTFT.
    expect(two.attainment).toBe(6 / 8);
  });

  it("serves a CoE disaggregated: prefill on one node, decode on another, the KV cache handed over", () => {
    const base = plan("h100", 1, 55 * GB);
    // KV cache of 1 MB a token (512 tokens of context at batch 1): a 100-token prompt's 100 MB at 100 GB/s takes 1 ms.
    const p: CoePlan = { ...base, graphs: [{ ...base.graphs[0]!, kvBytes: 512e6 }] };
    const r = simulate(p, [req(0, "x-0")], "lru", undefined, { disaggregate: { prefillNodes: 1, decodeNodes: 1, kvBandwidth: 100e9 } }).result;
    // Prefill 10 ms gives the first token; 1 ms hand-over; 9 decode steps of 1 ms.
    expect(r.ttftP50).toBeCloseTo(0.01, 9);
    expect(r.latencyP50).toBeCloseTo(0.01 + 0.001 + 0.009, 9);
    expect(r.nodes).toBe(2);
  });

  it("is deterministic and auto picks the best p99", () => {
    const p = plan("h100", 80, 13.48 * GB, 8);
    const trace = generateTrace({ experts: p.experts.map((e) => e.name), requests: 300, rate: 2, distribution: "zipf", seed: 7 });
    const a = simulate(p, trace, "auto");
    const b = simulate(p, trace, "auto");
    expect(a).toEqual(b);
    expect(a.result.latencyP99).toBe(Math.min(...a.tried.map((t) => t.latencyP99)));
  });
});

describe("coe-plan.json", () => {
  it("a plan conforms to its schema and a damaged one is refused", () => {
    const p = JSON.parse(JSON.stringify(plan("sn40l", 3, GB))) as CoePlan;
    expect(validateCoePlan(p, "coe-plan.json")).toEqual(p);
    expect(() => validateCoePlan({ ...p, experts: [{ ...p.experts[0], home: "l3" }] }, "coe-plan.json")).toThrow(/\$\.experts\[0\]\.home/);
    expect(() => validateCoePlan({ ...p, version: 9 }, "coe-plan.json")).toThrow(/compile again/);
  });
});

describe("traces", () => {
  it("round-trips JSON Lines and the generator is seeded", () => {
    const names = ["a", "b", "c"];
    const t = generateTrace({ experts: names, requests: 50, rate: 5, distribution: "bursty", seed: 3 });
    expect(generateTrace({ experts: names, requests: 50, rate: 5, distribution: "bursty", seed: 3 })).toEqual(t);
    expect(parseTrace(traceToJsonl(t), "t.jsonl")).toEqual(t);
  });

  it("zipf favours the first expert", () => {
    const t = generateTrace({ experts: ["a", "b", "c", "d"], requests: 1000, rate: 5, distribution: "zipf", seed: 1 });
    const count = (n: string) => t.filter((r) => r.expert === n).length;
    expect(count("a")).toBeGreaterThan(2 * count("d"));
  });

  it("names the line of a bad request", () => {
    const bad = '{"arrival":0,"prompt_tokens":1,"output_tokens":1,"expert":"a"}\n{"arrival":1,"prompt_tokens":1}\n';
    expect(() => parseTrace(bad, "t.jsonl")).toThrow(/output_tokens/);
    try { parseTrace(bad, "t.jsonl"); } catch (err) { expect((err as TierflowError).format()).toMatch(/^t\.jsonl:2: /); }
  });
});

describe("sweep", () => {
  it("parses ranges and shows the DGX cliffs: latency jumps past HBM, memory runs out near 150", () => {
    expect(parseSweep("1..10")).toEqual([1, 2, 5, 10]);
    const rows = sweepExperts(plan("h100", 1, 13.48 * GB, 8), [20, 45, 60, 150], { requests: 200, rate: 1, seed: 1, distribution: "uniform", policy: "pin-hot" });
    const [small, fits, over, oom] = rows.map((r) => r.result);
    expect(small!.switches).toBe(0);
    expect(fits!.switches).toBe(0);
    expect(over!.latencyMean).toBeGreaterThan(1.5 * fits!.latencyMean);
    expect(over!.latencyP99).toBeGreaterThan(5 * fits!.latencyP99);
    expect(oom!.outOfMemory).toBe(true);
  });
});
