// A kernel-by-kernel target with measured efficiency curves (targets/calibrated/h100.json): each
// kernel at its class's curve, the framework's added copies, eager launch as a host/device
// pipeline; a target without curves prices exactly as before.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import { frameworkOf, measuredCurves } from "../../compiler/cost/efficiency.js";
import { kernelTime } from "../../compiler/cost/kernel-time.js";
import { tensorMap } from "../../ir/dataflow/dataflow.js";
import type { KernelContext } from "../../compiler/cost/kernel-time.js";
import { eagerShares } from "../../compiler/cost/launch.js";
import type { DataflowModule, DfKernel, DfTensor } from "../../ir/dataflow/dataflow.js";
import type { Target } from "../../targets/target.js";
import { loadTarget, peakFlops } from "../../targets/target.js";
import { ROOT } from "../support/cli.js";

const calibrated = loadTarget(join(ROOT, "targets", "calibrated", "h100.json"));
const tiny = join(ROOT, "examples", "models", "llama-tiny.dynamo.onnx");

const tensor = (name: string, shape: number[], role: DfTensor["role"] = "activation"): DfTensor =>
  ({ name, dtype: "bf16", shape, bytes: shape.reduce((p, d) => p * d, 2), role });
const kernel = (k: Partial<DfKernel> & Pick<DfKernel, "name" | "kind" | "inputs" | "outputs" | "flops" | "reads">): DfKernel =>
  ({ nodes: [k.name], ops: [k.kind], dtype: "bf16", streaming: "whole", tiling: { tileShape: [1], tiles: 1, blocks: 1 }, bufferBytes: 0, ...k });
const module = (phase: "prefill" | "decode", tensors: DfTensor[], kernels: DfKernel[]): DataflowModule =>
  ({ name: "m", source: "m.onnx", phase, bindings: {}, dtype: "bf16", inputs: [], outputs: [], tensors, kernels, streams: [] });
function context(m: DataflowModule, target: Target): KernelContext {
  return { m, tensors: tensorMap(m), tierOf: new Map(), target, curves: measuredCurves(target)!, framework: frameworkOf(target) };
}

describe("the cost model with measured curves", () => {
  it("leaves a target without curves priced by its peaks: the same plan, byte for byte", async () => {
    const h100 = loadTarget("h100");
    for (const opt of [0, 2] as const) {
      const plain = await compile(tiny, { target: h100, opt, phase: "decode", seq: 32 });
      const withSource = await compile(tiny, { target: { ...h100, efficiency: { source: "a description only" } } as Target, opt, phase: "decode", seq: 32 });
      expect(planToJson(withSource.plan)).toBe(planToJson(plain.plan));
    }
  });

  it("prices a weight product at its measured shape's curve: a 4096 x 4096 GEMV as the microbenchmark ran it", () => {
    const m = module("decode", [tensor("x", [1, 4096]), tensor("w", [4096, 4096], "weight"), tensor("y", [1, 4096])],
      [kernel({ name: "k0", kind: "matmul", inputs: ["x", "w"], outputs: ["y"], flops: 2 * 4096 * 4096, reads: { x: 8192, w: 33554432 } })]);
    const t = kernelTime(m.kernels[0]!, context(m, calibrated));
    expect(t.curve).toBe("gemm.k4096.n4096");
    // bench/device/h100-micro.json: F.linear [1, 4096] x [4096, 4096]^T per call, independent calls replayed from a graph;
    // in a model's chain each kernel also waits for the one before: the framework's smallest dependent kernel less an independent one.
    const micro = JSON.parse(readFileSync(join(ROOT, "bench", "device", "h100-micro.json"), "utf8")) as { gemm: { M: number; K: number; N: number; us_per_call: { median: number } }[] };
    const measured = micro.gemm.find((p) => p.M === 1 && p.K === 4096 && p.N === 4096)!.us_per_call.median;
    const gap = frameworkOf(calibrated)!.graphKernelSeconds! - calibrated.efficiency!.launch!.graphKernelSeconds;
    expect(gap * 1e6).toBeGreaterThan(0.3);
    expect(gap * 1e6).toBeLessThan(1);
    expect(t.seconds * 1e6).toBeCloseTo(measured + gap * 1e6, 1);
    expect(t.launches).toBe(1);
    // An unmeasured shape takes the larger of the averaged GEMM curve and the weight bytes at the GEMV curve.
    const other = module("decode", [tensor("x", [1, 4096]), tensor("w", [4096, 5000], "weight"), tensor("y", [1, 5000])],
      [kernel({ name: "k0", kind: "matmul", inputs: ["x", "w"], outputs: ["y"], flops: 2 * 4096 * 5000, reads: { x: 8192, w: 40960000 } })]);
    const o = kernelTime(other.kernels[0]!, context(other, calibrated));
    expect(o.curve).toBe("gemm");
    expect(o.seconds).toBeCloseTo(Math.max(o.computeSeconds, o.memorySeconds) + gap, 15);
    expect(o.memorySeconds).toBeGreaterThan(40960000 / calibrated.hbm.bandwidth);
  });

  it("runs grouped-query decode attention as the framework does: KV heads copied to every query head, then multi-head SDPA", () => {
    const [b, kvh, h, ctx, d] = [16, 8, 32, 4097, 128];
    const tensors = [tensor("q", [b, h, 1, d]), tensor("k", [b, kvh, 1, d]), tensor("v", [b, kvh, 1, d]),
      tensor("kc", [b, kvh, ctx, d], "kv-cache"), tensor("vc", [b, kvh, ctx, d], "kv-cache"), tensor("o", [b, h, 1, d])];
    const cache = tensors[3]!.bytes, row = cache / ctx;
    const m = module("decode", tensors, [kernel({
      name: "k0", kind: "attention", inputs: ["q", "k", "v", "kc", "vc"], outputs: ["o", "kc", "vc"], flops: 4 * b * h * ctx * d,
      reads: { q: tensors[0]!.bytes, k: row, v: row, kc: cache - row, vc: cache - row },
    })]);
    const repeated = kernelTime(m.kernels[0]!, context(m, calibrated));
    expect(repeated.curve).toBe("attention-decode-mha+repeat-kv");
    expect(repeated.launches).toBe(5); // SDPA, two repeat_kv copies, two cache writes
    // The copies move the 8 heads in and 32 out, at the repeat-kv curve's 1.2 TB/s: most of the time.
    expect(repeated.copySeconds / repeated.seconds).toBeGreaterThan(0.6);
    const { framework: _framework, ...withoutFramework } = calibrated.efficiency!;
    const native: Target = { ...calibrated, efficiency: withoutFramework };
    const gqa = kernelTime(m.kernels[0]!, context(m, native));
    expect(gqa.curve).toBe("attention-decode-gqa");
    expect(gqa.launches).toBe(1);
    expect(repeated.seconds / gqa.seconds).toBeGreaterThan(4);
  });

  it("prefill attention takes the causal half of its FLOPs at the prefill curve", () => {
    const [b, h, s, d] = [1, 32, 2048, 128];
    const tensors = [tensor("q", [b, h, s, d]), tensor("k", [b, h, s, d]), tensor("v", [b, h, s, d]),
      tensor("kc", [b, h, s, d], "kv-cache"), tensor("vc", [b, h, s, d], "kv-cache"), tensor("o", [b, h, s, d])];
    const m = module("prefill", tensors, [kernel({
      name: "k0", kind: "attention", inputs: ["q", "k", "v"], outputs: ["o", "kc", "vc"], flops: 4 * b * h * s * s * d,
      reads: { q: tensors[0]!.bytes, k: tensors[1]!.bytes, v: tensors[2]!.bytes },
    })]);
    const { framework: _framework, ...withoutFramework } = calibrated.efficiency!;
    const noCopies: Target = { ...calibrated, efficiency: withoutFramework };
    const t = kernelTime(m.kernels[0]!, context(m, noCopies));
    // bench/device/h100-micro.json: causal SDPA, batch 1 x 2048, 32 heads: 83.5 us.
    expect(t.seconds * 1e6).toBeCloseTo(83.5, -1);
    expect(t.computeSeconds).toBeGreaterThan((2 * b * h * s * s * d) / peakFlops(calibrated, "bf16"));
  });

  it("an eager forward is a host/device pipeline: short kernels wait for the host, a long one lets it run ahead", () => {
    const tinyKernels = [1e-6, 1e-6, 1e-6].map((s, i) => ({ name: `k${i}`, deviceSeconds: s, launches: 1 }));
    const bound = eagerShares(tinyKernels, 10e-6, 0);
    expect([...bound.values()].map((s) => s * 1e6)).toEqual([11, 10, 10].map((v) => expect.closeTo(v, 9)));
    const long = eagerShares([{ name: "big", deviceSeconds: 100e-6, launches: 1 }, ...tinyKernels], 10e-6, 5e-6);
    expect([...long.values()].map((s) => s * 1e6)).toEqual([115, 1, 1, 1].map((v) => expect.closeTo(v, 9)));
  });

  it("prices a small model's plans on the calibrated target: decode replayed from a graph, prefill issued eagerly", async () => {
    const decode = (await compile(tiny, { target: calibrated, opt: 0, phase: "decode", seq: 32 })).plan;
    const prefill = (await compile(tiny, { target: calibrated, opt: 0, phase: "prefill", seq: 32 })).plan;
    const framework = frameworkOf(calibrated)!;
    const device = (p: typeof decode) => p.sections.filter((s) => s.kernels.some((k) => k.computeUnits > 0));
    // Replayed from a graph no kernel is cheaper than a graph's per-kernel cost, and nothing waits for the host.
    for (const s of device(decode)) expect(s.cost.seconds).toBeGreaterThanOrEqual(calibrated.efficiency!.launch!.graphKernelSeconds);
    expect(decode.sections.every((s) => s.cost.overheadSeconds === 0)).toBe(true);
    // Eager, a tiny model's forward takes the host's time: every kernel's launch and the forward's own.
    expect(prefill.prediction.seconds).toBeGreaterThanOrEqual(device(prefill).length * framework.eagerKernelSeconds! + framework.eagerForwardSeconds!);
    expect(device(prefill).some((s) => s.cost.bound === "overhead")).toBe(true);
  });
});
