// The reference backend against onnxruntime on every example model (both
// exporters, and the copy with external data): the same seeded random inputs
// go through tierflow (import, default pass pipeline, interpreter) and through
// onnxruntime-node, and every float output must agree within 1e-4. The largest
// difference per model is printed, so a drift shows before it fails.

import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { sampleInputs } from "../support/sample-inputs.js";
import { loadModel } from "../../compiler/load.js";
import { run } from "../../targets/reference/index.js";

const MODELS_DIR = join(import.meta.dirname, "..", "..", "examples", "models");
const TOLERANCE = 1e-4;
const BATCH = 2, SEQUENCE = 7;

const files = [
  ...readdirSync(MODELS_DIR).filter((f) => f.endsWith(".onnx")).sort(),
  join("llama-tiny-external", "model.onnx"),
];


function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === "i64") return new ort.Tensor("int64", t.data as BigInt64Array, [...t.dims]);
  if (t.dtype === "f32") return new ort.Tensor("float32", t.data as Float32Array, [...t.dims]);
  throw new Error(`no onnxruntime tensor for ${t.dtype}`);
}

const summary: string[] = [];
afterAll(() => {
  if (summary.length > 0) console.log(`tierflow vs onnxruntime, max abs error per model:\n${summary.join("\n")}`);
});

describe("the reference backend agrees with onnxruntime on the example models", () => {
  it.each(files)("%s", async (file) => {
    const path = join(MODELS_DIR, file);
    const { module } = await loadModel(path);
    const graph = mainGraph(module);
    const inputs = sampleInputs(graph.inputs, BATCH, SEQUENCE, 20251122);
    const ours = run(module, inputs, { modelDir: dirname(path) }).outputs;

    const session = await ort.InferenceSession.create(path);
    try {
      const feeds = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, toOrt(t)]));
      const theirs = await session.run(feeds);
      const errors: string[] = [];
      let worst = 0;
      for (const name of graph.outputs) {
        const want = theirs[name]!, got = ours[name]!;
        expect(want.type, name).toBe("float32");
        expect(got.dtype, name).toBe("f32");
        expect(got.dims, name).toEqual(want.dims.map(Number));
        const a = got.data as Float32Array, b = want.data as Float32Array;
        let max = 0;
        for (let i = 0; i < b.length; i++) {
          const d = Math.abs(a[i]! - b[i]!);
          if (!(d <= max)) max = d; // NaN counts as the largest error
        }
        errors.push(`${name} ${max.toExponential(2)}`);
        worst = Number.isNaN(max) || max > worst ? max : worst;
      }
      summary.push(`  ${file.padEnd(34)} ${errors.join(", ")}`);
      expect(worst, `${file}: ${errors.join(", ")}`).toBeLessThanOrEqual(TOLERANCE);
    } finally {
      await session.release();
    }
  });
});
