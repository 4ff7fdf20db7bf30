// The node-level cost formulas against hand calculations: collectives over the
// links, pipeline bubbles, KV cache sizes.

import { describe, expect, it } from "vitest";
import { collectiveCost, collectiveSeconds } from "../../compiler/node/collectives.js";
import { pipelineTiming } from "../../compiler/node/pipeline-parallel.js";
import { kvCacheBytes } from "../../compiler/node/kv-cache.js";

const link = { bandwidth: 1e11, latencySeconds: 1e-6 };

describe("collective costs", () => {
  it("an all-reduce of B bytes over R sockets sends 2(R-1)/R * B at the link bandwidth, in two steps", () => {
    const B = 16 * 2 ** 20, R = 8;
    const c = collectiveCost("all-reduce", B, R, link);
    expect(c.transferSeconds).toBeCloseTo((2 * (R - 1) / R) * B / 1e11, 15);
    expect(c.latencySeconds).toBe(2e-6);
    expect(collectiveSeconds("all-reduce", B, R, link)).toBeCloseTo(2 * 7 / 8 * B / 1e11 + 2e-6, 15);
  });

  it("all-gather and all-to-all move (R-1)/R of the bytes in one step; a send moves all of them", () => {
    expect(collectiveSeconds("all-gather", 8000, 4, link)).toBeCloseTo(0.75 * 8000 / 1e11 + 1e-6, 15);
    expect(collectiveSeconds("all-to-all", 1024, 2, link)).toBeCloseTo(0.5 * 1024 / 1e11 + 1e-6, 15);
    expect(collectiveSeconds("send", 8192, 2, link)).toBeCloseTo(8192 / 1e11 + 1e-6, 15);
  });

  it("a group of one socket communicates nothing", () => {
    expect(collectiveSeconds("all-reduce", 1e9, 1, link)).toBe(0);
  });
});

describe("pipeline timing (GPipe bubbles)", () => {
  it("prefill: M micro-batches over P balanced stages take (M + P - 1) stage times, bubble (P - 1) / (M + P - 1)", () => {
    const t = pipelineTiming([2, 2, 2, 2], 4, "prefill");
    expect(t.stepSeconds).toBe((4 + 4 - 1) * 2);
    expect(t.latencySeconds).toBe(8);
    expect(t.bubbleFraction).toBeCloseTo(3 / 7, 12);
  });

  it("decode: a micro-batch re-enters only after leaving the last stage, so the step is max(sum, M x slowest)", () => {
    const few = pipelineTiming([1, 1, 1, 1], 2, "decode");
    expect(few.stepSeconds).toBe(4);
    expect(few.bubbleFraction).toBeCloseTo(1 - 2 / 4, 12);
    const full = pipelineTiming([1, 1], 4, "decode");
    expect(full.stepSeconds).toBe(4);
    expect(full.bubbleFraction).toBeCloseTo(0, 12);
  });

  it("one stage is no pipeline", () => {
    expect(pipelineTiming([3], 1, "decode")).toEqual({ stepSeconds: 3, latencySeconds: 3, bubbleFraction: 0 });
  });
});

describe("KV cache size", () => {
  it("2 x batch x context x layers x KV heads x head dim x bytes", () => {
    // Llama-2-70B: 80 layers, 8 KV heads of 128, bf16: 320 KiB per token of a request.
    expect(kvCacheBytes({ batch: 1, context: 1, layers: 80, kvHeads: 8, headDim: 128, dtypeBytes: 2 })).toBe(327680);
    expect(kvCacheBytes({ batch: 4, context: 4096, layers: 32, kvHeads: 32, headDim: 128, dtypeBytes: 2 })).toBe(4 * 4096 * 524288);
  });
});
