// The runtime holds a plan to its word. Each case takes a good plan (Llama on
// the toy chip at -O2: weights spill to DDR, ten sections), breaks one thing
// the placement verifier does not look at, and expects the runtime to refuse
// the first access the broken plan gets wrong, naming tensor, tier and
// section, rather than compute around it. Plus the arena's own rules and the
// one-weight-at-a-time load.

import { dirname, join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../../ir/placement/plan.js";
import type { Module } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { compile } from "../../compiler/compile.js";
import { loadModel } from "../../compiler/load.js";
import { run } from "../../targets/reference/index.js";
import type { Target } from "../../targets/target.js";
import { ResidencyError, executePlan } from "../../targets/runtime/index.js";
import type { ExecuteResult } from "../../targets/runtime/index.js";
import { TierArena } from "../../targets/runtime/arena.js";
import type { Writable } from "./support.js";
import { MODELS_DIR, maxAbsError, sampleInputs } from "./support.js";

const MODEL = join(MODELS_DIR, "llama-tiny.dynamo.onnx");
let good: Plan, graph: Module, target: Target, inputs: Record<string, Tensor>;

beforeAll(async () => {
  ({ plan: good, graph, target } = await compile(MODEL, { target: "toy", opt: 2, batch: 1, seq: 5 }));
  inputs = sampleInputs(["input_ids"], 1, 5, 7);
});

const copy = (p: Plan): Writable<Plan> => structuredClone(p) as Writable<Plan>;
const execute = (p: Plan, g = graph, t = target): ExecuteResult => executePlan(p, inputs, { graph: g, target: t, modelDir: dirname(MODEL) });

function sectionOf(p: Plan, kernel: string): number {
  return p.sections.findIndex((s) => s.kernels.some((k) => k.kernel === kernel));
}

function expectRefusal(p: Plan, pattern: RegExp): void {
  let error: unknown;
  try {
    execute(p);
  } catch (err) {
    error = err;
  }
  expect(error, "the runtime ran a broken plan").toBeInstanceOf(ResidencyError);
  expect((error as Error).message).toMatch(pattern);
}

describe("the runtime refuses what the plan gets wrong", () => {
  it("runs the unbroken plan", () => {
    expect(good.sections.length).toBeGreaterThan(1);
    expect(good.allocations.some((a) => a.tier === "ddr" && a.tensor.includes("weight"))).toBe(true);
    expect(Object.keys(execute(good).outputs)).toEqual(["logits"]);
  });

  it("a weight kept in HBM but never transferred there", () => {
    const p = copy(good);
    const i = p.transfers.findIndex((t) => t.beforeSection < 0 && t.to === "hbm" && good.dataflow.tensors.find((x) => x.name === t.tensor)?.role === "weight");
    const [gone] = p.transfers.splice(i, 1);
    expectRefusal(p as Plan, new RegExp(`in section \\d+ \\(s\\d+\\) reads '${gone!.tensor}' from hbm, but it is not resident there: nothing .* has written it yet`));
  });

  it("an activation read after its allocation ends", () => {
    const p = copy(good);
    const a = p.allocations.find((x) => x.tier !== "sram" && x.lastSection > x.firstSection && good.dataflow.tensors.find((t) => t.name === x.tensor)?.role === "activation")!;
    a.lastSection = a.firstSection;
    expectRefusal(p as Plan, new RegExp(`in section \\d+ \\(s\\d+\\) reads '${a.tensor}'.* from ${a.tier}, but it is not resident there: its allocation covers sections ${a.firstSection}\\.\\.${a.firstSection}`));
  });

  it("an activation with no allocation, read outside the section it streamed in", () => {
    const p = copy(good);
    const i = p.allocations.findIndex((x) => x.tier !== "sram" && x.lastSection > x.firstSection && good.dataflow.tensors.find((t) => t.name === x.tensor)?.role === "activation");
    const [a] = p.allocations.splice(i, 1);
    expectRefusal(p as Plan, new RegExp(`in section \\d+ \\(s\\d+\\) reads '${a!.tensor}'.*, but it is in no tier: the plan gives it no allocation and it was a stream in section ${a!.firstSection}`));
  });

  it("two live tensors on the same bytes", () => {
    const p = copy(good);
    const hbm = p.allocations.filter((a) => a.tier === "hbm");
    const [a, b] = hbm.flatMap((x) => hbm.filter((y) => y !== x && y.offset !== x.offset && y.firstSection <= x.lastSection && x.firstSection <= y.lastSection).map((y) => [x, y]))[0]!;
    b!.offset = a!.offset;
    expectRefusal(p as Plan, /^hbm: '.*' at bytes \d+\.\.\d+ (at load time|in section \d+ \(s\d+\)) would overwrite '.*'/);
  });

  it("a stage buffer too small for one tile", () => {
    const p = copy(good);
    const k = p.dataflow.kernels.find((x) => x.kind === "matmul")!;
    const buffer = p.allocations.find((a) => a.tensor === `${k.name}/buffers`)!;
    buffer.bytes = Math.floor(buffer.bytes / 4);
    k.bufferBytes = buffer.bytes;
    expectRefusal(p as Plan, new RegExp(`kernel ${k.name} \\(MatMul\\) in section ${sectionOf(good, k.name)} \\(s\\d+\\): tile 0 stages \\d+ bytes .* holds two tiles of \\d+ bytes`));
  });

  it("a tiling that leaves part of the output unwritten", () => {
    const p = copy(good);
    const k = p.dataflow.kernels.find((x) => x.kind === "matmul" && x.tiling.tileShape[0]! > 1)!;
    k.tiling.tileShape[0] = 1;
    expectRefusal(p as Plan, new RegExp(`kernel ${k.name} .*: its tiling \\(${k.tiling.tiles} tiles of \\[1, \\d+\\]\\) writes \\d+ of the \\d+ elements`));
  });

  it("an input moved to a tier its allocation is not in", () => {
    const p = copy(good);
    const t = p.transfers.find((x) => x.from === "host")!;
    t.to = t.to === "hbm" ? "ddr" : "hbm";
    expectRefusal(p as Plan, new RegExp(`moves 'input_ids' to ${t.to} in section 0 \\(s0\\), but its allocation is in`));
  });

  it("a decode plan, whose KV cache no input of the graph fills", async () => {
    const { plan, graph: g, target: t } = await compile(MODEL, { target: "toy", opt: 2, phase: "decode", batch: 1, seq: 4 });
    expect(() => execute(plan, g, t)).toThrow(/decode phase.*runtime runs decode plans of models that take and return their KV cache/);
  });
});

describe("memory", () => {
  it("arenas hold only live blocks, within the tier and never overlapping", () => {
    const label = (s: number) => `in section ${s} (s${s})`;
    const hbm = new TierArena("hbm", 64 * 2 ** 30, label);
    const a = hbm.place("a", 48 * 2 ** 30, 1024, { first: 0, last: 1 }, 0);
    expect(hbm.used).toBe(1024);
    expect(() => hbm.place("b", 48 * 2 ** 30 + 512, 1024, { first: 0, last: 0 }, 0)).toThrow(/would overwrite 'a'/);
    expect(() => hbm.place("c", 64 * 2 ** 30 - 10, 1024, { first: 0, last: 0 }, 0)).toThrow(/outside the tier/);
    hbm.release(a);
    expect(hbm.place("b", 48 * 2 ** 30 + 512, 1024, { first: 1, last: 1 }, 1).data.byteLength).toBe(1024);
    expect(hbm.used).toBe(1024);
  });

  it("weights load one at a time: DDR never holds a second copy of the HBM-resident weights", async () => {
    const { plan, graph: g, target: t } = await compile(MODEL, { target: "sn40l", opt: 2, batch: 1, seq: 5 });
    const staged = plan.transfers.filter((x) => x.beforeSection < 0 && x.from === "ddr");
    const ddrResident = plan.allocations.filter((a) => a.tier === "ddr").reduce((s, a) => s + a.bytes, 0);
    const largest = Math.max(...staged.map((x) => x.bytes));
    const { peak } = execute(plan, g, t);
    expect(staged.length).toBeGreaterThan(10);
    expect(peak.ddr).toBeLessThanOrEqual(ddrResident + largest);
    expect(peak.hbm).toBeLessThanOrEqual(plan.occupancy.hbm);
  });

  it("a bf16 plan stores bf16 and stays near the float32 reference", async () => {
    const { module } = await loadModel(MODEL);
    const want = run(module, inputs, { modelDir: dirname(MODEL) }).outputs;
    const { plan, graph: g, target: t } = await compile(MODEL, { target: "toy", opt: 2, batch: 1, seq: 5, dtype: "bf16" });
    expect(plan.dataflow.tensors.find((x) => x.role === "weight")?.dtype).toBe("bf16");
    const got = execute(plan, g, t).outputs;
    expect(got.logits!.dtype).toBe("f32");
    expect(maxAbsError(want, got)).toBeLessThan(2e-2);
    expect(maxAbsError(want, got)).toBeGreaterThan(0);
    expect(mainGraph(g).outputs).toEqual(["logits"]);
  });
});
