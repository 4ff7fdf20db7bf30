// The deployed forms of a decoder (examples/deploy/, made by
// examples/export/export_deploy.py on the GPU machine): exports with past KV
// (both PyTorch exporters), opset 23 with ONNX Attention, RotaryEmbedding and
// RMSNormalization, onnxruntime's contrib-op fusions, int4 MatMulNBits and
// blocked int4 QDQ weights, float16, and an int8 QDQ BERT. For each decoder
// form: it inspects; decode plans on sn40l at -O2 and -O0 run equal to
// onnxruntime-node on a step after six cached tokens (batch 2); and generate
// picks onnxruntime-node's ids for 32 tokens (the prefill plan once, the
// decode plan per token against onnxruntime's loop with the presents fed back).
// The QDQ forms are compared with onnxruntime's graph optimisations off: on,
// it rewrites DequantizeLinear -> MatMul into MatMulNBits at accuracy level 4,
// which quantizes the activations to int8 as well (test/kernels/quant.test.ts
// measures that difference); off, it computes what the ONNX graph says.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { compile } from "../../compiler/compile.js";
import { loadModel } from "../../compiler/load.js";
import { summarize } from "../../compiler/analysis/summary.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor, tensorFromValues } from "../../ir/tensor.js";
import { executePlan } from "../../targets/runtime/execute.js";
import { generateGreedy } from "../../compiler/generate.js";
import { openPlan } from "../../compiler/open-plan.js";
import { planToJson } from "../../compiler/plan-json.js";
import { formatReport } from "../../compiler/report.js";
import { floatValues, onnxruntimeCachedGreedy } from "../support/ort-greedy.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";

export const DEPLOY_DIR = join(import.meta.dirname, "..", "..", "examples", "deploy");

interface DeployEntry {
  readonly file: string;
  readonly form: string;
  readonly architecture: string;
  readonly ops?: Readonly<Record<string, number>>;
}

const entries = (JSON.parse(readFileSync(join(DEPLOY_DIR, "deploy.json"), "utf8")) as { files: DeployEntry[] }).files.filter((e) => e.ops);
interface Form {
  /** Largest difference of a decode step from onnxruntime's, relative to max(1, |value|). */
  readonly tolerance: number;
  readonly ort?: ort.InferenceSession.SessionOptions;
}
const UNOPTIMIZED: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: "disabled" };
/**
 * The forms whose decoders tierflow takes. float16: about ten half-precision ulps (onnxruntime
 * computes in half precision in its own order; tierflow rounds each op's result to half).
 */
const DECODER_FORMS: Readonly<Record<string, Form>> = {
  "past.torchscript": { tolerance: 1e-4 }, "past.dynamo": { tolerance: 1e-4 }, f16: { tolerance: 1e-2 },
  opset23: { tolerance: 1e-4 }, contrib: { tolerance: 1e-4 }, int4: { tolerance: 1e-4 }, int4qdq: { tolerance: 1e-4, ort: UNOPTIMIZED },
};
const BATCH = 2, HELD = 6, PROMPT = [17, 101, 5, 88, 42], TOKENS = 32;

const i64 = (dims: number[], f: (i: number) => number) => new ort.Tensor("int64", BigInt64Array.from({ length: dims.reduce((p, d) => p * d, 1) }, (_, i) => BigInt(f(i))), dims);
const tensors = (f: Record<string, ort.Tensor>): Record<string, Tensor> => Object.fromEntries(Object.entries(f).map(([n, t]) =>
  [n, t.type === "int64" ? tensorFromValues("i64", [...t.dims], t.data as BigInt64Array) : makeTensor(t.type === "float16" ? "f16" : "f32", [...t.dims], floatValues(t))]));

const summary: string[] = [];
afterAll(() => console.log(`deployed forms, a decode step against onnxruntime and 32 generated tokens:\n${summary.join("\n")}`));

describe("deployed decoder forms: inspect, a decode plan equal to onnxruntime, generate equal to onnxruntime's ids", () => {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-deploy-"));
  it.each(entries.filter((e) => DECODER_FORMS[e.form] !== undefined).map((e) => [e.file, e] as const))("%s", async (file, entry) => {
    const model = join(DEPLOY_DIR, file);
    const { module } = await loadModel(model);
    expect(summarize(module).nodes).toBeGreaterThan(0);
    // A step after HELD cached tokens, the past from onnxruntime's own prefill.
    const form = DECODER_FORMS[entry.form]!;
    const session = await ort.InferenceSession.create(model, form.ort ?? {});
    const meta = session.inputMetadata as unknown as { name: string; type: string; shape: readonly (number | string)[] }[];
    const feeds = (seq: number, held: number, pasts?: ort.InferenceSession.OnnxValueMapType) => {
      const f: Record<string, ort.Tensor> = {
        input_ids: i64([BATCH, seq], (i) => (i * 37 + held) % 128), attention_mask: i64([BATCH, held + seq], () => 1), position_ids: i64([BATCH, seq], (i) => held + (i % seq)),
      };
      for (const m of meta) {
        if (!m.name.startsWith("past_key_values.")) continue;
        const empty = [BATCH, Number(m.shape[1]), 0, Number(m.shape[3])];
        f[m.name] = (pasts?.[m.name.replace("past_key_values.", "present.")] as ort.Tensor | undefined)
          ?? (m.type === "float16" ? new ort.Tensor("float16", new Uint16Array(0), empty) : new ort.Tensor("float32", new Float32Array(0), empty));
      }
      return f;
    };
    const step = feeds(1, HELD, await session.run(feeds(HELD, 0)));
    const want = await session.run(step);
    await session.release();
    // The fused plan, and the unfused baseline (-O0 decomposes what the import and fusion composed).
    let worst = 0, decode: Awaited<ReturnType<typeof compile>> | undefined;
    for (const opt of [2, 0] as const) {
      const compiled = await compile(model, { target: "sn40l", opt, phase: "decode", batch: BATCH, seq: HELD });
      decode ??= compiled;
      const got = executePlan(compiled.plan, tensors(step), { graph: compiled.graph, target: compiled.target, modelDir: DEPLOY_DIR }).outputs;
      for (const [name, t] of Object.entries(want)) {
        const a = got[name]!.data as Float32Array, b = floatValues(t as ort.Tensor);
        expect(a.length, name).toBe(b.length);
        for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
      }
    }
    expect(worst).toBeLessThanOrEqual(form.tolerance);
    // Generate from a decode plan with room for the prompt and the tokens.
    const plan = await compile(model, { target: "sn40l", opt: 2, phase: "decode", batch: 1, seq: PROMPT.length + TOKENS });
    const path = join(dir, `${file}.plan.json`);
    writeFileSync(path, planToJson(plan.plan));
    const { ids } = await generateGreedy(await openPlan(path, { model }), PROMPT, TOKENS);
    expect(ids).toEqual(await onnxruntimeCachedGreedy(model, PROMPT, TOKENS, form.ort ?? {}));
    const fused = Object.entries(decode!.plan.fusion).map(([op, n]) => `${op.replace(/^tierflow\./, "")} ${n}`).join(", ");
    summary.push(`  ${file.padEnd(32)} step ${worst.toExponential(1)}  ids equal (${TOKENS})  fused: ${fused}`);
  }, 120_000);
});

describe("the int8 QDQ BERT: a prefill plan equal to onnxruntime", () => {
  it("bert.qdq.onnx on sn40l at -O2 and toy at -O1", async () => {
    const model = join(DEPLOY_DIR, "bert.qdq.onnx");
    const feeds = { input_ids: i64([BATCH, 7], (i) => 3 + ((i * 29) % 120)), attention_mask: i64([BATCH, 7], (i) => (i % 7 < 6 || i < 7 ? 1 : 0)) };
    const session = await ort.InferenceSession.create(model, UNOPTIMIZED);
    const want = floatValues((await session.run(feeds)).last_hidden_state as ort.Tensor);
    await session.release();
    for (const [target, opt] of [["sn40l", 2], ["toy", 1]] as const) {
      const r = await compile(model, { target, opt, batch: BATCH, seq: 7 });
      expect(r.plan.fusion["tierflow.DequantMatMul"]).toBeGreaterThan(0);
      const got = executePlan(r.plan, tensors(feeds), { graph: r.graph, target: r.target, modelDir: DEPLOY_DIR }).outputs.last_hidden_state!.data as Float32Array;
      let worst = 0;
      for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
      summary.push(`  bert.qdq.onnx on ${target} -O${opt}: prefill ${worst.toExponential(1)}`);
      expect(worst).toBeLessThanOrEqual(1e-4);
    }
  }, 120_000);
});

describe("a plan's report says how its weights are stored", () => {
  const header = async (file: string, dtype?: "bf16") => {
    const r = await compile(join(DEPLOY_DIR, file), { target: "sn40l", opt: 2, phase: "decode", batch: 1, seq: 8, ...(dtype ? { dtype } : {}) });
    return formatReport(r.plan, r.target).split("\n")[0]!;
  };
  it("as the model stores them, and --dtype's re-typing as such", async () => {
    expect(await header("llama.f16.onnx")).toMatch(/, weights f16$/);
    expect(await header("llama.int4.onnx")).toMatch(/, weights f32, MatMulNBits blocks$/);
    expect(await header("llama.int4qdq.onnx")).toMatch(/, weights f32, u4$/);
    expect(await header("llama.past.dynamo.onnx")).toMatch(/, weights f32$/);
    expect(await header("llama.past.dynamo.onnx", "bf16")).toMatch(/, weights bf16 \(--dtype bf16: float data planned as bf16\)$/);
  });
});
