// A decoder whose weights are stored as bfloat16 and which computes in
// bfloat16 (as a PyTorch model in bf16 exports; RMSNorm statistics in float32),
// written by examples/generate/llama-onnx.ts with random weights. onnxruntime's
// CPU provider has no bfloat16 kernels, so the reference is onnxruntime-node on
// the same graph in float32 whose weights hold the same values (each float32
// weight rounded to bfloat16): the two differ by bfloat16's rounding of each
// op's result, which bounds the step's difference (BF16_TOLERANCE, about one
// bf16 ulp of a logit near 1; measured 1.4e-3), and the greedy ids agree.
// The plan holds the weights at their stored bytes: half the float32 plan's.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Plan } from "../../ir/placement/plan.js";
import { makeTensor, tensorFromValues } from "../../ir/tensor.js";
import type { Tensor } from "../../ir/tensor.js";
import { executePlan } from "../../targets/runtime/execute.js";
import { generateGreedy } from "../../compiler/generate.js";
import { openPlan } from "../../compiler/open-plan.js";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import { onnxruntimeCachedGreedy } from "../support/ort-greedy.js";

const BF16_TOLERANCE = 1e-2, BATCH = 2, HELD = 6, PROMPT = [17, 101, 5, 88, 42], TOKENS = 32;
let dir: string, bf16Model: string, f32Model: string;

/** float32 bits rounded to the nearest bfloat16 (ties to even), as float32 bits. */
const toBf16 = (bits: number) => (((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16) << 16) >>> 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-bf16-"));
  bf16Model = join(dir, "bf16", "model.onnx");
  f32Model = join(dir, "f32", "model.onnx");
  writeLlama(bf16Model, { ...LLAMA_PRESETS.tiny!, weightType: 16 }, { past: true, writeWeights: true, seed: 5 });
  writeLlama(f32Model, LLAMA_PRESETS.tiny!, { past: true, writeWeights: true, seed: 5 });
  const data = readFileSync(`${f32Model}.data`);
  const words = new Uint32Array(data.buffer, data.byteOffset, data.byteLength / 4);
  for (let i = 0; i < words.length; i++) words[i] = toBf16(words[i]!);
  writeFileSync(`${f32Model}.data`, data);
});

const weightBytes = (p: Plan) => p.dataflow.tensors.filter((t) => t.role === "weight").reduce((s, t) => s + t.bytes, 0);
const i64 = (dims: number[], f: (i: number) => number) => new ort.Tensor("int64", BigInt64Array.from({ length: dims.reduce((p, d) => p * d, 1) }, (_, i) => BigInt(f(i))), dims);

describe("bfloat16 weights", () => {
  it("are planned at their stored bytes, half of float32's", async () => {
    const [bf16, f32] = await Promise.all([bf16Model, f32Model].map((m) => compile(m, { target: "sn40l", opt: 2, phase: "decode", batch: 1, seq: 64 })));
    expect(bf16!.plan.dataflow.tensors.filter((t) => t.role === "weight").every((t) => t.dtype === "bf16")).toBe(true);
    expect(weightBytes(bf16!.plan) * 2).toBe(weightBytes(f32!.plan));
  });

  it(`run a decode step within ${BF16_TOLERANCE} of onnxruntime on the same values in float32, and generate its ids`, async () => {
    const session = await ort.InferenceSession.create(f32Model);
    const feeds = (seq: number, held: number, pasts?: ort.InferenceSession.OnnxValueMapType) => {
      const f: Record<string, ort.Tensor> = {
        input_ids: i64([BATCH, seq], (i) => (i * 37 + held) % 256), attention_mask: i64([BATCH, held + seq], () => 1), position_ids: i64([BATCH, seq], (i) => held + (i % seq)),
      };
      for (let l = 0; l < 2; l++) for (const kv of ["key", "value"]) {
        f[`past_key_values.${l}.${kv}`] = (pasts?.[`present.${l}.${kv}`] as ort.Tensor | undefined) ?? new ort.Tensor("float32", new Float32Array(0), [BATCH, 2, 0, 16]);
      }
      return f;
    };
    const step = feeds(1, HELD, await session.run(feeds(HELD, 0)));
    const want = await session.run(step);
    await session.release();
    const decode = await compile(bf16Model, { target: "sn40l", opt: 2, phase: "decode", batch: BATCH, seq: HELD });
    const pastType = (name: string) => mainGraph(decode.graph).types.get(name)?.dtype ?? "f32";
    const inputs: Record<string, Tensor> = Object.fromEntries(Object.entries(step).map(([n, t]) =>
      [n, t.type === "int64" ? tensorFromValues("i64", [...t.dims], t.data as BigInt64Array) : makeTensor(pastType(n), [...t.dims], Float32Array.from(t.data as Float32Array))]));
    const got = executePlan(decode.plan, inputs, { graph: decode.graph, target: decode.target, modelDir: join(dir, "bf16") }).outputs;
    let worst = 0;
    for (const [name, t] of Object.entries(want)) {
      const a = got[name]!.data as Float32Array, b = t.data as Float32Array;
      expect(a.length, name).toBe(b.length);
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
    }
    console.log(`bf16 weights: decode step ${worst.toExponential(1)} from onnxruntime in float32 on the same values`);
    expect(worst).toBeLessThanOrEqual(BF16_TOLERANCE);
    expect(worst).toBeGreaterThan(0); // bfloat16 arithmetic, not float32 in disguise
    const plan = await compile(bf16Model, { target: "sn40l", opt: 2, phase: "decode", batch: 1, seq: PROMPT.length + TOKENS });
    const path = join(dir, "plan.json");
    writeFileSync(path, planToJson(plan.plan));
    const { ids } = await generateGreedy(await openPlan(path, { model: bf16Model }), PROMPT, TOKENS);
    expect(ids).toEqual(await onnxruntimeCachedGreedy(f32Model, PROMPT, TOKENS));
  }, 120_000);
});
