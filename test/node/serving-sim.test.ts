// The serving simulation with hand-made step times: deterministic for a seed,
// and DistServe's qualitative result (disaggregation wins under a tight
// per-token target, where prefills stretch colocated decode steps; a loose
// target lets colocation's extra prefill capacity win).

import { describe, expect, it } from "vitest";
import type { ServingSystem, Workload } from "../../compiler/node/serving-sim.js";
import { arrivals, linear, simulateServing } from "../../compiler/node/serving-sim.js";

// About Llama-2-7B on 2-socket replicas: a 1024-token prompt in 25 ms, decode 4 ms a step at batch 1, 19 ms at 64.
const decode = linear(1, 0.004, 64, 0.019);
const prefill = (tokens: number) => (0.025 * tokens) / 1024;
const colocated: ServingSystem = { kind: "colocated", replicas: 4, timing: { prefillSeconds: prefill, decodeSeconds: decode, maxBatch: 64 } };
const disaggregated: ServingSystem = {
  kind: "disaggregated", prefillReplicas: 1, decodeReplicas: 3, kvTransferSeconds: 0.003,
  prefill: { prefillSeconds: prefill, decodeSeconds: decode, maxBatch: 64 },
  decode: { prefillSeconds: () => 0, decodeSeconds: decode, maxBatch: 64 },
};
const workload = (rate: number, tpot: number): Workload => ({ rate, requests: 300, promptTokens: 1024, outputTokens: 128, seed: 7, ttftSeconds: 0.5, tpotSeconds: tpot });

describe("serving simulation", () => {
  it("is deterministic for a seed, and the arrivals follow the rate", () => {
    expect(simulateServing(colocated, workload(20, 0.006))).toEqual(simulateServing(colocated, workload(20, 0.006)));
    const a = arrivals(workload(50, 0.006));
    expect(a).toHaveLength(300);
    expect(a.at(-1)!.arrival / 300).toBeGreaterThan(0.8 / 50);
    expect(a.at(-1)!.arrival / 300).toBeLessThan(1.2 / 50);
    expect(arrivals({ ...workload(50, 0.006), seed: 8 })[0]!.arrival).not.toBe(a[0]!.arrival);
  });

  it("under a tight per-token target, disaggregation meets it at a rate where colocation does not", () => {
    const tight = workload(30, 0.006);
    const c = simulateServing(colocated, tight), d = simulateServing(disaggregated, tight);
    expect(d.attainment).toBeGreaterThanOrEqual(0.9);
    expect(c.attainment).toBeLessThan(0.5);
    expect(d.goodput).toBeGreaterThan(2 * c.goodput);
  });

  it("under a loose target, colocation's four prefilling replicas serve more than one prefill replica", () => {
    const loose = workload(60, 0.02);
    expect(simulateServing(colocated, loose).goodput).toBeGreaterThan(simulateServing(disaggregated, loose).goodput);
  });
});
