// Fusion on real exports: every example model, from both PyTorch exporters, is
// fused after the default pipeline; the fused composites are counted against
// what the model's configuration implies (2 layers each), and the original and
// fused graphs run through the reference interpreter on the same random inputs
// must agree to 1e-5. Llama-shaped graphs at real sizes (weights absent) are
// only fused and counted: every layer must fuse.

import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Graph, Module } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { verifyModule } from "../../ir/graph/verifier.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { COMPOSITE_DOMAIN } from "../../ir/graph/ops/decompose.js";
import { loadModel } from "../../compiler/load.js";
import { parseGraphText } from "../../compiler/parse-text.js";
import type { FusionCounts } from "../../compiler/passes/fuse-patterns.js";
import { formatFusionCounts, fusePatterns, fusionCountsOf } from "../../compiler/passes/fuse-patterns.js";
import { runPipeline } from "../../compiler/passes/pipeline.js";
import { run } from "../../targets/reference/index.js";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import { ROOT } from "../support/cli.js";

const MODELS = join(ROOT, "examples/models");

// Per model (2 layers each): Llama/Mixtral have 2 RMSNorms per layer plus the
// final one, rotary on q and k, one attention and one MLP per layer; BERT has 6
// biased linear layers per layer (q, k, v, attention output, intermediate,
// output); GPT-2's linear layers are Gemm already; MobileNet has nothing to fuse.
const EXPECTED: Record<string, Record<"torchscript" | "dynamo", Record<string, number>>> = {
  "llama-tiny": {
    torchscript: { RMSNorm: 5, SwiGLU: 2, Rotary: 4, Attention: 2 },
    dynamo: { RMSNorm: 5, SwiGLU: 2, Rotary: 4, Attention: 2 },
  },
  "mixtral-tiny": {
    torchscript: { RMSNorm: 5, Rotary: 4, Attention: 2, MoEGate: 2, MoEExperts: 2 },
    dynamo: { RMSNorm: 5, Rotary: 4, Attention: 2, MoEGate: 2, MoEExperts: 2 },
  },
  "gpt2-tiny": {
    torchscript: { "Gelu(tanh)": 2, Attention: 2 },
    dynamo: { "Gelu(tanh)": 2, Attention: 2 },
  },
  "bert-tiny": {
    // dynamo exports nn.GELU as ONNX Gelu already.
    torchscript: { "Gelu(erf)": 2, Attention: 2, MatMulBias: 12 },
    dynamo: { Attention: 2, MatMulBias: 12 },
  },
  "mobilenet-tiny": { torchscript: {}, dynamo: {} },
};

const nonZero = (counts: FusionCounts) => Object.fromEntries([...counts].filter(([, n]) => n > 0));

function histogram(graph: Graph, domain?: string): Record<string, number> {
  const h: Record<string, number> = {};
  for (const n of graph.nodes) if (domain === undefined || n.domain === domain) h[n.op] = (h[n.op] ?? 0) + 1;
  return h;
}

/** Deterministic inputs: token ids below the vocabulary (512), a padding mask, pixels in [-1, 1). */
function randomInputs(graph: Graph, batch: number, sequence: number, seed: number): Record<string, Tensor> {
  let state = seed;
  const next = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const inputs: Record<string, Tensor> = {};
  for (const name of graph.inputs) {
    const t = graph.types.get(name)!;
    const dims = t.shape!.map((d) => (typeof d === "number" ? d : d === "batch" ? batch : sequence));
    const n = dims.reduce((a, b) => a * b, 1);
    const values = Array.from({ length: n }, (_, i) => {
      if (t.dtype !== "i64") return next() * 2 - 1;
      // Later rows of the mask are padded at the end; every row keeps its first token.
      if (name === "attention_mask") return BigInt(i % sequence <= sequence - 1 - Math.floor(i / sequence) ? 1 : 0);
      return BigInt(Math.floor(next() * 512));
    });
    inputs[name] = tensorFromValues(t.dtype, dims, values);
  }
  return inputs;
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  expect(b.dims).toEqual(a.dims);
  let max = 0;
  for (let i = 0; i < a.data.length; i++) max = Math.max(max, Math.abs(Number(a.data[i]) - Number(b.data[i])));
  return max;
}

describe("fusion on the exported example models", () => {
  for (const [model, byExporter] of Object.entries(EXPECTED)) {
    for (const exporter of ["torchscript", "dynamo"] as const) {
      it(`${model}.${exporter}`, async () => {
        const { module } = await loadModel(join(MODELS, `${model}.${exporter}.onnx`));
        const { module: fused, counts } = fusePatterns(module);
        verifyModule(fused);
        expect(nonZero(counts)).toEqual(byExporter[exporter]);
        expect(fusionCountsOf(fused)).toBe(counts);
        // Each count is a composite in the graph (Gelu is ONNX's own op).
        const composites = histogram(mainGraph(fused), COMPOSITE_DOMAIN);
        expect(composites).toEqual(Object.fromEntries(Object.entries(byExporter[exporter]).filter(([name]) => !name.startsWith("Gelu"))));

        const cleaned = runPipeline(fused, "dce", { verifyEach: true }).module;
        for (const [batch, sequence] of [[2, 7], [3, 4]] as const) {
          const inputs = randomInputs(mainGraph(module), batch, sequence, batch * 31 + sequence);
          const expected = run(module, inputs, { modelDir: MODELS }).outputs;
          const actual = run(cleaned, inputs, { modelDir: MODELS }).outputs;
          for (const name of mainGraph(module).outputs) {
            expect(maxAbsDiff(expected[name]!, actual[name]!), `${name} at [${batch}, ${sequence}]`).toBeLessThanOrEqual(1e-5);
          }
        }
      });
    }
  }

  it("prints counts as onnxruntime's optimizer does", async () => {
    const { module } = await loadModel(join(MODELS, "llama-tiny.dynamo.onnx"));
    expect(formatFusionCounts(fusePatterns(module).counts)).toBe(
      ["RMSNorm fused: 5", "SwiGLU fused: 2", "Rotary fused: 4", "Attention fused: 2"].join("\n"));
    expect(formatFusionCounts(new Map([["RMSNorm", 0]]))).toBe("no patterns fused");
  });
});

describe("fusion on the pass tests' IR", () => {
  // The fuse-*.tfg files with every constant inline also run, so the CHECKed rewrites are
  // numerically checked too (LayerNorm and GELU included, which no example model decomposes).
  const dir = join(ROOT, "test/passes");
  const files = readdirSync(dir).filter((f) => /^fuse-.*\.tfg$/.test(f)).sort();
  for (const file of files) {
    const module = parseGraphText(readFileSync(join(dir, file), "utf8"), file);
    const hasWeights = [...mainGraph(module).constants.values()].some((c) => c.kind === "weight");
    it.skipIf(hasWeights)(file, () => {
      const fused = fusePatterns(module).module;
      const inputs = randomInputs(mainGraph(module), 1, 1, 7);
      const expected = run(module, inputs, { modelDir: dir }).outputs;
      const actual = run(fused, inputs, { modelDir: dir }).outputs;
      for (const name of mainGraph(module).outputs) expect(maxAbsDiff(expected[name]!, actual[name]!), name).toBeLessThanOrEqual(1e-5);
    });
  }
});

describe("fusion on Llama-shaped graphs at real sizes (weights absent)", () => {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-fusion-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const fuseGenerated = async (preset: string): Promise<{ module: Module; counts: FusionCounts }> => {
    const path = join(dir, preset, "model.onnx");
    writeLlama(path, LLAMA_PRESETS[preset]!);
    const { module } = await loadModel(path);
    return fusePatterns(module);
  };

  // What is left of a layer once it fuses: projections, head reshapes and residual Adds.
  const unfusedLayerOps = ["Softmax", "Pow", "ReduceMean", "Sqrt", "Div", "Sigmoid", "Neg", "Slice", "Expand"];

  for (const [preset, layers, groups] of [["llama-2-7b", 32, 1], ["llama-3.1-8b", 32, 4]] as const) {
    it(`${preset}: every one of its ${layers} layers fuses`, async () => {
      const { module, counts } = await fuseGenerated(preset);
      verifyModule(module);
      expect(nonZero(counts)).toEqual({ RMSNorm: 2 * layers + 1, SwiGLU: layers, Rotary: 2 * layers, Attention: layers });
      const graph = mainGraph(module);
      const left = histogram(graph);
      for (const op of unfusedLayerOps) expect(left[op] ?? 0, op).toBe(0);
      const attention = graph.nodes.filter((n) => n.op === "Attention");
      expect(attention.every((n) => (n.attrs.kv_groups?.value ?? 1) === groups)).toBe(true);
    });
  }
});
