// Greedy text generation through plans. The example decoders take only token
// ids (no KV-cache inputs or outputs), and a plan binds the sequence length,
// so each step re-runs the whole growing prefix through a prefill plan for
// that length: the given plan where its length matches, otherwise a plan
// compiled from the same model with the same target, level, dtype and batch.
// This costs a compile per step (tens of milliseconds for the examples) and
// computes what a KV-cached decode would, token for token.

import { mainGraph } from "../../ir/graph/graph.js";
import type { Module } from "../../ir/graph/graph.js";
import type { Plan } from "../../ir/placement/plan.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";
import { fail } from "../../ir/diagnostics.js";
import type { DType } from "../../ir/dtype.js";
import { compile } from "../../compiler/compile.js";
import { executePlan } from "./execute.js";
import type { OpenedPlan } from "./open.js";

/** Index of the largest of the last row's values (the first on ties, as numpy's argmax). */
export function argmaxLastRow(logits: Tensor): number {
  const vocab = logits.dims[logits.dims.length - 1]!;
  const data = logits.data as Float32Array;
  const start = data.length - vocab;
  let best = 0;
  for (let i = 1; i < vocab; i++) if (data[start + i]! > data[start + best]!) best = i;
  return best;
}

/** The given plan when it fits `length`, else a prefill plan for `length` compiled with the same options. */
async function planFor(opened: OpenedPlan, length: number): Promise<{ plan: Plan; graph: Module }> {
  const p = opened.plan;
  if (p.options.phase === "prefill" && p.options.seq === length) return { plan: p, graph: opened.graph };
  const r = await compile(opened.modelPath, {
    target: opened.target, opt: p.options.opt, phase: "prefill", batch: 1, seq: length,
    ...(p.options.dtype !== "f32" ? { dtype: p.options.dtype as DType } : {}),
  });
  return { plan: r.plan, graph: r.graph };
}

/** Prompt followed by `tokens` greedily chosen ids. */
export async function generateGreedy(opened: OpenedPlan, prompt: readonly number[], tokens: number): Promise<number[]> {
  const graph = mainGraph(opened.graph);
  const input = graph.inputs[0];
  const type = input !== undefined ? graph.types.get(input) : undefined;
  if (graph.inputs.length !== 1 || !type || type.dtype !== "i64" || type.shape?.length !== 2) {
    fail(`generate needs a decoder whose one input is int64 token ids [batch, sequence]; this model's inputs are: ${graph.inputs.join(", ") || "none"}`);
  }
  if (opened.plan.options.batch !== 1) fail(`generate runs one sequence: compile the plan with --batch 1 (it has batch ${opened.plan.options.batch})`);
  if (prompt.length === 0) fail("--prompt-ids is empty");
  const ids = [...prompt];
  for (let step = 0; step < tokens; step++) {
    const { plan, graph: module } = await planFor(opened, ids.length);
    const tokensIn = makeTensor("i64", [1, ids.length]);
    ids.forEach((id, i) => { (tokensIn.data as BigInt64Array)[i] = BigInt(id); });
    const { outputs } = executePlan(plan, { [input!]: tokensIn }, { graph: module, target: opened.target, modelDir: opened.modelDir });
    const logits = outputs[mainGraph(module).outputs[0]!]!;
    if (logits.dims.length !== 3 || logits.dims[1] !== ids.length) {
      fail(`generate needs logits [batch, sequence, vocabulary] as the first output; it is [${logits.dims.join(", ")}]`);
    }
    ids.push(argmaxLastRow(logits));
  }
  return ids;
}
