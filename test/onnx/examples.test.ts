// Real exported models (examples/models, from both PyTorch exporters) against
// what onnx and onnxruntime said about them when they were exported
// (examples/models/models.json): op histograms, interface, and the concrete
// output shapes onnxruntime produced, which symbolic shape inference must give
// once the dims are bound.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { importOnnxFile } from "../../compiler/onnx/import-file.js";
import { runPipeline, DEFAULT_PIPELINE } from "../../compiler/passes/pipeline.js";
import { printModule } from "../../ir/graph/printer.js";
import { parseGraphText } from "../../compiler/parse-text.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { evaluateDim } from "../../ir/symbolic.js";
import { ROOT } from "../support/cli.js";

interface ModelEntry {
  file: string;
  op_histogram: Record<string, number>;
  node_count: number;
  constant_node_count: number;
  initializer_count: number;
  inputs: { name: string; dtype: string; dims: (string | number)[] }[];
  outputs: { name: string; dtype: string; dims: (string | number)[] }[];
  ort_sample_input_shapes: Record<string, number[]>;
  ort_output_shapes: Record<string, number[]>;
  ort_other_sizes: { input_shapes: Record<string, number[]>; output_shapes: Record<string, number[]> }[];
}

const dir = join(ROOT, "examples/models");
const entries = JSON.parse(readFileSync(join(dir, "models.json"), "utf8")) as ModelEntry[];
const DTYPE: Record<string, string> = { float: "f32", int64: "i64", float32: "f32", bool: "bool" };

/** Bind symbols from concrete input shapes, the way a runtime would. */
function bindings(inputs: ModelEntry["inputs"], shapes: Record<string, number[]>): Map<string, number> {
  const out = new Map<string, number>();
  for (const input of inputs) {
    input.dims.forEach((d, i) => typeof d === "string" && out.set(d, shapes[input.name]![i]!));
  }
  return out;
}

describe("exported example models", () => {
  it("covers both exporters for every model", () => {
    expect(entries.filter((e) => e.file.endsWith(".torchscript.onnx")).length).toBe(5);
    expect(entries.filter((e) => e.file.endsWith(".dynamo.onnx")).length).toBe(5);
  });

  for (const entry of entries) {
    it(entry.file, () => {
      const imported = importOnnxFile(join(dir, entry.file));
      const g0 = mainGraph(imported);
      // Import keeps every node; Constant nodes become literal constants.
      const histogram: Record<string, number> = {};
      for (const n of g0.nodes) histogram[n.op] = (histogram[n.op] ?? 0) + 1;
      if (entry.constant_node_count > 0) histogram.Constant = entry.constant_node_count;
      expect(histogram).toEqual(entry.op_histogram);
      expect(g0.nodes.length + entry.constant_node_count).toBe(entry.node_count);
      expect(g0.constants.size).toBe(entry.initializer_count + entry.constant_node_count);

      const { module } = runPipeline(imported, DEFAULT_PIPELINE, { verifyEach: true });
      const g = mainGraph(module);
      for (const input of entry.inputs) {
        expect(g.types.get(input.name)).toEqual({ dtype: DTYPE[input.dtype], shape: input.dims });
      }
      // Every value ends with a known shape: no fresh symbols anywhere.
      for (const [name, t] of g.types) {
        expect(t.shape, name).not.toBeNull();
        expect(JSON.stringify(t.shape), name).not.toMatch(/unk__/);
      }
      const sizes = [{ input_shapes: entry.ort_sample_input_shapes, output_shapes: entry.ort_output_shapes }, ...entry.ort_other_sizes];
      for (const size of sizes) {
        const b = bindings(entry.inputs, size.input_shapes);
        for (const out of entry.outputs) {
          const shape = g.types.get(out.name)!.shape!.map((d) => evaluateDim(d, b));
          expect(shape, `${out.name} at ${JSON.stringify(size.input_shapes)}`).toEqual(size.output_shapes[out.name]);
        }
      }
      // Print -> parse -> print is identical, before and after the passes.
      for (const m of [imported, module]) {
        const text = printModule(m);
        expect(printModule(parseGraphText(text))).toBe(text);
      }
    });
  }
});
