// The plan page's pipeline panel: every pass and stage a compile ran, in order, with the IR
// before and after each where the compile recorded it (--print-ir-after-all).

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { renderPlanHtml } from "../../compiler/viz/render.js";
import type { VizModel } from "../../compiler/viz/view-model.js";
import { ROOT } from "../support/cli.js";

const model = join(ROOT, "examples", "models", "llama-tiny.dynamo.onnx");

function viewOf(html: string): VizModel {
  const data = /<script type="application\/json" id="view-data">([\s\S]*?)<\/script>/.exec(html)![1]!;
  return JSON.parse(data) as VizModel;
}

describe("the pipeline panel", () => {
  it("lists the graph passes and every stage in the order they ran, each run's IR before being the one before's after", async () => {
    const result = await compile(model, { target: "sn40l", opt: 2, phase: "decode", seq: 64, recordIR: true });
    const view = viewOf(renderPlanHtml(result.plan, result.target, { passes: result.records }));
    const names = view.passes.map((p) => p.pass);
    expect(names).toEqual(result.records.map((r) => r.pass));
    for (const stage of ["fuse-patterns", "lower-to-dataflow", "verify-dataflow", "partition-sections", "allocate-units", "place-tensors", "cost", "verify-placement"]) {
      expect(names, stage).toContain(stage);
    }
    expect(names.indexOf("lower-to-dataflow")).toBeLessThan(names.indexOf("partition-sections"));
    expect(names.indexOf("place-tensors")).toBeLessThan(names.indexOf("cost"));
    for (let i = 1; i < view.passes.length; i++) {
      if (view.passes[i]!.after === undefined) continue;
      expect(view.passes[i]!.before).toBe(view.passes[i - 1]!.after);
    }
    expect(view.passes.find((p) => p.pass === "lower-to-dataflow")!.after).toMatch(/kernel/);
  });

  it("without recorded IR lists the runs only, with no times, so the page is the same for the same input", async () => {
    const result = await compile(model, { target: "sn40l", opt: 2, phase: "decode", seq: 64 });
    const view = viewOf(renderPlanHtml(result.plan, result.target, { passes: result.records }));
    expect(view.passes.length).toBe(result.records.length);
    expect(view.passes.every((p) => Object.keys(p).join() === "pass")).toBe(true);
    expect(viewOf(renderPlanHtml(result.plan, result.target)).passes).toEqual([]);
  });
});
