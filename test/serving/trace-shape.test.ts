import { describe, expect, it } from "vitest";
import { parseMapping, parseWindow, shapeTrace } from "../../compiler/serving/trace-shape.js";
import type { TraceRequest } from "../../compiler/coe/trace.js";
import { expectTierflowError } from "../support/errors.js";

const at = (arrival: number, expert?: string): TraceRequest => ({ arrival, promptTokens: 10, outputTokens: 5, ...(expert ? { expert } : {}) });
const trace = [at(0), at(10), at(20), at(30), at(40)];

describe("trace shaping", () => {
  it("keeps a window, counts time from its start, and scales the rate", () => {
    const { requests, notes } = shapeTrace(trace, ["a"], { window: parseWindow("10:35"), rateScale: 2, mapping: { kind: "uniform", seed: 1 } });
    expect(requests.map((r) => r.arrival)).toEqual([0, 5, 10]);
    expect(notes[0]).toBe("window 10:35 s: 3 of 5 requests");
    expect(notes[1]).toBe("arrival rate scaled by 2");
  });

  it("maps onto experts by a seeded Zipf whose frequencies follow 1/k^s", () => {
    const many = Array.from({ length: 20000 }, (_, i) => at(i));
    const experts = ["e1", "e2", "e3", "e4"];
    const { requests } = shapeTrace(many, experts, { mapping: parseMapping("zipf:1", 7) });
    const counts = experts.map((e) => requests.filter((r) => r.expert === e).length / many.length);
    const h = 1 + 1 / 2 + 1 / 3 + 1 / 4;
    counts.forEach((c, k) => expect(Math.abs(c - 1 / (k + 1) / h)).toBeLessThan(0.01));
    expect(requests.every((r) => r.second !== undefined && r.second !== r.expert)).toBe(true);
    // Seeded: the same draw every time.
    expect(shapeTrace(many, experts, { mapping: parseMapping("zipf:1", 7) }).requests).toEqual(requests);
  });

  it("keeps the trace's model names by default and refuses one the experts lack", () => {
    expect(shapeTrace([at(0, "a"), at(1, "b")], ["a", "b"], {}).requests.map((r) => r.expert)).toEqual(["a", "b"]);
    expectTierflowError(() => shapeTrace([at(0, "GPT-4")], ["a", "b"], {}), /the trace names model 'GPT-4', which is not one of the 2 experts served/);
  });

  it("maps a trace without names by Zipf by default, saying so", () => {
    const { requests, notes } = shapeTrace(trace, ["a", "b"], {});
    expect(requests.every((r) => r.expert === "a" || r.expert === "b")).toBe(true);
    expect(notes.join()).toMatch(/mapped onto 2 experts by a seeded Zipf \(s = 1\) draw \(seed 0\)/);
  });

  it("refuses windows, mappings and scales that make no sense", () => {
    expectTierflowError(() => parseWindow("30:10"), /--window '30:10': give START:END in seconds/);
    expectTierflowError(() => parseWindow(":"), /--window ':'/);
    expectTierflowError(() => parseMapping("zipf:-1", 0), /--map-experts 'zipf:-1'/);
    expectTierflowError(() => parseMapping("random", 0), /give model \(the trace's names\), uniform, zipf or zipf:S/);
    expectTierflowError(() => shapeTrace(trace, ["a"], { window: { start: 100, end: 200 } }), /the window 100:200 s holds none of the trace's 5 requests \(they arrive from 0 to 40 s\)/);
    expectTierflowError(() => shapeTrace(trace, ["a"], { rateScale: 0 }), /a rate scale of 0/);
  });
});
