// Greedy text generation through plans, in one of two ways.
//
// A decoder that takes and returns its KV cache (a with-past export:
// past_key_values.* in, present.* out, tierflow.CacheAppend in the graph) runs
// the prefill plan once over the prompt and then its decode plan once per
// token. The decode plan's caches hold a fixed context (its --seq) plus the
// step's token; the session keeps them in their arena between steps, each
// step appending its token after the tokens held, and the attention mask hides
// the slots not yet filled (positions come from position_ids, which such a
// model must take). At most one plan is compiled, before the first token: the
// phase the given plan is not.
//
// A decoder without cache inputs (logits only) has no way to carry keys and
// values between steps: each step re-runs the whole growing prefix through a
// prefill plan for that length, the given plan where its length matches,
// otherwise one compiled from the same model with the same target, level,
// dtype and batch (a compile per step, tens of milliseconds for the examples),
// which computes what a KV-cached decode would, token for token.

import { mainGraph } from "../ir/graph/graph.js";
import type { Module } from "../ir/graph/graph.js";
import type { Plan } from "../ir/placement/plan.js";
import type { Tensor } from "../ir/tensor.js";
import { makeTensor } from "../ir/tensor.js";
import { fail } from "../ir/diagnostics.js";
import type { DType } from "../ir/dtype.js";
import { compile } from "./compile.js";
import { PlanSession, executePlan } from "../targets/runtime/execute.js";
import { cachesOf } from "../ir/dataflow/dataflow.js";
import { checkPlanLegality } from "../ir/placement/legality.js";
import { cachePast } from "./lower/bind.js";
import type { OpenedPlan } from "./open-plan.js";
import { COUNT, MODULE, arrayOf, checkArg, isObject } from "../ir/arguments.js";

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

/** How generate ran: the plans it used, in words for the user. */
export interface Generation {
  readonly ids: number[];
  readonly how: string;
}

/** Prompt followed by `tokens` greedily chosen ids. */
/** `onToken(done, total)`: called after each generated token (the command's progress line). */
export async function generateGreedy(opened: OpenedPlan, prompt: readonly number[], tokens: number,
  onToken: (done: number, total: number) => void = () => {}): Promise<Generation> {
  checkArg("generateGreedy", "opened", opened, { what: "an opened plan ({plan, graph, ...})", ok: (v) => isObject(v) && isObject(v.plan) && MODULE.ok(v.graph) });
  checkArg("generateGreedy", "prompt", prompt, arrayOf(COUNT));
  checkArg("generateGreedy", "tokens", tokens, COUNT);
  if (opened.plan.options.batch !== 1) fail(`generate runs one sequence: compile the plan with --batch 1 (it has batch ${opened.plan.options.batch})`);
  if (prompt.length === 0) fail("--prompt-ids is empty");
  if (cachePast(mainGraph(opened.graph))) return generateWithCache(opened, prompt, tokens, onToken);
  const graph = mainGraph(opened.graph);
  const ids2d = (name: string) => {
    const type = graph.types.get(name);
    return type?.dtype === "i64" && type.shape?.length === 2;
  };
  const tokenInputs = graph.inputs.filter((name) => !Object.hasOwn(FILLED, name));
  if (tokenInputs.length !== 1 || !graph.inputs.every(ids2d)) {
    fail(`generate needs a decoder whose inputs are int64 token ids [batch, sequence], and optionally attention_mask and position_ids of that shape; this model's inputs are: ${graph.inputs.join(", ") || "none"}`);
  }
  const ids = [...prompt];
  for (let step = 0; step < tokens; step++) {
    const { plan, graph: module } = await planFor(opened, ids.length);
    const { outputs } = executePlan(plan, decoderInputs(graph, ids), { graph: module, target: opened.target, modelDir: opened.modelDir });
    const logits = outputs[mainGraph(module).outputs[0]!]!;
    if (logits.dims.length !== 3 || logits.dims[1] !== ids.length) {
      fail(`generate needs logits [batch, sequence, vocabulary] as the first output; it is [${logits.dims.join(", ")}]`);
    }
    ids.push(argmaxLastRow(logits));
    onToken(step + 1, tokens);
  }
  return { ids, how: `the model has no KV cache inputs: each of the ${tokens} tokens re-ran the prefix through a prefill plan` };
}

/** An int64 [1, n] tensor. */
function row(values: readonly number[]): Tensor {
  const t = makeTensor("i64", [1, values.length]);
  (t.data as BigInt64Array).set(values.map(BigInt));
  return t;
}

/** The plan of `phase` with `seq`: the given one if it is that, else one compiled once with the same options. */
async function phasePlan(opened: OpenedPlan, phase: "prefill" | "decode", seq: number): Promise<{ plan: Plan; graph: Module; compiled: boolean }> {
  const p = opened.plan;
  if (p.options.phase === phase) return { plan: p, graph: opened.graph, compiled: false };
  const r = await compile(opened.modelPath, {
    target: opened.target, opt: p.options.opt, phase, batch: 1, seq,
    ...(p.options.dtype !== "f32" ? { dtype: p.options.dtype as DType } : {}),
  });
  return { plan: r.plan, graph: r.graph, compiled: true };
}

async function generateWithCache(opened: OpenedPlan, prompt: readonly number[], tokens: number, onToken: (done: number, total: number) => void): Promise<Generation> {
  const graph = mainGraph(opened.graph);
  for (const name of ["input_ids", "attention_mask", "position_ids"]) {
    if (!graph.inputs.includes(name)) {
      fail(`generate runs a with-past model's decode plan over a cache of fixed capacity, which needs the inputs input_ids, attention_mask and position_ids (positions must not come from the cache's length); this model has no '${name}'`);
    }
  }
  const cachePasts = new Set(cachePast(graph)!.inputs);
  const other = graph.inputs.filter((n) => !cachePasts.has(n) && !["input_ids", "attention_mask", "position_ids"].includes(n));
  if (other.length > 0) fail(`generate does not know what to give the input(s) ${other.map((n) => `'${n}'`).join(", ")}`);
  const ids = [...prompt];
  if (tokens === 0) return { ids, how: "no tokens asked for" };
  const given = opened.plan;
  // Steps after the first token append one each: the decode plan's context must hold all but the last.
  const context = given.options.phase === "decode" ? given.options.seq : prompt.length + tokens - 2;
  if (context < prompt.length + tokens - 2) {
    fail(`the decode plan holds a context of ${context} tokens; a prompt of ${prompt.length} and ${tokens} new tokens need ${prompt.length + tokens - 2}: compile it with --seq ${prompt.length + tokens - 2} or more`);
  }
  const prefill = await phasePlan(opened, "prefill", prompt.length);
  if (prefill.plan.options.seq !== prompt.length) {
    fail(`the prefill plan is for a prompt of ${prefill.plan.options.seq} tokens, the prompt has ${prompt.length}: compile it with --seq ${prompt.length}`);
  }
  const env = { target: opened.target, modelDir: opened.modelDir };
  const positions = (from: number, n: number) => row(Array.from({ length: n }, (_, i) => from + i));
  const first = executePlan(prefill.plan, { input_ids: row(ids), attention_mask: row(ids.map(() => 1)), position_ids: positions(0, ids.length) }, { ...env, graph: prefill.graph });
  const logitsName = graph.outputs[0]!;
  ids.push(argmaxLastRow(first.outputs[logitsName]!));
  onToken(1, tokens);
  const decode = await phasePlan(opened, "decode", context);
  if (tokens > 1) {
    checkPlanLegality(decode.plan, opened.target, decode.graph);
    const session = new PlanSession(decode.plan, { ...env, graph: decode.graph });
    for (const c of cachesOf(decode.plan.dataflow)) session.fillCache(c.present, first.outputs[c.present]!);
    const capacity = context + 1;
    for (let held = prompt.length; ids.length < prompt.length + tokens; held++) {
      // The cache's slots: the held tokens, this step's token, then unfilled slots the mask hides.
      const mask = Array.from({ length: capacity }, (_, i) => (i <= held ? 1 : 0));
      const step = session.run({ input_ids: row([ids[ids.length - 1]!]), attention_mask: row(mask), position_ids: positions(held, 1) }, { cacheTokens: held, outputs: [logitsName] });
      ids.push(argmaxLastRow(step.outputs[logitsName]!));
      onToken(ids.length - prompt.length, tokens);
    }
  }
  const plans = [prefill.compiled ? "a prefill plan compiled for the prompt" : "the prefill plan", decode.compiled ? `a decode plan compiled for a context of ${context}` : "the decode plan"];
  return { ids, how: `the model takes and returns its KV cache: ${plans[0]} ran once, ${plans[1]} ran once per token after the first (${Math.max(0, tokens - 1)} steps), the cache kept in its arena` };
}
