// Greedy text generation through plans. The decoders take token ids, and
// maybe an attention mask (all ones: nothing is padding) and position ids
// (0, 1, 2, ...), but no KV-cache inputs or outputs; a plan binds the sequence length,
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

/** Inputs generate fills besides the token ids, by name: what each holds for a sequence of `n` tokens. */
const FILLED: Readonly<Record<string, (n: number) => bigint[]>> = {
  attention_mask: (n) => new Array<bigint>(n).fill(1n),
  position_ids: (n) => Array.from({ length: n }, (_, i) => BigInt(i)),
};

/** The decoder's inputs for one sequence of ids: the token ids, and the mask and positions it takes. */
function decoderInputs(graph: ReturnType<typeof mainGraph>, ids: readonly number[]): Record<string, Tensor> {
  const inputs: Record<string, Tensor> = {};
  for (const name of graph.inputs) {
    const t = makeTensor("i64", [1, ids.length]);
    const values = FILLED[name]?.(ids.length) ?? ids.map(BigInt);
    (t.data as BigInt64Array).set(values);
    inputs[name] = t;
  }
  return inputs;
}

/** Prompt followed by `tokens` greedily chosen ids. */
export async function generateGreedy(opened: OpenedPlan, prompt: readonly number[], tokens: number): Promise<number[]> {
  const graph = mainGraph(opened.graph);
  const ids2d = (name: string) => {
    const type = graph.types.get(name);
    return type?.dtype === "i64" && type.shape?.length === 2;
  };
  const tokenInputs = graph.inputs.filter((name) => !Object.hasOwn(FILLED, name));
  if (tokenInputs.length !== 1 || !graph.inputs.every(ids2d)) {
    fail(`generate needs a decoder whose inputs are int64 token ids [batch, sequence], and optionally attention_mask and position_ids of that shape; this model's inputs are: ${graph.inputs.join(", ") || "none"}`);
  }
  if (opened.plan.options.batch !== 1) fail(`generate runs one sequence: compile the plan with --batch 1 (it has batch ${opened.plan.options.batch})`);
  if (prompt.length === 0) fail("--prompt-ids is empty");
  const ids = [...prompt];
  for (let step = 0; step < tokens; step++) {
    const { plan, graph: module } = await planFor(opened, ids.length);
    const { outputs } = executePlan(plan, decoderInputs(graph, ids), { graph: module, target: opened.target, modelDir: opened.modelDir });
    const logits = outputs[mainGraph(module).outputs[0]!]!;
    if (logits.dims.length !== 3 || logits.dims[1] !== ids.length) {
      fail(`generate needs logits [batch, sequence, vocabulary] as the first output; it is [${logits.dims.join(", ")}]`);
    }
    ids.push(argmaxLastRow(logits));
  }
  return ids;
}
