// The ops tierflow defines by a decomposition (ir/graph/ops/expanded.ts):
// onnxruntime's contrib normalisations and activations and ONNX's
// RMSNormalization, each in a one-node model run by onnxruntime-node and by
// tierflow (import, expand-ops, the interpreter) on the same seeded inputs;
// the unsupported outputs and attributes refused by name; and the expansion
// fused back into the composites an exporter's graph gives.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { loadModel } from "../../compiler/load.js";
import { runPipeline } from "../../compiler/passes/pipeline.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import { run } from "../../targets/reference/index.js";
import { ONNX_FLOAT, floatTensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-expanded-"));
const MS = [{ domain: "com.microsoft", version: 1 }];

interface Case {
  readonly name: string;
  readonly op: string;
  readonly domain: string;
  readonly inputs: readonly (readonly [string, readonly number[]] | null)[];
  readonly outputs: readonly string[];
  readonly attrs?: Record<string, unknown>;
  readonly opset?: number;
  /** Inputs that are initializers (weights) rather than graph inputs. */
  readonly weights?: readonly string[];
}

const CASES: Case[] = [
  { name: "RMSNormalization over the last axis", op: "RMSNormalization", domain: "", opset: 23, inputs: [["x", [2, 5, 16]], ["w", [16]]], outputs: ["y"], attrs: { epsilon: 1e-5 }, weights: ["w"] },
  { name: "RMSNormalization over the last two axes", op: "RMSNormalization", domain: "", opset: 23, inputs: [["x", [2, 5, 16]], ["w", [5, 16]]], outputs: ["y"], attrs: { axis: -2 }, weights: ["w"] },
  { name: "SimplifiedLayerNormalization", op: "SimplifiedLayerNormalization", domain: "", inputs: [["x", [3, 4, 32]], ["w", [32]]], outputs: ["y"], attrs: { axis: -1, epsilon: 1e-6 }, weights: ["w"] },
  { name: "SkipSimplifiedLayerNormalization with its sum", op: "SkipSimplifiedLayerNormalization", domain: "com.microsoft", inputs: [["x", [2, 3, 16]], ["skip", [2, 3, 16]], ["w", [16]]], outputs: ["y", "", "", "s"], attrs: { epsilon: 1e-6 }, weights: ["w"] },
  { name: "SkipSimplifiedLayerNormalization with a bias", op: "SkipSimplifiedLayerNormalization", domain: "com.microsoft", inputs: [["x", [2, 3, 16]], ["skip", [2, 3, 16]], ["w", [16]], ["b", [16]]], outputs: ["y"], weights: ["w", "b"] },
  { name: "SkipLayerNormalization with beta, bias and the sum", op: "SkipLayerNormalization", domain: "com.microsoft", inputs: [["x", [2, 3, 16]], ["skip", [2, 3, 16]], ["g", [16]], ["beta", [16]], ["b", [16]]], outputs: ["y", "", "", "s"], attrs: { epsilon: 1e-5 }, weights: ["g", "beta", "b"] },
  { name: "SkipLayerNormalization without beta", op: "SkipLayerNormalization", domain: "com.microsoft", inputs: [["x", [4, 8]], ["skip", [4, 8]], ["g", [8]]], outputs: ["y"], weights: ["g"] },
  { name: "FastGelu with a bias", op: "FastGelu", domain: "com.microsoft", inputs: [["x", [2, 3, 24]], ["b", [24]]], outputs: ["y"], weights: ["b"] },
  { name: "FastGelu", op: "FastGelu", domain: "com.microsoft", inputs: [["x", [5, 7]]], outputs: ["y"] },
  { name: "BiasGelu", op: "BiasGelu", domain: "com.microsoft", inputs: [["x", [2, 3, 24]], ["b", [24]]], outputs: ["y"], weights: ["b"] },
  { name: "QuickGelu", op: "QuickGelu", domain: "com.microsoft", inputs: [["x", [3, 10]]], outputs: ["y"], attrs: { alpha: 1.5 } },
];

function values(n: number, seed: number): number[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, () => random() * 4 - 2);
}

function writeCase(c: Case): { path: string; feeds: Record<string, Tensor> } {
  const feeds: Record<string, Tensor> = {};
  const inputs = [], initializers = [];
  let seed = 3;
  for (const spec of c.inputs) {
    if (!spec) continue;
    const [name, dims] = spec;
    const data = values(dims.reduce((p, d) => p * d, 1), seed++);
    if (c.weights?.includes(name)) initializers.push(floatTensor(name, [...dims], data));
    else {
      inputs.push(valueInfo(name, ONNX_FLOAT, [...dims]));
      feeds[name] = tensorFromValues("f32", [...dims], data);
    }
  }
  const path = join(dir, `${c.name.replace(/\W+/g, "-")}.onnx`);
  writeModel(path, model({
    nodes: [node(c.op, c.inputs.map((i) => i?.[0] ?? ""), [...c.outputs], c.attrs ?? {}, "op", c.domain)],
    inputs, initializers, outputs: c.outputs.filter((o) => o !== ""), opset: c.opset ?? 18, extraOpsets: c.domain ? MS : [],
  }));
  return { path, feeds };
}

async function onnxruntime(path: string, feeds: Record<string, Tensor>): Promise<Record<string, Float32Array>> {
  const session = await ort.InferenceSession.create(path);
  try {
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, new ort.Tensor("float32", t.data as Float32Array, [...t.dims])])));
    return Object.fromEntries(Object.entries(out).map(([n, t]) => [n, t.data as Float32Array]));
  } finally {
    await session.release();
  }
}

describe("ops defined by their decomposition agree with onnxruntime", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => {
    const { path, feeds } = writeCase(c);
    const { module } = await loadModel(path);
    // Expanded on import: no node of the op is left.
    expect(mainGraph(module).nodes.some((n) => n.op === c.op)).toBe(false);
    const ours = run(module, feeds, { modelDir: dir }).outputs;
    const theirs = await onnxruntime(path, feeds);
    for (const name of c.outputs.filter((o) => o !== "")) {
      const a = ours[name]!.data as Float32Array, b = theirs[name]!;
      expect(a.length, name).toBe(b.length);
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
      expect(worst, `${c.name}: ${name}`).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe("what they cannot compute is refused by name", () => {
  const refusal = async (c: Case, pattern: RegExp) => {
    const { path } = writeCase(c);
    await expect(loadModel(path)).rejects.toThrow(pattern);
  };
  it("an output tierflow does not compute", async () => {
    await refusal({ name: "skip mean", op: "SkipLayerNormalization", domain: "com.microsoft", inputs: [["x", [4, 8]], ["skip", [4, 8]], ["g", [8]]], outputs: ["y", "mean"], weights: ["g"] },
      /SkipLayerNormalization's output 1 \('mean'\) is not supported; leave it unused/);
    await refusal({ name: "simplified inv std", op: "SimplifiedLayerNormalization", domain: "", inputs: [["x", [4, 8]], ["w", [8]]], outputs: ["y", "inv"], weights: ["w"] },
      /SimplifiedLayerNormalization's output 1 \('inv_std_var'\) is not supported/);
  });
  it("a statistics type other than float32, and a non-negative axis that is not the last", async () => {
    await refusal({ name: "stash", op: "RMSNormalization", domain: "", opset: 23, inputs: [["x", [4, 8]], ["w", [8]]], outputs: ["y"], attrs: { stash_type: 0 }, weights: ["w"] },
      /RMSNormalization with stash_type 0 is not supported/);
    await refusal({ name: "axis", op: "RMSNormalization", domain: "", opset: 23, inputs: [["x", [2, 4, 8]], ["w", [4, 8]]], outputs: ["y"], attrs: { axis: 1 }, weights: ["w"] },
      /RMSNormalization over axes 1\.\.2 given by a non-negative axis 1 is not supported: give the axis as -2/);
  });
  it("an attribute the op does not have", async () => {
    await refusal({ name: "attr", op: "FastGelu", domain: "com.microsoft", inputs: [["x", [4, 8]]], outputs: ["y"], attrs: { approximate: "none" } }, /FastGelu has no attribute 'approximate'/);
  });
});

describe("expanded ops fuse as an exporter's graph does", () => {
  it("SkipSimplifiedLayerNormalization becomes an Add and an RMSNorm, FastGelu a tanh Gelu", async () => {
    const path = join(dir, "block.onnx");
    writeModel(path, model({
      nodes: [
        node("SkipSimplifiedLayerNormalization", ["x", "skip", "w"], ["n", "", "", "s"], { epsilon: 1e-6 }, "norm", "com.microsoft"),
        node("FastGelu", ["n"], ["y"], {}, "act", "com.microsoft"),
      ],
      inputs: [valueInfo("x", ONNX_FLOAT, ["batch", 16]), valueInfo("skip", ONNX_FLOAT, ["batch", 16])],
      initializers: [floatTensor("w", [16], values(16, 9))], outputs: ["y", "s"], extraOpsets: MS,
    }));
    const { module } = await loadModel(path);
    const fused = runPipeline(module, "fuse-patterns,dce").module;
    const ops = mainGraph(fused).nodes.map((n) => n.op).sort();
    expect(ops).toEqual(["Add", "Gelu", "RMSNorm"]);
  });
});
