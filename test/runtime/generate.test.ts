// Greedy generation through plans picks the same ids as onnxruntime-node
// running the same loop (the whole prefix each step, argmax of the last
// position's logits, an attention mask of ones where the model takes one) on
// the same ONNX file.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import { generateGreedy } from "../../targets/runtime/generate.js";
import { openPlan } from "../../targets/runtime/open.js";
import { runCli } from "../support/cli.js";
import { MODELS_DIR } from "./support.js";

const PROMPT = [17, 101, 5, 88]; // below every vocabulary here (the corpus has 128 ids)
const TOKENS = 5;
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-generate-"));
});

async function onnxruntimeGreedy(model: string, prompt: readonly number[], tokens: number): Promise<number[]> {
  const session = await ort.InferenceSession.create(model);
  try {
    const ids = [...prompt];
    for (let step = 0; step < tokens; step++) {
      const feeds = Object.fromEntries(session.inputNames.map((name) => {
        const values = name === "attention_mask" ? ids.map(() => 1) : ids;
        return [name, new ort.Tensor("int64", BigInt64Array.from(values, BigInt), [1, ids.length])];
      }));
      const out = await session.run(feeds);
      const logits = out[session.outputNames[0]!]!.data as Float32Array;
      const vocab = logits.length / ids.length, start = logits.length - vocab;
      let best = 0;
      for (let i = 1; i < vocab; i++) if (logits[start + i]! > logits[start + best]!) best = i;
      ids.push(best);
    }
    return ids;
  } finally {
    await session.release();
  }
}

async function planFile(model: string, target: string, opt: 0 | 1 | 2): Promise<string> {
  const { plan } = await compile(model, { target, opt, batch: 1, seq: PROMPT.length });
  const path = join(dir, `${target}-O${opt}-${model.split("/").pop()}.json`);
  writeFileSync(path, planToJson(plan));
  return path;
}

describe("greedy generation through plans matches onnxruntime", () => {
  it.each([
    ["llama-tiny.dynamo.onnx", "toy", 2],
    ["gpt2-tiny.torchscript.onnx", "sn40l", 0],
    ["mixtral-tiny.dynamo.onnx", "sn40l", 1],
    // Real exports that take an attention mask as well (all ones here).
    ["../corpus/qwen2.dynamo.onnx", "toy", 2],
    ["../corpus/gpt_neox.torchscript.onnx", "sn40l", 1],
  ] as const)("%s on %s at -O%d", async (file, target, opt) => {
    const model = join(MODELS_DIR, file);
    const opened = await openPlan(await planFile(model, target, opt), { model });
    const ours = await generateGreedy(opened, PROMPT, TOKENS);
    expect(ours).toHaveLength(PROMPT.length + TOKENS);
    expect(ours).toEqual(await onnxruntimeGreedy(model, PROMPT, TOKENS));
  });

  it("tierflow generate prints the prompt and the generated ids", async () => {
    const model = join(MODELS_DIR, "llama-tiny.torchscript.onnx");
    const r = runCli(["generate", await planFile(model, "toy", 2), "--model", model, "--prompt-ids", PROMPT.join(","), "--tokens", "3"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe((await onnxruntimeGreedy(model, PROMPT, 3)).join(","));
    const bad = runCli(["generate", await planFile(model, "toy", 2), "--model", model, "--prompt-ids", "1,x"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^tierflow: error: --prompt-ids '1,x' must be non-negative integers separated by commas$/);
  });
});
