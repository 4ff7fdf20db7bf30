// The host/device split is closed under value dependencies: a host kernel that
// computes with a device value either has its producers moved to the host (when
// everything they read can get there) or reads the value back by a transfer,
// after the section that writes it. Either way the plan runs and gives the
// interpreter's values, and legality refuses a plan that breaks the rule.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { loadModel } from "../../compiler/load.js";
import { checkPlanLegality } from "../../ir/placement/legality.js";
import type { Plan } from "../../ir/placement/plan.js";
import { makeTensor } from "../../ir/tensor.js";
import { run } from "../../targets/reference/index.js";
import { executePlan } from "../../targets/runtime/index.js";
import { ONNX_FLOAT, ONNX_INT64, floatTensor, int64Tensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import type { Writable } from "./support.js";
import { maxAbsError } from "./support.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-host-device-"));
const random = seededRandom(7);
const values = (n: number) => Array.from({ length: n }, () => random() * 2 - 1);

/** Position arithmetic from the ids: a host Slice of a CumSum over the input, added back to the ids. */
const positions = writeModel(join(dir, "positions.onnx"), model({
  inputs: [valueInfo("ids", ONNX_INT64, ["batch", "sequence"])],
  outputs: [valueInfo("y", ONNX_INT64, ["batch", "sequence"])],
  initializers: [int64Tensor("axis", [], [1]), int64Tensor("zeros", [2], [0, 0]), int64Tensor("ones", [2], [1, 1])],
  nodes: [
    node("CumSum", ["ids", "axis"], ["pos"], {}, "cumsum"),
    node("Slice", ["pos", "zeros", "ones"], ["first"], {}, "first"),
    node("Add", ["ids", "first"], ["y"], {}, "add"),
  ],
}));

/** An index computed from weights: ArgMax over x W (a host kernel's input lives on the device), then a row of T. */
const routed = writeModel(join(dir, "routed.onnx"), model({
  inputs: [valueInfo("x", ONNX_FLOAT, [1, 32])],
  outputs: [valueInfo("y", ONNX_FLOAT, [1, 1, 32])],
  initializers: [floatTensor("W", [32, 64], values(32 * 64)), floatTensor("T", [64, 32], values(64 * 32))],
  nodes: [
    node("MatMul", ["x", "W"], ["h"], {}, "score"),
    node("ArgMax", ["h"], ["pick"], { axis: 1, keepdims: 1 }, "pick"),
    node("Gather", ["T", "pick"], ["y"], { axis: 0 }, "row"),
  ],
}));

async function runs(path: string, inputs: Record<string, ReturnType<typeof makeTensor>>, opt: 0 | 1 | 2, target: string, dims: { batch?: number; seq?: number } = {}): Promise<Plan> {
  const { module } = await loadModel(path);
  const want = run(module, inputs, { modelDir: dirname(path) }).outputs;
  const { plan, graph, target: t } = await compile(path, { target, opt, ...dims });
  const { outputs } = executePlan(plan, inputs, { graph, target: t, modelDir: dirname(path) });
  expect(maxAbsError(want, outputs)).toBe(0);
  return plan;
}

describe("values a host kernel computes with", () => {
  it("are computed on the host when their producers can be: the CumSum over the ids moves to the host", async () => {
    const ids = makeTensor("i64", [2, 5]);
    (ids.data as BigInt64Array).set([3n, 1n, 4n, 1n, 5n, 9n, 2n, 6n, 5n, 3n]);
    for (const target of ["sn40l", "toy"]) {
      for (const opt of [0, 1, 2] as const) {
        const plan = await runs(positions, { ids }, opt, target, { batch: 2, seq: 5 });
        const cumsum = plan.dataflow.kernels.find((k) => k.nodes[0] === "cumsum")!;
        expect(cumsum.kind).toBe("host");
        expect(plan.transfers.filter((t) => t.to === "host")).toEqual([]);
      }
    }
  });

  it("are read back after the section that writes them when they depend on weights", async () => {
    const x = makeTensor("f32", [1, 32]);
    (x.data as Float32Array).set(values(32));
    for (const target of ["sn40l", "toy"]) {
      for (const opt of [0, 1, 2] as const) {
        const plan = await runs(routed, { x }, opt, target);
        const back = plan.transfers.filter((t) => t.to === "host");
        expect(back.map((t) => [t.tensor, t.from])).toEqual([["h", plan.allocations.find((a) => a.tensor === "h")!.tier]]);
        const sectionOf = (node: string) => plan.sections.findIndex((s) => s.kernels.some((ka) => plan.dataflow.kernels.find((k) => k.name === ka.kernel)!.nodes[0] === node));
        // The ArgMax starts a section after the MatMul's, the one the read-back runs before; it is costed there.
        expect(sectionOf("pick")).toBeGreaterThan(sectionOf("score"));
        expect(back[0]!.beforeSection).toBe(sectionOf("pick"));
        expect(plan.sections[sectionOf("pick")]!.cost.overheadSeconds).toBeGreaterThanOrEqual(back[0]!.seconds);
      }
    }
  });

  it("are refused by the legality check, in the runtime's words, when a plan reads them on the host without a read-back", async () => {
    const { plan, graph, target } = await compile(routed, { target: "sn40l", opt: 2 });
    const broken = structuredClone(plan) as Writable<Plan>;
    broken.transfers = broken.transfers.filter((t) => t.to !== "host");
    const words = /kernel k\d+ \(ArgMax\) in section \d+ \(s\d+\) reads the values of 'h' on the host in section \d+ \(s\d+\), but it lives in (hbm|ddr): the host knows only the shapes of device tensors/;
    expect(() => checkPlanLegality(broken, target, graph)).toThrow(words);
    const x = makeTensor("f32", [1, 32]);
    expect(() => executePlan(broken, { x }, { graph, target, modelDir: dir })).toThrow(words);
  });
});
