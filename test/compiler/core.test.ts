// The compiler core's numbers against independent references: hand
// calculations of the roofline, the address allocator's sharing rule, and the
// measured H100 figures the GPU model must land near without being fitted.

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile, compileModule, loadFused, modelSource } from "../../compiler/compile.js";
import { measuredCurves } from "../../compiler/cost/efficiency.js";
import { planKernelTimes } from "../../compiler/cost/measured-cost.js";
import { ROOT } from "../support/cli.js";
import { assignAddresses, arenaBytes } from "../../compiler/place/addresses.js";
import { pipelineSeconds } from "../../compiler/schedule/allocate.js";
import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import { loadTarget, peakFlops } from "../../targets/target.js";
import { parseGraphText } from "../../compiler/parse-text.js";
import { printModule } from "../../ir/graph/printer.js";
import type { Plan } from "../../ir/placement/plan.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-core-"));
const llama7b = join(dir, "llama-2-7b.onnx");
writeLlama(llama7b, LLAMA_PRESETS["llama-2-7b"]!);

const weightBytes = (p: Plan) => p.dataflow.tensors.filter((t) => t.role === "weight").reduce((s, t) => s + t.bytes, 0);

const stage = (tiles: number, blocks: number) => ({ tiling: { tileShape: [1, 1], tiles, blocks } }) as unknown as DfKernel;

describe("compiler core", () => {
  it("a pipeline's fill follows the first tile through every stage, block by block", () => {
    // Three equal stages of one block, 4 tiles of 1 us: the textbook (tiles + depth - 1) intervals.
    expect(pipelineSeconds([stage(4, 1), stage(4, 1), stage(4, 1)], [4e-6, 4e-6, 4e-6])).toBeCloseTo(6e-6, 15);
    // One tile through three products streaming 8 weight blocks each: the slowest stage whole,
    // the other two hand on their first block after 1/8 of their time.
    expect(pipelineSeconds([stage(1, 8), stage(1, 8), stage(1, 8)], [8e-6, 8e-6, 8e-6])).toBeCloseTo(8e-6 + 2e-6, 15);
    // Unequal stages: the slowest (3 us per tile) sets the interval, the others add their first block.
    expect(pipelineSeconds([stage(2, 1), stage(2, 4), stage(2, 1)], [2e-6, 6e-6, 4e-6])).toBeCloseTo(1e-6 + 3e-6 + 2e-6 + 3e-6, 15);
  });

  it("address assignment shares addresses between tensors whose lifetimes do not overlap", () => {
    const placed = assignAddresses([
      { name: "a", bytes: 1000, first: 0, last: 1 },
      { name: "b", bytes: 1000, first: 2, last: 3 },
      { name: "c", bytes: 500, first: 1, last: 2 },
    ]);
    const at = new Map(placed.map((p) => [p.name, p.offset]));
    expect(at.get("a")).toBe(at.get("b"));
    expect(at.get("c")).toBeGreaterThanOrEqual(1000);
    expect(arenaBytes(placed)).toBe(1024 + 500);
  });

  it("one MatMul on the toy target costs what the roofline says by hand", async () => {
    // [16, 128] x [128, 128] in f32: 2*16*128*128 FLOPs; reads x (8 KiB) and w (64 KiB), writes y (8 KiB).
    const text = `module @m {
  source = "m.tfg"
  ir_version = 8
  opset "" = 17

  graph @main(%x: f32[16, 128]) -> (%y) {
    %w: f32[128, 128] = weight "w.bin" offset 0 length 65536
    %y = MatMul(%x, %w) : f32[16, 128]
    return %y
  }
}
`;
    const file = join(dir, "mm.tfg");
    writeFileSync(file, printModule(parseGraphText(text)));
    const toy = loadTarget("toy");
    const { plan } = await compile(file, { target: "toy", opt: 0, phase: "prefill" });
    expect(plan.sections).toHaveLength(1);
    const compute = (2 * 16 * 128 * 128) / peakFlops(toy, "f32");
    const hbm = (8192 + 65536 + 8192) / toy.hbm.bandwidth;
    const s = plan.sections[0]!;
    expect(s.cost.computeSeconds).toBeCloseTo(compute, 12);
    expect(s.cost.hbmSeconds).toBeCloseTo(hbm, 12);
    expect(s.cost.ddrSeconds).toBe(0);
    expect(s.cost.seconds).toBeCloseTo(Math.max(compute, hbm) + toy.overheads.launchSeconds + toy.overheads.sectionSwitchSeconds, 12);
    expect(plan.prediction.floorSeconds).toBeCloseTo(Math.max(compute, 65536 / toy.hbm.bandwidth), 12);
  });

  it("Llama-2-7B decode on sn40l at -O2 is within 1.3x of the weight-streaming floor, and -O2 beats -O0", async () => {
    const opts = { target: "sn40l", phase: "decode", batch: 1, seq: 128, dtype: "bf16" } as const;
    const o2 = (await compile(llama7b, { ...opts, opt: 2 })).plan;
    const o0 = (await compile(llama7b, { ...opts, opt: 0 })).plan;
    const sn40l = loadTarget("sn40l");
    // Hand floor: every weight byte once at HBM bandwidth, less the embedding table (one row is read).
    const embedding = 32000 * 4096 * 2;
    const hand = (weightBytes(o2) - embedding + 4096 * 2) / sn40l.hbm.bandwidth;
    expect(o2.prediction.floorSeconds).toBeGreaterThanOrEqual(hand);
    expect(o2.prediction.floorSeconds).toBeLessThan(hand * 1.02); // + the KV cache at context 128
    expect(o2.prediction.ratioToFloor).toBeGreaterThanOrEqual(1);
    expect(o2.prediction.ratioToFloor).toBeLessThanOrEqual(1.3);
    expect(o0.prediction.seconds).toBeGreaterThan(2 * o2.prediction.seconds);
    expect(o2.fusion).toMatchObject({ "tierflow.Attention": 32, "tierflow.RMSNorm": 65, "tierflow.SwiGLU": 32, "tierflow.Rotary": 64 });
    expect(o0.sections.every((s) => s.kernels.filter((k) => k.computeUnits > 0).length <= 1)).toBe(true);
  });

  it("the calibrated H100 model lands within 10% of decode measured on a real H100, its weight products within 10% of the profile's; the peaks' roofline below the measurement", async () => {
    // bench/device/h100-grid.json: Hugging Face's Llama-2-7B, bf16, decode replayed from a CUDA graph.
    const grid = JSON.parse(readFileSync(join(ROOT, "bench", "device", "h100-grid.json"), "utf8")) as {
      points: { model: string; phase: string; batch: number; context?: number; ms?: { median: number }; profile?: { by_class: Record<string, { ms_per_step: number }> } }[];
    };
    const point = (context: number) => grid.points.find((p) => p.model === "llama-2-7b" && p.phase === "decode" && p.batch === 1 && p.context === context)!;
    const target = loadTarget(join(ROOT, "targets", "calibrated", "h100.json"));
    const fused = await loadFused(llama7b, { opt: 0 }); // the kernels transformers runs: patterns decomposed, attention one SDPA
    const decode = (context: number) => compileModule(fused, modelSource(llama7b), { target, opt: 1, phase: "decode", batch: 1, seq: context, dtype: "bf16" }).plan;
    const measured = point(128).ms!.median * 1e-3;
    expect(Math.abs(decode(128).prediction.seconds / measured - 1)).toBeLessThan(0.1);
    const plan = decode(1024);
    const kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));
    const weights = new Set(plan.dataflow.tensors.filter((t) => t.role === "weight").map((t) => t.name));
    const times = planKernelTimes(plan, target, measuredCurves(target)!);
    let gemm = 0;
    for (const [name, t] of times) if (kernels.get(name)?.kind === "matmul" && kernels.get(name)!.inputs.some((i) => weights.has(i))) gemm += t.seconds;
    expect(Math.abs(gemm / (point(1024).profile!.by_class.gemm!.ms_per_step * 1e-3) - 1)).toBeLessThan(0.1);
    // The preset's peaks are a floor the card does not beat.
    const { plan: roofline } = await compile(llama7b, { target: "h100", opt: 0, phase: "decode", batch: 1, seq: 128, dtype: "bf16" });
    expect(roofline.prediction.seconds).toBeLessThan(measured);
  });

  it("prefill at -O2 streams layers and beats the unfused baseline", async () => {
    const opts = { target: "sn40l", phase: "prefill", batch: 1, seq: 512, dtype: "bf16" } as const;
    const o2 = (await compile(llama7b, { ...opts, opt: 2 })).plan;
    const o0 = (await compile(llama7b, { ...opts, opt: 0 })).plan;
    expect(o2.prediction.seconds).toBeLessThan(o0.prediction.seconds);
    expect(o2.prediction.floorBound).toBe("compute");
    expect(o2.sections.length).toBeLessThan(o0.sections.length);
    expect(Math.max(...o2.sections.map((s) => s.kernels.length))).toBeGreaterThan(3);
  });
});
