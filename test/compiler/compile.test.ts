// The compile step end to end on small models and the toy target, where
// models outgrow HBM: sections, DDR spills, the placement verifier, and
// determinism.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { planToJson, readPlan } from "../../compiler/plan-json.js";
import { LLAMA_PRESETS, llamaModel, writeLlama } from "../../examples/generate/llama-onnx.js";
import { encodeModel } from "../../compiler/onnx/proto.js";
import { loadTarget } from "../../targets/target.js";
import type { Plan } from "../../ir/placement/plan.js";
import { PLAN_VERSION } from "../../ir/placement/plan.js";
import { runCli, ROOT } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-compile-"));
const llama = join(ROOT, "examples/models/llama-tiny.torchscript.onnx");

describe("compile", () => {
  it("a model larger than the toy target's HBM compiles with several sections and DDR spills", async () => {
    const { plan } = await compile(llama, { target: "toy", opt: 0, phase: "prefill", batch: 1, seq: 8 });
    const toy = loadTarget("toy");
    expect(plan.sections.length).toBeGreaterThan(10);
    const weightBytes = plan.dataflow.tensors.filter((t) => t.role === "weight").reduce((s, t) => s + t.bytes, 0);
    expect(weightBytes).toBeGreaterThan(toy.hbm.bytes);
    expect(plan.allocations.some((a) => a.tier === "ddr")).toBe(true);
    expect(plan.occupancy.hbm).toBeLessThanOrEqual(toy.hbm.bytes);
    expect(plan.sections.some((s) => s.cost.ddrBytes > 0)).toBe(true);
  });

  it("is deterministic: the same input gives byte-identical plans", async () => {
    const a = planToJson((await compile(llama, { target: "toy", opt: 0, phase: "decode", batch: 2, seq: 16 })).plan);
    const b = planToJson((await compile(llama, { target: "toy", opt: 0, phase: "decode", batch: 2, seq: 16 })).plan);
    expect(a).toBe(b);
  });

  it("rejects a hand-edited plan that overfills a tier, naming tier, tensor and bytes", async () => {
    const { plan } = await compile(llama, { target: "sn40l", opt: 0, phase: "prefill", batch: 1, seq: 8 });
    const file = join(dir, "plan.json");
    writeFileSync(file, planToJson(plan));
    expect(readPlan(file).plan.target).toBe("sn40l");
    const edited = JSON.parse(readFileSync(file, "utf8")) as { allocations: Plan["allocations"][number][] };
    const victim = edited.allocations.find((a) => a.tier === "hbm")!;
    (victim as { bytes: number }).bytes = 2 ** 37;
    writeFileSync(file, JSON.stringify(edited));
    expect(() => readPlan(file)).toThrow(new RegExp(`hbm over capacity: '${victim.tensor.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}' occupies bytes \\d+\\.\\.\\d+, the tier holds 68719476736`));
    const r = runCli(["verify", file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/plan\.json: hbm over capacity/);
  });

  it("refuses a newer or older plan version and a malformed plan", async () => {
    const { plan } = await compile(llama, { target: "toy", opt: 0, phase: "prefill", batch: 1, seq: 4 });
    const file = join(dir, "v2.json");
    writeFileSync(file, JSON.stringify({ ...plan, version: PLAN_VERSION + 1 }));
    expect(() => readPlan(file)).toThrow(new RegExp(`schema version ${PLAN_VERSION + 1}; this tierflow reads version ${PLAN_VERSION} \\(a newer`));
    writeFileSync(file, JSON.stringify({ ...plan, version: PLAN_VERSION - 1 }));
    expect(() => readPlan(file)).toThrow(new RegExp(`schema version ${PLAN_VERSION - 1}; this tierflow reads version ${PLAN_VERSION}: compile the model again`));
    writeFileSync(file, JSON.stringify({ ...plan, sections: "many" }));
    expect(() => readPlan(file)).toThrow(/not a valid plan: \$\.sections: expected array, got string/);
  });

  it("--dim on the batch or sequence dim sets the request, and a --dim that disagrees with --batch or --seq is refused", async () => {
    const { plan } = await compile(llama, { target: "toy", opt: 0, dims: new Map([["batch", 2], ["sequence", 4]]) });
    expect(plan.options).toMatchObject({ batch: 2, seq: 4 });
    const kv = plan.dataflow.tensors.find((t) => t.role === "kv-cache");
    if (kv) expect(kv.shape).toContain(4);
    await expect(compile(llama, { target: "toy", batch: 1, dims: new Map([["batch", 2]]) })).rejects.toThrow(/--dim batch=2 disagrees with the batch 1 \(--batch\)/);
    await expect(compile(llama, { target: "toy", seq: 8, dims: new Map([["sequence", 4]]) })).rejects.toThrow(/--dim sequence=4 disagrees with the prompt length 8 \(--seq\)/);
    await expect(compile(llama, { target: "toy", phase: "decode", dims: new Map([["sequence", 4]]) })).rejects.toThrow(/a decode step processes 1 token/);
  });

  it("flags never disagree with a static-shape export: the graph's own batch and length are the request", async () => {
    // Llama as a static-shape export: input_ids i64[1, 8].
    const { model } = llamaModel(LLAMA_PRESETS.tiny!, "static.onnx.data");
    const at = (dims: number[]) => ({ tensorType: { elemType: 0, shape: { dim: dims.map((d) => ({ dimValue: d })) } } });
    model.graph!.input![0]!.type = { tensorType: { ...at([1, 8]).tensorType, elemType: 7 } };
    model.graph!.output![0]!.type = { tensorType: { ...at([1, 8, LLAMA_PRESETS.tiny!.vocab]).tensorType, elemType: 1 } };
    const file = join(dir, "static.onnx");
    writeFileSync(file, encodeModel(model));
    await expect(compile(file, { target: "h100", phase: "prefill", batch: 8, seq: 2048 }))
      .rejects.toThrow(/^--batch 8 contradicts input 'input_ids': its dim 0 \(the batch\) is 1 in the graph$/);
    await expect(compile(file, { target: "h100", phase: "prefill", seq: 2048 }))
      .rejects.toThrow(/^--seq 2048 contradicts input 'input_ids': its dim 1 \(the sequence\) is 8 in the graph$/);
    await expect(compile(file, { target: "h100", phase: "decode" })).rejects.toThrow(/static token dim of 8 \(dim 1\), and a decode step processes 1 token/);
    await expect(compile(file, { target: "h100", dims: new Map([["batchh", 3]]) })).rejects.toThrow(/--dim batchh=3: the graph has no symbolic dim 'batchh' \(all its dims are static\)/);
    const { plan } = await compile(file, { target: "h100", phase: "prefill" });
    expect(plan.options).toMatchObject({ batch: 1, seq: 8 });
    // The tokens the throughput counts are the graph's: 1 x 8 per pass.
    expect(plan.prediction.tokensPerSecond * plan.prediction.seconds).toBeCloseTo(8, 9);
    const same = await compile(file, { target: "h100", phase: "prefill", batch: 1, seq: 8 });
    expect(planToJson(same.plan)).toBe(planToJson(plan));
    await expect(compile(llama, { target: "toy", dims: new Map([["batchh", 3]]) })).rejects.toThrow(/--dim batchh=3: the graph has no symbolic dim 'batchh' \(its dims: batch, sequence\)/);
  });

  it("an impossible request names the tensor, its size and every tier's capacity, and writes no plan", () => {
    const huge = join(dir, "huge/model.onnx");
    writeLlama(huge, { ...LLAMA_PRESETS.tiny!, vocab: 300_000 });
    const out = join(dir, "huge-out");
    const r = runCli(["compile", huge, "--target", "toy", "-O0", "-o", out, "-q"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/tensor 'model\.embed_tokens\.weight' needs 76800000 bytes, more than any tier holds \(HBM 262144, DDR 67108864, SRAM 262144\)/);
    expect(() => readFileSync(join(out, "plan.json"))).toThrow();
  });

  it("the CLI writes plan.json, graph.tfg and report.txt", () => {
    const out = join(dir, "cli-out");
    const r = runCli(["compile", llama, "--target", "sn40l", "-O0", "--phase", "decode", "--seq", "32", "-o", out, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    const report = readFileSync(join(out, "report.txt"), "utf8");
    expect(report).toMatch(/-O0, decode, batch 1, context 32/);
    expect(readPlan(join(out, "plan.json")).plan.options.seq).toBe(32);
    expect(readFileSync(join(out, "graph.tfg"), "utf8")).toMatch(/^\/\/ tierflow graph IR/);
  });

  it("the CLI takes the batch from --dim when --batch is not given", () => {
    const out = join(dir, "cli-dim");
    const r = runCli(["compile", llama, "--target", "toy", "-O0", "--dim", "batch=2", "-o", out, "-q"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readPlan(join(out, "plan.json")).plan.options).toMatchObject({ batch: 2, seq: 128 });
  });

  it("bad flags get one-line diagnostics", () => {
    expect(runCli(["compile", llama, "--target", "sn40l", "-O3", "-o", join(dir, "x")]).stderr).toMatch(/-O '3': the levels are 0, 1 and 2/);
    expect(runCli(["compile", llama, "--target", "nope", "-o", join(dir, "x")]).stderr).toMatch(/unknown target 'nope'/);
    expect(runCli(["compile", llama, "--target", "toy", "--batch", "0", "-o", join(dir, "x")]).stderr).toMatch(/--batch '0' must be a positive integer/);
  });
});
