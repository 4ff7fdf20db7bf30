// plan.json written in pieces is byte for byte the text planToJson gives.

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import { planJsonChunks } from "../../compiler/plan-json-chunks.js";
import type { Plan } from "../../ir/placement/plan.js";
import { ROOT } from "../support/cli.js";

describe("plan.json in pieces", () => {
  it.each([
    ["llama-tiny on toy", "examples/models/llama-tiny.dynamo.onnx", { target: "toy", seq: 16 }],
    ["mixtral-tiny over a node", "examples/models/mixtral-tiny.dynamo.onnx", { target: "sn40l-node", parallel: "tp=2", seq: 16 }],
    ["an int4 decoder's decode step", "examples/deploy/llama.int4.onnx", { target: "sn40l", phase: "decode" as const, seq: 16 }],
  ])("%s", async (_, model, options) => {
    const r = await compile(join(ROOT, model), { opt: 2, ...options });
    expect([...planJsonChunks(r.plan)].join("")).toBe(planToJson(r.plan));
  });

  it("long arrays, nested long arrays, empty values and absent fields as JSON.stringify writes them", () => {
    const long = Array.from({ length: 600 }, (_, i) => ({ i, tag: i % 3 ? undefined : "x", inner: i % 100 === 0 ? Array.from({ length: 300 }, (_, j) => j) : [] }));
    const value = { a: long, b: {}, c: [], d: undefined, e: [Array.from({ length: 400 }, () => [1, { z: null }])], f: -0, g: "q\"\n",
      // Long arrays inside a long array, between runs of small elements, and elements JSON writes as null.
      h: Array.from({ length: 700 }, (_, i) => (i % 250 === 1 ? Array.from({ length: 300 }, (_, j) => [j]) : i % 7 === 0 ? undefined : { k: i })) } as unknown as Plan;
    expect([...planJsonChunks(value)].join("")).toBe(`${JSON.stringify(value, null, 1)}\n`);
  });
});
