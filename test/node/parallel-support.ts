// Shared by the parallel-execution tests: the example models (two of them
// with their biases made non-zero, since the exported tiny models initialise
// every bias to 0 and a bias added once per socket instead of once would then
// go unseen), node-batch inputs, and each model's outputs from the graph
// interpreter and from the single-socket plan at the same batch.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import onnxProto from "onnx-proto";
import { compile } from "../../compiler/compile.js";
import { loadModel } from "../../compiler/load.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { run } from "../../targets/reference/index.js";
import { executePlan } from "../../targets/runtime/index.js";
import { MODELS_DIR, maxAbsError, sampleInputs } from "../runtime/support.js";

const { onnx } = onnxProto;
export const SEQUENCE = 6;
const dir = mkdtempSync(join(tmpdir(), "tierflow-parallel-"));

/** A copy of an example model whose 1-D float initializers (biases, norm weights) hold small non-zero values. */
export function withNonZeroBiases(file: string): string {
  const model = onnx.ModelProto.decode(readFileSync(join(MODELS_DIR, file)));
  model.graph!.initializer!.forEach((t, j) => {
    if (t.dims?.length !== 1 || t.dataType !== onnx.TensorProto.DataType.FLOAT || !t.rawData?.length) return;
    const values = Float32Array.from({ length: t.rawData.length / 4 }, (_, i) => 0.05 * (((i * 7 + j * 13) % 17) - 8) / 8 + 1 / 64);
    t.rawData = new Uint8Array(values.buffer);
  });
  const path = join(dir, file.replace(/\.onnx$/, ".biased.onnx"));
  writeFileSync(path, onnx.ModelProto.encode(model).finish());
  return path;
}

export interface Reference {
  readonly inputs: Record<string, Tensor>;
  /** The graph interpreter's outputs. */
  readonly interpreter: Record<string, Tensor>;
  /** The single-socket plan's outputs (the same target without --parallel). */
  readonly singleSocket: Record<string, Tensor>;
}

const references = new Map<string, Promise<Reference>>();

/** Inputs of `batch` rows and both references' outputs for them, computed once per model, target and batch. */
export function reference(path: string, target: string, batch: number): Promise<Reference> {
  const key = `${path} ${target} ${batch}`;
  if (!references.has(key)) {
    references.set(key, (async () => {
      const { module } = await loadModel(path);
      const inputs = sampleInputs(mainGraph(module).inputs, batch, SEQUENCE, 20251122);
      const interpreter = run(module, inputs, { modelDir: dirname(path) }).outputs;
      const single = await compile(path, { target, opt: 2, batch, seq: SEQUENCE });
      const singleSocket = executePlan(single.plan, inputs, { graph: single.graph, target: single.target, modelDir: dirname(path) }).outputs;
      return { inputs, interpreter, singleSocket };
    })());
  }
  return references.get(key)!;
}

export interface ParallelOutcome {
  readonly layout: string;
  readonly vsSingleSocket: number;
  readonly vsInterpreter: number;
}

/** Compile `parallel` at `batch` per replica, run it on the node batch, compare with both references. */
export async function runParallel(path: string, target: string, parallel: string, batch: number, options: { disaggregate?: string } = {}): Promise<ParallelOutcome> {
  const { plan, graph, target: t } = await compile(path, { target, opt: 2, batch, seq: SEQUENCE, ...(options.disaggregate ? { disaggregate: options.disaggregate } : { parallel }) });
  const l = plan.parallel!.layout;
  const ref = await reference(path, target, batch * l.dp);
  const { outputs } = executePlan(plan, ref.inputs, { graph, target: t, modelDir: dirname(path) });
  const layout = `tp=${l.tp},pp=${l.pp},ep=${l.ep},dp=${l.dp},mb=${l.microBatches}`;
  return { layout, vsSingleSocket: maxAbsError(ref.singleSocket, outputs), vsInterpreter: maxAbsError(ref.interpreter, outputs) };
}

export { MODELS_DIR };
