// A decoder that takes and returns its KV cache (a with-past export:
// past_key_values.<l>.key|value in, present.<l>.key|value out), here the
// Llama generator's with-past form with seeded weights. Its prefill and decode
// plans keep the cache as the plan's kv-cache tensors and run equal to
// onnxruntime-node on the same inputs; flags that contradict the cache are
// refused; and a plan that breaks the cache is refused by `verify`'s check and
// by the run in the same words.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { compile } from "../../compiler/compile.js";
import { formatReport } from "../../compiler/report.js";
import type { Plan } from "../../ir/placement/plan.js";
import { cachesOf } from "../../ir/dataflow/dataflow.js";
import { checkPlanLegality } from "../../ir/placement/legality.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor, tensorFromValues } from "../../ir/tensor.js";
import { executePlan, runPlacedPlan } from "../../targets/runtime/execute.js";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import type { Writable } from "./support.js";

const BATCH = 2, KV_HEADS = 2, HEAD_DIM = 16;
let dir: string, model: string, session: ort.InferenceSession;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-kv-io-"));
  model = join(dir, "model.onnx");
  writeLlama(model, LLAMA_PRESETS.tiny!, { past: true, writeWeights: true, seed: 5 });
  session = await ort.InferenceSession.create(model);
});

const count = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);
const i64 = (dims: number[], f: (i: number) => number) => new ort.Tensor("int64", BigInt64Array.from({ length: count(dims) }, (_, i) => BigInt(f(i))), dims);

/** One step's feeds: `seq` new tokens after `held` cached ones (the past, empty for a prefill). */
function feeds(seq: number, held: number, salt: number, pasts?: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  const f: Record<string, ort.Tensor> = {
    input_ids: i64([BATCH, seq], (i) => (i * 37 + salt) % 256),
    attention_mask: i64([BATCH, held + seq], () => 1),
    position_ids: i64([BATCH, seq], (i) => held + (i % seq)),
  };
  for (let l = 0; l < 2; l++) {
    for (const kv of ["key", "value"]) {
      f[`past_key_values.${l}.${kv}`] = pasts?.[`present.${l}.${kv}`] ?? new ort.Tensor("float32", new Float32Array(0), [BATCH, KV_HEADS, 0, HEAD_DIM]);
    }
  }
  return f;
}

const tensors = (f: Record<string, ort.Tensor>): Record<string, Tensor> => Object.fromEntries(Object.entries(f).map(([n, t]) =>
  [n, t.type === "int64" ? tensorFromValues("i64", [...t.dims], t.data as BigInt64Array) : makeTensor("f32", [...t.dims], t.data as Float32Array)]));

function worst(ours: Record<string, Tensor>, theirs: ort.InferenceSession.OnnxValueMapType): number {
  let w = 0;
  for (const [name, t] of Object.entries(theirs)) {
    const a = ours[name]!.data as Float32Array, b = t.data as Float32Array;
    expect(a.length, name).toBe(b.length);
    for (let i = 0; i < b.length; i++) w = Math.max(w, Math.abs(a[i]! - b[i]!));
  }
  return w;
}

describe("a with-past decoder's plans", () => {
  it.each([["sn40l", 2], ["toy", 1], ["h100", 0]] as const)("prefill and decode on %s at -O%d equal onnxruntime", async (target, opt) => {
    const prompt = feeds(5, 0, 1);
    const pre = await compile(model, { target, opt, phase: "prefill", batch: BATCH, seq: 5 });
    const run = (r: typeof pre, f: Record<string, ort.Tensor>) => executePlan(r.plan, tensors(f), { graph: r.graph, target: r.target, modelDir: dir }).outputs;
    expect(worst(run(pre, prompt), await session.run(prompt))).toBeLessThan(1e-5);
    // A decode step after 7 cached tokens, the past from onnxruntime's own prefill.
    const past = await session.run(feeds(7, 0, 3)) as Record<string, ort.Tensor>;
    const step = feeds(1, 7, 5, past);
    const dec = await compile(model, { target, opt, phase: "decode", batch: BATCH, seq: 7 });
    expect(worst(run(dec, step), await session.run(step))).toBeLessThan(1e-5);
  });

  it("keep the cache as the plan's kv-cache tensors: the present holds it, the past is its front, appended in place", async () => {
    const { plan } = await compile(model, { target: "sn40l", phase: "decode", batch: BATCH, seq: 7 });
    const caches = cachesOf(plan.dataflow);
    expect(caches.map((c) => c.present)).toEqual(["present.0.key", "present.0.value", "present.1.key", "present.1.value"]);
    const t = new Map(plan.dataflow.tensors.map((x) => [x.name, x]));
    for (const c of caches) {
      expect(t.get(c.present)).toMatchObject({ role: "kv-cache", shape: [BATCH, KV_HEADS, 8, HEAD_DIM], bytes: BATCH * KV_HEADS * 8 * HEAD_DIM * 4 });
      expect(t.get(c.past)).toMatchObject({ role: "kv-cache", shape: [BATCH, KV_HEADS, 7, HEAD_DIM], bytes: 0 });
      expect(plan.allocations.filter((a) => a.tensor === c.past)).toEqual([]);
      expect(plan.allocations.find((a) => a.tensor === c.present)).toMatchObject({ firstSection: 0, lastSection: plan.sections.length - 1 });
      // The append reads the new token's row only; the attention reads the whole cache.
      const append = plan.dataflow.kernels.find((k) => k.name === c.kernel)!;
      expect(Object.values(append.reads)).toEqual([BATCH * KV_HEADS * HEAD_DIM * 4]);
    }
    expect(plan.dataflow.inputs).toEqual(["input_ids", "attention_mask", "position_ids"]);
    expect(formatReport(plan, (await compile(model, { target: "sn40l", phase: "decode", batch: BATCH, seq: 7 })).target))
      .toMatch(/KV cache: 512 B per token of a request \(2 layers, the model's own cache inputs and outputs, appended in place\)/);
  });

  it("split by KV heads under tensor parallelism: a node-level prefill runs equal to onnxruntime, a node-level decode plan is for the cost model", async () => {
    const prompt = feeds(5, 0, 1);
    const pre = await compile(model, { target: "sn40l-node", phase: "prefill", batch: BATCH, seq: 5, parallel: "tp=2,pp=2,dp=1" });
    const out = executePlan(pre.plan, tensors(prompt), { graph: pre.graph, target: pre.target, modelDir: dir }).outputs;
    expect(worst(out, await session.run(prompt))).toBeLessThan(1e-5);
    const dec = await compile(model, { target: "sn40l-node", phase: "decode", batch: BATCH, seq: 7, parallel: "tp=2,dp=1" });
    const shards = dec.plan.parallel!.shards.filter((x) => x.tensor.startsWith("present.") || x.tensor.startsWith("past_key_values."));
    expect(shards).toHaveLength(8);
    expect(shards.every((x) => x.axis === 1 && x.parts === 2)).toBe(true);
    expect(() => checkPlanLegality(dec.plan, dec.target, dec.graph)).toThrow("the plan is a node-level decode plan: the runtime runs decode steps of single-socket plans (node-level decode plans are for the cost model)");
  });

  it("refuse flags that contradict the cache", async () => {
    await expect(compile(model, { target: "sn40l", phase: "decode", batch: 1, seq: 7, dims: new Map([["past_sequence", 3]]) }))
      .rejects.toThrow("--dim past_sequence=3: the KV cache holds 7 tokens (the context, --seq): leave the --dim out");
    await expect(compile(model, { target: "sn40l", phase: "prefill", batch: 1, seq: 7, dims: new Map([["past_sequence", 3]]) }))
      .rejects.toThrow("--dim past_sequence=3: the KV cache holds 0 tokens before a prefill: leave the --dim out");
  });
});

describe("a plan that breaks the cache is refused before and during the run, in the same words", () => {
  let good: Plan;
  let compiled: Awaited<ReturnType<typeof compile>>;
  beforeAll(async () => {
    compiled = await compile(model, { target: "sn40l", phase: "decode", batch: BATCH, seq: 7 });
    good = compiled.plan;
  });
  const copy = (p: Plan): Writable<Plan> => structuredClone(p) as Writable<Plan>;
  const refusals = async (p: Plan): Promise<[string, string]> => {
    const words = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        return (err as Error).message;
      }
      return "ran";
    };
    const past = await session.run(feeds(7, 0, 3)) as Record<string, ort.Tensor>;
    const inputs = tensors(feeds(1, 7, 5, past));
    const options = { graph: compiled.graph, target: compiled.target, modelDir: dir };
    return [words(() => checkPlanLegality(p, compiled.target, compiled.graph)), words(() => runPlacedPlan(p, inputs, options))];
  };

  it("a cache with no allocation", async () => {
    const p = copy(good);
    p.allocations = p.allocations.filter((a) => a.tensor !== "present.1.value");
    const [verify, run] = await refusals(p);
    expect(verify).toBe("filling the KV cache 'present.1.value' from 'past_key_values.1.value' appends to the KV cache 'present.1.value', but the plan gives the cache no allocation: a cache lives in a tier for the whole run");
    expect(run).toMatch(/present\.1\.value/);
  });

  it("a past given bytes of its own", async () => {
    const p = copy(good);
    const t = p.dataflow.tensors.findIndex((x) => x.name === "past_key_values.0.key");
    (p.dataflow.tensors as Writable<Plan["dataflow"]["tensors"][number]>[])[t] = { ...p.dataflow.tensors[t]!, bytes: 4 };
    const [verify, run] = await refusals(p);
    expect(verify).toBe("'past_key_values.0.key' is the front of the KV cache 'present.0.key' and has no bytes of its own, but the plan sizes it");
    expect(run).toBe(verify);
  });

  it("an append that reads another tensor", async () => {
    const p = copy(good);
    const c = cachesOf(good.dataflow)[0]!;
    const k = p.dataflow.kernels.findIndex((x) => x.name === c.kernel);
    const kernel = p.dataflow.kernels[k]!;
    (p.dataflow.kernels as Writable<Plan["dataflow"]["kernels"][number]>[])[k] = { ...kernel, inputs: [kernel.inputs[0]!, "position_ids"], reads: { position_ids: 16 } };
    const [verify, run] = await refusals(p);
    expect(verify).toMatch(new RegExp(`^kernel ${c.kernel} appends to the KV cache of node '.*' from \\('past_key_values.0.key', 'position_ids'\\), not from`));
    expect(run).toBe(verify);
  });
});
