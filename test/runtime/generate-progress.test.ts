// generate reports each token as it comes (the command's progress line on a
// terminal), for a model with its own KV cache and for one that re-runs the prefix.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import { generateGreedy } from "../../compiler/generate.js";
import { openPlan } from "../../compiler/open-plan.js";
import { ROOT } from "../support/cli.js";

describe("generate's progress", () => {
  it.each([
    ["a with-past decoder", join(ROOT, "examples/deploy/llama.past.dynamo.onnx"), "decode" as const, 16],
    ["a logits-only decoder", join(ROOT, "examples/models/llama-tiny.dynamo.onnx"), "prefill" as const, 4],
  ])("%s: one call a token, in order", async (_, model, phase, seq) => {
    const r = await compile(model, { target: "sn40l", opt: 2, phase, batch: 1, seq });
    const path = join(mkdtempSync(join(tmpdir(), "tierflow-progress-")), "plan.json");
    writeFileSync(path, planToJson(r.plan));
    const calls: [number, number][] = [];
    const { ids } = await generateGreedy(await openPlan(path, { model }), [5, 9, 2, 7], 5, (done, total) => calls.push([done, total]));
    expect(ids).toHaveLength(9);
    expect(calls).toEqual([1, 2, 3, 4, 5].map((n) => [n, 5]));
  }, 60_000);
});
