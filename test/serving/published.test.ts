// The service-level objectives the published comparisons use (compiler/serving/slo.ts),
// on cases worked out by hand: Splitwise's slowdown bounds at P50 / P90 / P99 with
// linearly interpolated percentiles, DistServe's attainment of TTFT and TPOT targets, and
// the highest rate meeting 90% attainment on a one-replica system small enough to solve.

import { describe, expect, it } from "vitest";
import { runEngine } from "../../compiler/serving/engine.js";
import type { ExpertCosts } from "../../compiler/serving/engine.js";
import { attainment, attains, checkSlowdowns, highestRate, quantile, requestLatencies, slowdowns, SPLITWISE_SLO } from "../../compiler/serving/slo.js";
import type { RequestLatency } from "../../compiler/serving/slo.js";
import { expectTierflowError } from "../support/errors.js";

const lat = (ttft: number, tbt: number, e2e: number): RequestLatency => ({ ttft, tbt, e2e });

describe("service-level objectives", () => {
  it("interpolates percentiles between order statistics", () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5); // position 1.5 between 2 and 3
    expect(quantile([1, 1, 1, 1, 1, 2, 2, 2, 3, 7], 0.9)).toBeCloseTo(3.4, 12); // position 8.1: 3 + 0.1 x (7 - 3)
    expect(quantile([1, 1, 1, 1, 1, 2, 2, 2, 3, 7], 0.99)).toBeCloseTo(6.64, 12); // position 8.91
    expect(quantile([5], 0.99)).toBe(5);
    expect(quantile([], 0.5)).toBeNaN();
    expectTierflowError(() => quantile([1], 1.5), /a quantile of 1.5: it must be between 0 and 1/);
  });

  it("takes TTFT, the mean gap between tokens and end-to-end latency from the engine's outcomes", () => {
    expect(requestLatencies([{ arrival: 1, firstToken: 1.5, finish: 2.5, outputTokens: 5 }, { arrival: 0, firstToken: 2, finish: 2, outputTokens: 1 }]))
      .toEqual([lat(0.5, 0.25, 1.5), lat(2, 0, 2)]);
  });

  it("checks Splitwise's slowdown bounds: TTFT 2/3/6x, TBT and end-to-end 1.25/1.5/5x at P50/P90/P99", () => {
    expect(SPLITWISE_SLO.map((b) => `${b.metric}@${b.quantile}<=${b.max}`)).toEqual([
      "ttft@0.5<=2", "ttft@0.9<=3", "ttft@0.99<=6", "tbt@0.5<=1.25", "tbt@0.9<=1.5", "tbt@0.99<=5", "e2e@0.5<=1.25", "e2e@0.9<=1.5", "e2e@0.99<=5",
    ]);
    // Ten requests, each 1 s to its first token and 1 s a token unloaded.
    const unloaded = Array.from({ length: 10 }, () => lat(1, 1, 1));
    const ttfts = [1, 1, 1, 1, 1, 2, 2, 2, 3, 7];
    const slow = slowdowns(ttfts.map((t) => lat(t, 1.2, 1)), unloaded);
    expect(slow.map((s) => s.ttft)).toEqual(ttfts);
    const check = checkSlowdowns(slow);
    // TTFT: P50 1.5 <= 2 holds; P90 3.4 > 3 and P99 6.64 > 6 fail. TBT 1.2 everywhere holds.
    expect(check.met).toBe(false);
    expect(check.bounds.filter((b) => !b.met).map((b) => [b.metric, b.quantile, Number(b.value.toFixed(2))])).toEqual([["ttft", 0.9, 3.4], ["ttft", 0.99, 6.64]]);
    // The slowest request at 3x instead: P90 and P99 are 3, on the bound, and hold.
    expect(checkSlowdowns(slowdowns([...ttfts.slice(0, 9), 3].map((t) => lat(t, 1.2, 1)), unloaded)).met).toBe(true);
    // Every request's tokens 1.3x slower: TBT P50 1.3 > 1.25 fails, nothing else.
    const tbt = checkSlowdowns(slowdowns(unloaded.map(() => lat(1, 1.3, 1)), unloaded));
    expect(tbt.bounds.filter((b) => !b.met).map((b) => `${b.metric}@${b.quantile}`)).toEqual(["tbt@0.5"]);
  });

  it("gives a one-token answer's TBT a slowdown of 1, and refuses lists of different lengths", () => {
    expect(slowdowns([lat(2, 0, 2)], [lat(1, 0, 1)])).toEqual([lat(2, 1, 2)]);
    expectTierflowError(() => slowdowns([lat(1, 1, 1)], []), /one unloaded run per request: 1 loaded, 0 unloaded/);
    expect(checkSlowdowns([]).met).toBe(false);
  });

  it("counts DistServe's attainment of each target apart and of both together", () => {
    const targets = { ttftSeconds: 0.25, tpotSeconds: 0.1 };
    const a = attainment([lat(0.1, 0.05, 1), lat(0.3, 0.05, 1), lat(0.2, 0.2, 1), lat(0.25, 0.1, 1)], targets);
    expect(a).toEqual({ ttft: 0.75, tpot: 0.75, both: 0.5 });
    expect(attains(a, 0.75, "each")).toBe(true);
    expect(attains(a, 0.75, "both")).toBe(false);
  });

  it("bisects to the highest rate that meets, on DistServe's grid", () => {
    const tried: number[] = [];
    expect(highestRate((r) => { tried.push(r); return r <= 1.7; }, { high: 5, tolerance: 0.25 })).toBe(1.5625);
    expect(tried).toEqual([2.5, 1.25, 1.875, 1.5625, 1.71875]);
    expect(highestRate(() => false, { high: 5, tolerance: 0.25 })).toBe(0);
    expectTierflowError(() => highestRate(() => true, { low: 2, high: 1, tolerance: 0.1 }), /need high > low and a tolerance > 0/);
  });

  it("finds the goodput of one replica by hand: prefill 0.1 s, TTFT target 0.25 s, 90% of 10 requests", () => {
    // Requests every g seconds, each a 0.1 s prefill and its single token. Faster than one every
    // 0.1 s they queue: request k (from 0) waits for k prefills, TTFT = 0.1 + k (0.1 - g). Nine of
    // ten (k = 0..8) meet 0.25 s while 0.1 + 8 (0.1 - g) <= 0.25, g >= 0.08125: 12.3077 req/s at most.
    const costs: ExpertCosts = { prefillSeconds: () => 0.1, decodeSeconds: () => 0.01, switchSeconds: 0, bytes: 0, startsResident: true };
    const meets = (rate: number) => {
      const requests = Array.from({ length: 10 }, (_, k) => ({ arrival: k / rate, promptTokens: 16, outputTokens: 1, expert: "m" }));
      const run = runEngine(requests, { experts: new Map([["m", costs]]), instances: [{ role: "both", slots: 1, maxBatch: 8 }], policy: "lru" });
      return attains(attainment(requestLatencies(run.requests), { ttftSeconds: 0.25, tpotSeconds: 0.1 }), 0.9, "each");
    };
    expect(meets(12.3)).toBe(true);
    expect(meets(12.32)).toBe(false);
    const goodput = highestRate(meets, { high: 20, tolerance: 0.01 });
    expect(goodput).toBeLessThanOrEqual(1 / 0.08125);
    expect(goodput).toBeGreaterThan(1 / 0.08125 - 0.01);
  });
});
