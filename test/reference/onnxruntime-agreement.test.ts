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
import { makeTensor } from "../../ir/tensor.js";
import { loadModel } from "../../compiler/load.js";
import { run } from "../../targets/reference/index.js";

const MODELS_DIR = join(import.meta.dirname, "..", "..", "examples", "models");
const TOLERANCE = 1e-4;
const BATCH = 2, SEQUENCE = 7, VOCAB = 512;

const files = [
  ...readdirSync(MODELS_DIR).filter((f) => f.endsWith(".onnx")).sort(),
  join("llama-tiny-external", "model.onnx"),
];

/** mulberry32: a small seeded generator, so every run feeds the same inputs. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Inputs by name: token ids below the vocabulary, a padded attention mask, normal pixels. */
function sampleInputs(names: readonly string[], seed: number): Record<string, Tensor> {
  const next = random(seed);
  const inputs: Record<string, Tensor> = {};
  for (const name of names) {
    if (name === "input_ids") {
      const t = makeTensor("i64", [BATCH, SEQUENCE]);
      const d = t.data as BigInt64Array;
      for (let i = 0; i < d.length; i++) d[i] = BigInt(Math.floor(next() * VOCAB));
      inputs[name] = t;
    } else if (name === "attention_mask") {
      // Row 2 is padded: its last two positions are masked out.
      const t = makeTensor("i64", [BATCH, SEQUENCE]);
      const d = t.data as BigInt64Array;
      for (let i = 0; i < d.length; i++) d[i] = i >= SEQUENCE && i % SEQUENCE >= SEQUENCE - 2 ? 0n : 1n;
      inputs[name] = t;
    } else if (name === "pixels") {
      const t = makeTensor("f32", [BATCH, 3, 64, 64]);
      const d = t.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
      inputs[name] = t;
    } else {
      throw new Error(`no sample input for '${name}'`);
    }
  }
  return inputs;
}

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
    const inputs = sampleInputs(graph.inputs, 20251122);
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
