// Compiling a CoE: one import and fusion per graph (compileModule gives the
// plans compile() gives, byte for byte), node-level targets take expert times
// from the node compiler's parallel plans, decode steps are compiled per batch,
// compile work does not grow with the number of experts, and the target comes
// from --target or the manifest.

import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile, compileModule, loadFused, modelSource } from "../../compiler/compile.js";
import { compileCoe } from "../../compiler/coe/compile-coe.js";
import { readManifest } from "../../compiler/coe/manifest.js";
import { decodeBatches, decodeStepSeconds } from "../../compiler/coe/decode-steps.js";
import { planToJson } from "../../compiler/plan-json.js";
import { ROOT, runCli } from "../support/cli.js";

const EXAMPLE = join(ROOT, "examples/coe");
const BASE = join(EXAMPLE, "base/model.onnx");

describe("compileModule", () => {
  it.each([
    ["prefill on sn40l", { target: "sn40l", phase: "prefill", batch: 1, seq: 16 }],
    ["decode on h100 at -O1", { target: "h100", phase: "decode", batch: 4, seq: 64, opt: 1 }],
    ["a parallel decode plan on sn40l-node", { target: "sn40l-node", phase: "decode", batch: 2, seq: 32, parallel: "tp=2,pp=2" }],
  ] as const)("gives compile()'s plan byte for byte: %s", async (_, options) => {
    const fused = await loadFused(BASE, options);
    const shared = compileModule(fused, modelSource(BASE), options);
    expect(planToJson(shared.plan)).toBe(planToJson((await compile(BASE, options)).plan));
  });
});

describe("decode steps per batch", () => {
  it("compiles powers of two up to the batch and interpolates between them", () => {
    expect(decodeBatches(8)).toEqual([1, 2, 4, 8]);
    expect(decodeBatches(6)).toEqual([1, 2, 4, 6]);
    expect(decodeBatches(1)).toEqual([1]);
    const steps = [{ batch: 1, seconds: 1 }, { batch: 2, seconds: 2 }, { batch: 4, seconds: 3 }, { batch: 8, seconds: 7 }];
    expect([1, 2, 3, 4, 6, 8].map((b) => decodeStepSeconds(steps, b))).toEqual([1, 2, 2.5, 3, 5, 7]);
  });
});

describe("compileCoe", () => {
  it("on a node target, expert times are the parallel plans' and decode is compiled per batch", async () => {
    const r = await compileCoe(readManifest(join(EXAMPLE, "coe.json")), { target: "sn40l-node", batch: 4, seq: 16, context: 32 });
    const g = r.plan.graphs[0]!;
    // 4 heads, 2 KV heads and 2 layers over 8 sockets: one replica, tensor-parallel in 4, two pipeline stages.
    expect(g.layout).toBe("tp=4,pp=2,dp=1");
    expect(g.decodeSteps.map((d) => d.batch)).toEqual([1, 2, 4]);
    const decode = r.plans.get("graphs/g0/decode.plan.json")!;
    const prefill = r.plans.get("graphs/g0/prefill.plan.json")!;
    expect(decode.parallel!.layout).toMatchObject({ tp: 4, pp: 2, dp: 1 });
    expect(g.decodeSeconds).toBe(decode.parallel!.prediction.stepSeconds);
    expect(g.decodeSteps[2]!.seconds).toBe(g.decodeSeconds);
    expect(g.prefillSeconds).toBe(prefill.parallel!.prediction.latencySeconds);
    // The router, a small classifier, runs on one socket: its plan's time, not divided.
    expect(r.plan.router.seconds).toBe(r.plans.get("router/plan.json")!.prediction.seconds);
  });

  it("on N single sockets, expert times are one socket's divided by N", async () => {
    const r = await compileCoe(readManifest(join(EXAMPLE, "coe.json")), { target: "sn40l", batch: 2, seq: 16, context: 32, sockets: 4 });
    const g = r.plan.graphs[0]!;
    expect(g.layout).toBeUndefined();
    expect(g.decodeSeconds).toBeCloseTo(r.plans.get("graphs/g0/decode.plan.json")!.prediction.seconds / 4, 15);
  });

  it("does the same compile work for 10 and 1000 experts of one graph", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-coe-many-"));
    cpSync(EXAMPLE, dir, { recursive: true });
    const work = async (n: number) => {
      const experts = Object.fromEntries(Array.from({ length: n }, (_, i) => [`e${i}`, { graph: "base/model.onnx", weights: `experts/e${i}.data` }]));
      const file = join(dir, `coe-${n}.json`);
      writeFileSync(file, JSON.stringify({ format: "tierflow-coe", router: { model: "router.onnx", routes: { 0: "e0" } }, experts, shared_graphs: { "base/model.onnx": { external_data_location: "model.onnx.data" } } }));
      const stages: string[] = [];
      const r = await compileCoe(readManifest(file), { target: "sn40l-node", batch: 2, seq: 16, context: 32, onStage: (s) => stages.push(s.replace(/\(\d+ experts\)/, "")) });
      return { stages, plans: [...r.plans.values()].map(planToJson), graphs: r.plan.graphs, experts: r.plan.experts.length };
    };
    const [few, many] = [await work(10), await work(1000)];
    expect(many.experts).toBe(1000);
    expect(many.stages).toEqual(few.stages);
    expect(many.graphs).toEqual(few.graphs);
    expect(many.plans).toEqual(few.plans);
  });
});

describe("the target", () => {
  it("comes from the manifest when --target is not given", () => {
    const out = mkdtempSync(join(tmpdir(), "tierflow-coe-target-"));
    const r = runCli(["compile", join(EXAMPLE, "coe.json"), "-o", out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^CoE on one sn40l-node node \(8 sockets\)/);
  });

  it("is a one-line error when neither --target nor the manifest gives one", () => {
    const dir = mkdtempSync(join(tmpdir(), "tierflow-coe-notarget-"));
    cpSync(EXAMPLE, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, "coe.json"), "utf8")) as Record<string, unknown>;
    delete manifest.target;
    writeFileSync(join(dir, "coe.json"), JSON.stringify(manifest));
    const r = runCli(["compile", join(dir, "coe.json"), "-o", join(dir, "out")]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/no target: give --target/);
    const model = runCli(["compile", BASE, "-o", join(dir, "out")]);
    expect(model.code).toBe(1);
    expect(model.stderr.trim()).toMatch(/^tierflow: error: no target: give one with --target/);
  });
});
