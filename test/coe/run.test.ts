// The example CoE end to end: compile the manifest, route each reference
// prompt with the router's plan, generate with the chosen expert's plan on the
// runtime, and compare with onnxruntime (examples/coe/reference.json) and with
// the expert compiled and run alone (the base graph beside its weights file).

import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { CoeRunner } from "../../compiler/coe/run-coe.js";
import { readCoePlan } from "../../compiler/coe/write.js";
import type { CoePlan } from "../../compiler/coe/compile-coe.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { makeTensor } from "../../ir/tensor.js";
import { executePlan } from "../../targets/runtime/execute.js";
import { ROOT, runCli } from "../support/cli.js";

interface Reference {
  prompts: number[][];
  router: { argmax: number; expert: string; logits: number[] }[];
  experts: Record<string, { greedy: number[] }[]>;
  routed: { expert: string; greedy: number[] }[];
}

const EXAMPLE = join(ROOT, "examples/coe");
const ref = JSON.parse(readFileSync(join(EXAMPLE, "reference.json"), "utf8")) as Reference;
const out = mkdtempSync(join(tmpdir(), "tierflow-coe-run-"));
let plan: CoePlan;
let runner: CoeRunner;

beforeAll(() => {
  const r = runCli(["compile", join(EXAMPLE, "coe.json"), "-t", "sn40l", "-o", out, "-q"]);
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  plan = readCoePlan(out);
  runner = CoeRunner.open(plan);
});

describe("example CoE", () => {
  it("compiles the shared base graph once for three experts", () => {
    expect(plan.graphs.map((g) => g.file)).toEqual(["base/model.onnx", "experts/story.onnx"]);
    expect(plan.experts.filter((e) => e.graph === "g0").map((e) => [e.name, e.weights, e.weightsFileBytes]))
      .toEqual([["math", "experts/math.data", 558336], ["code", "experts/code.data", 558336], ["chat", "experts/chat.data", 558336]]);
  });

  it("routes every prompt as onnxruntime does", async () => {
    for (const [i, prompt] of ref.prompts.entries()) {
      const { expert, logits } = await runner.route(prompt);
      expect(expert).toBe(ref.router[i]!.expert);
      logits.forEach((v, k) => expect(v).toBeCloseTo(ref.router[i]!.logits[k]!, 4));
    }
  });

  it("generates each routed request's greedy tokens", async () => {
    for (const [i, prompt] of ref.prompts.entries()) {
      const r = await runner.run(prompt, 3);
      expect(r.expert).toBe(ref.routed[i]!.expert);
      expect(r.ids.slice(prompt.length)).toEqual(ref.routed[i]!.greedy);
    }
  });

  it("story (its own graph) matches onnxruntime too", async () => {
    const ids = await runner.generate("story", ref.prompts[0]!, 3);
    expect(ids.slice(ref.prompts[0]!.length)).toEqual(ref.experts.story![0]!.greedy);
  });

  it("an expert's output equals running that expert alone", async () => {
    const alone = mkdtempSync(join(tmpdir(), "tierflow-coe-alone-"));
    copyFileSync(join(EXAMPLE, "base/model.onnx"), join(alone, "model.onnx"));
    copyFileSync(join(EXAMPLE, "experts/math.data"), join(alone, "model.onnx.data"));
    const prompt = ref.prompts[1]!;
    const r = await compile(join(alone, "model.onnx"), { target: "sn40l", phase: "prefill", batch: 1, seq: prompt.length });
    const input = makeTensor("i64", [1, prompt.length]);
    prompt.forEach((id, i) => { (input.data as BigInt64Array)[i] = BigInt(id); });
    const g = mainGraph(r.graph);
    const expected = executePlan(r.plan, { [g.inputs[0]!]: input }, { graph: r.graph, target: r.target, modelDir: alone }).outputs[g.outputs[0]!]!;
    const got = await runner.expertLogits("math", prompt);
    expect(Array.from(got.data as Float32Array)).toEqual(Array.from(expected.data as Float32Array));
  });

  it("`tierflow run OUT/ --request` prints the route and the tokens", () => {
    const r = runCli(["run", out, "--request", ref.prompts[2]!.join(","), "--tokens", "2"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`-> ${ref.routed[2]!.expert}: \\[${ref.routed[2]!.greedy.slice(0, 2).join(", ")}\\]`));
  });

  it("`tierflow simulate` routes a trace of prompt ids and reports", () => {
    const trace = join(out, "requests.jsonl");
    writeFileSync(trace, `${ref.prompts.map((p, i) => JSON.stringify({ arrival: i * 0.01, prompt_ids: p, output_tokens: 4 })).join("\n")}\n`);
    const r = runCli(["simulate", out, "--trace", trace, "--policy", "lru"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/policy lru: 4 requests/);
  });

  it("`tierflow simulate --sweep-experts` prints a row per count", () => {
    const r = runCli(["simulate", out, "--sweep-experts", "1..10", "--requests", "50"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim().split("\n").slice(1).map((l) => Number(l.trim().split(/\s+/)[0]))).toEqual([1, 2, 5, 10]);
  });

  it("a bad manifest is a one-line diagnostic", () => {
    const r = runCli(["compile", join(ROOT, "package.json"), "-t", "sn40l", "-o", out]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
  });
});

