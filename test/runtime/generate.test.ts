// Greedy generation through plans picks the same ids as onnxruntime-node
// running the same loop on the same ONNX file: for logits-only decoders the
// whole prefix each step (argmax of the last position's logits, an attention
// mask of ones where the model takes one); for a with-past decoder the prompt
// once with an empty cache and then one token a step, the presents fed back
// as the past, against tierflow's prefill plan once and decode plan per token.

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import { generateGreedy } from "../../compiler/generate.js";
import { openPlan } from "../../compiler/open-plan.js";
import { runCli } from "../support/cli.js";
import { MODELS_DIR } from "./support.js";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import { onnxruntimeCachedGreedy } from "../support/ort-greedy.js";

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
    const { ids: ours, how } = await generateGreedy(opened, PROMPT, TOKENS);
    expect(ours).toHaveLength(PROMPT.length + TOKENS);
    expect(ours).toEqual(await onnxruntimeGreedy(model, PROMPT, TOKENS));
    expect(how).toMatch(/no KV cache inputs: each of the 5 tokens re-ran the prefix/);
  });

  it("tierflow generate prints the prompt and the generated ids", async () => {
    const model = join(MODELS_DIR, "llama-tiny.torchscript.onnx");
    const r = runCli(["generate", await planFile(model, "toy", 2), "--model", model, "--prompt-ids", PROMPT.join(","), "--tokens", "3"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe((await onnxruntimeGreedy(model, PROMPT, 3)).join(","));
    expect(r.stderr.trim()).toMatch(/^generate: the model has no KV cache inputs/);
    const bad = runCli(["generate", await planFile(model, "toy", 2), "--model", model, "--prompt-ids", "1,x"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toMatch(/^tierflow: error: --prompt-ids '1,x' must be non-negative integers separated by commas$/);
  });
});

describe("a with-past decoder generates through its prefill plan once and its decode plan per token", () => {
  let model: string;
  beforeAll(() => {
    model = join(dir, "llama-past", "model.onnx");
    writeLlama(model, LLAMA_PRESETS.tiny!, { past: true, writeWeights: true, seed: 5 });
  });

  it.each([["sn40l", 2, 40], ["toy", 1, 34], ["h100", 0, 36]] as const)("on %s at -O%d from a decode plan of context %d", async (target, opt, context) => {
    const { plan } = await compile(model, { target, opt, phase: "decode", batch: 1, seq: context });
    const path = join(dir, `past-${target}-${opt}.json`);
    writeFileSync(path, planToJson(plan));
    const { ids, how } = await generateGreedy(await openPlan(path, { model }), PROMPT, 32);
    expect(ids).toEqual(await onnxruntimeCachedGreedy(model, PROMPT, 32));
    expect(how).toBe(`the model takes and returns its KV cache: a prefill plan compiled for the prompt ran once, the decode plan ran once per token after the first (31 steps), the cache kept in its arena`);
  });

  it("from a prefill plan, compiling the decode plan once; a decode plan too short is refused", async () => {
    const { plan } = await compile(model, { target: "sn40l", phase: "prefill", batch: 1, seq: PROMPT.length });
    const path = join(dir, "past-prefill.json");
    writeFileSync(path, planToJson(plan));
    const r = runCli(["generate", path, "--model", model, "--prompt-ids", PROMPT.join(","), "--tokens", "6"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe((await onnxruntimeCachedGreedy(model, PROMPT, 6)).join(","));
    expect(r.stderr.trim()).toBe("generate: the model takes and returns its KV cache: the prefill plan ran once, a decode plan compiled for a context of 8 ran once per token after the first (5 steps), the cache kept in its arena");
    const short = await compile(model, { target: "sn40l", phase: "decode", batch: 1, seq: 6 });
    writeFileSync(path, planToJson(short.plan));
    const refused = runCli(["generate", path, "--model", model, "--prompt-ids", PROMPT.join(","), "--tokens", "6"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe("tierflow: error: the decode plan holds a context of 6 tokens; a prompt of 4 and 6 new tokens need 8: compile it with --seq 8 or more");
  });
});
