// Reports and the visualiser speak in the model's own terms: images for a CNN,
// tokens for language models; a KV cache only where the plan keeps one.

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { formatReport } from "../../compiler/report.js";
import { buildViewModel } from "../../compiler/viz/view-model.js";
import { ROOT } from "../support/cli.js";

const model = (name: string) => join(ROOT, "examples", "models", `${name}.dynamo.onnx`);

describe("the words of a report", () => {
  it.each([
    ["mobilenet-tiny", { batch: 4 }, /, batch of 4 images, /, / per batch, [\d.]+ images\/s/, /\(weights once at HBM bandwidth\)/, "images"],
    ["bert-tiny", { seq: 16 }, /, prefill, batch 1, prompt 16 tokens, /, / per prompt batch, [\d.]+ tokens\/s/, /\(weights once at HBM bandwidth\)/, "tokens"],
    ["llama-tiny", { seq: 16 }, /, prefill, batch 1, prompt 16 tokens, /, / per prompt batch, [\d.]+ tokens\/s/, /\(weights and KV cache once at HBM bandwidth\)/, "tokens"],
  ] as const)("%s", async (name, sizes, header, rate, floor, items) => {
    const r = await compile(model(name), { target: "sn40l", opt: 2, ...sizes });
    const report = formatReport(r.plan, r.target);
    expect(report).toMatch(header);
    expect(report).toMatch(rate);
    expect(report).toMatch(floor);
    expect(report.includes("KV cache:")).toBe(name === "llama-tiny");
    expect(buildViewModel(r.plan, r.target).words.items).toBe(items);
  });
});
