// One corpus file through every path a user takes: onnxruntime-node and the
// interpreter on the same seeded inputs, then plans for sn40l and toy at -O0,
// -O1 and -O2, each checked legal, run as placed, and compared with both.
// Two sizes each: the sample (batch 2, 7 tokens) and batch 3, 16 tokens, so the
// dynamic dims really are dynamic (images and audio vary the batch only).

import { join } from "node:path";
import { expect } from "vitest";
import * as ort from "onnxruntime-node";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { loadModel } from "../../compiler/load.js";
import { compile } from "../../compiler/compile.js";
import { run } from "../../targets/reference/index.js";
import { executePlan } from "../../targets/runtime/index.js";
import { maxAbsError } from "../runtime/support.js";
import type { CorpusEntry } from "./support.js";
import { CORPUS_DIR, corpusInputs, vocabOf } from "./support.js";

export const TOLERANCE = 1e-4;
const SIZES = [[2, 7], [3, 16]] as const;
const TARGETS = ["sn40l", "toy"] as const;
const LEVELS = [0, 1, 2] as const;

function toOrt(t: Tensor): ort.Tensor {
  if (t.dtype === "i64") return new ort.Tensor("int64", t.data as BigInt64Array, [...t.dims]);
  if (t.dtype === "f32") return new ort.Tensor("float32", t.data as Float32Array, [...t.dims]);
  throw new Error(`no onnxruntime tensor for ${t.dtype}`);
}

function fromOrt(t: ort.Tensor): Tensor {
  const dims = t.dims.map(Number);
  if (t.type === "int64") return tensorFromValues("i64", dims, t.data as BigInt64Array);
  return tensorFromValues("f32", dims, t.data as Float32Array);
}

/** The largest error of each comparison for one file: the summary line. */
export async function checkCorpusFile(entry: CorpusEntry): Promise<string> {
  const path = join(CORPUS_DIR, entry.file);
  const { module } = await loadModel(path);
  const graph = mainGraph(module);
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const worst = { interpreter: 0, plans: 0 };
  try {
    for (const [batch, seq] of SIZES) {
      const inputs = corpusInputs(graph, vocabOf(entry), batch, seq, 20261206 + batch);
      const feeds = Object.fromEntries(Object.entries(inputs).map(([name, t]) => [name, toOrt(t)]));
      const fetched = await session.run(feeds);
      const reference = Object.fromEntries(graph.outputs.map((o) => [o, fromOrt(fetched[o]!)]));
      const ours = run(module, inputs, { modelDir: CORPUS_DIR }).outputs;
      const against = maxAbsError(reference, ours);
      expect(against, `${entry.file} at ${batch} x ${seq}: the interpreter against onnxruntime`).toBeLessThanOrEqual(TOLERANCE);
      worst.interpreter = Math.max(worst.interpreter, against);
      for (const target of TARGETS) {
        for (const opt of LEVELS) {
          const where = `${entry.file} at ${batch} x ${seq} on ${target} -O${opt}`;
          const { plan, graph: g, target: t } = await compile(path, { target, opt, batch, seq });
          const { outputs } = executePlan(plan, inputs, { graph: g, target: t, modelDir: CORPUS_DIR });
          const vsInterpreter = maxAbsError(ours, outputs), vsOrt = maxAbsError(reference, outputs);
          expect(vsInterpreter, `${where}: the plan against the interpreter`).toBeLessThanOrEqual(TOLERANCE);
          expect(vsOrt, `${where}: the plan against onnxruntime`).toBeLessThanOrEqual(TOLERANCE);
          worst.plans = Math.max(worst.plans, vsInterpreter, vsOrt);
        }
      }
    }
  } finally {
    await session.release();
  }
  return `  ${entry.file.padEnd(34)} interpreter ${worst.interpreter.toExponential(1)}   plans ${worst.plans.toExponential(1)}`;
}
