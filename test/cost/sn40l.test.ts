// The sn40l presets model what SambaNova publishes (each figure cited in the preset's sources):
// no section streams HBM faster than the paper's 85% for a fused decoder (90% looped), a section of
// L decoder layers makes L kernel calls, and the looped decoder (efficiency.dataflow.loop) makes
// them one, within the speedup the Kernel Looping paper reports.

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { sectionCalls } from "../../compiler/cost/kernel-calls.js";
import { kernelLooping, withKernelLooping } from "../../compiler/cost/efficiency.js";
import type { DataflowModule, DfKernel } from "../../ir/dataflow/dataflow.js";
import type { Plan } from "../../ir/placement/plan.js";
import type { Target } from "../../targets/target.js";
import { loadTarget } from "../../targets/target.js";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import { ROOT, expectDiagnostic, runCli } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-sn40l-cost-"));
const llama7b = join(dir, "llama-2-7b.onnx");
writeLlama(llama7b, LLAMA_PRESETS["llama-2-7b"]!);
const tiny = join(ROOT, "examples", "models", "llama-tiny.dynamo.onnx");

interface Published { hbmFraction: number; loop: { enabled: boolean; hbmFraction: number } }
const publishedOf = (t: Target) => (t.efficiency as unknown as { dataflow: Published }).dataflow;
const looped = withKernelLooping;
/** The largest share of HBM bandwidth any section of the plan streams at. */
const peakShare = (p: Plan, t: Target) => Math.max(...p.sections.filter((s) => s.cost.seconds > 0).map((s) => s.cost.hbmBytes / s.cost.seconds / t.hbm.bandwidth));

describe("sn40l against its published figures", () => {
  const sn40l = loadTarget("sn40l");

  it("cites every figure of its efficiency section", () => {
    for (const name of ["sn40l", "sn40l-node", "sn40l-node16"]) {
      const t = loadTarget(name);
      expect(publishedOf(t)).toEqual({ hbmFraction: 0.85, loop: { enabled: false, hbmFraction: 0.9 } });
      expect(t.sources["efficiency.dataflow.hbmFraction"]).toMatch(/MICRO 2024.*85%/);
      expect(t.sources["efficiency.dataflow.loop.hbmFraction"]).toMatch(/2410\.23668.*90%/);
    }
  });

  it("no section of a plan streams HBM faster than 85% of its bandwidth, or 90% looped", async () => {
    for (const [model, phase, seq] of [[tiny, "prefill", 64], [tiny, "decode", 64], [llama7b, "decode", 128]] as const) {
      for (const opt of [0, 2] as const) {
        if (model === llama7b && opt === 0) continue;
        const fused = (await compile(model, { target: sn40l, opt, phase, seq, dtype: "bf16" })).plan;
        expect(peakShare(fused, sn40l), `${model} ${phase} -O${opt}`).toBeLessThanOrEqual(0.85 * (1 + 1e-12));
        const loop = (await compile(model, { target: looped(sn40l), opt, phase, seq, dtype: "bf16" })).plan;
        expect(peakShare(loop, sn40l), `${model} ${phase} -O${opt} looped`).toBeLessThanOrEqual(0.9 * (1 + 1e-12));
      }
    }
  });

  it("a section of 32 decoder layers makes 32 kernel calls; looped it makes one, within Kernel Looping's 2.2x", async () => {
    const opts = { opt: 2, phase: "decode", batch: 1, seq: 128, dtype: "bf16" } as const;
    const fused = (await compile(llama7b, { ...opts, target: sn40l })).plan;
    const loop = (await compile(llama7b, { ...opts, target: looped(sn40l) })).plan;
    const { launchSeconds, sectionSwitchSeconds } = sn40l.overheads;
    // The whole step fits one section here: one program load, a call per layer.
    expect(fused.sections).toHaveLength(1);
    expect(fused.sections[0]!.cost.overheadSeconds).toBeCloseTo(sectionSwitchSeconds + 32 * launchSeconds, 12);
    expect(loop.sections[0]!.cost.overheadSeconds).toBeCloseTo(sectionSwitchSeconds + launchSeconds, 12);
    // Never above the published floor of 85% of HBM bandwidth, and faster looped, within the paper's bound.
    expect(fused.prediction.ratioToFloor).toBeGreaterThanOrEqual(1 / 0.85);
    expect(loop.prediction.ratioToFloor).toBeGreaterThanOrEqual(1 / 0.9);
    const speedup = fused.prediction.seconds / loop.prediction.seconds;
    expect(speedup).toBeGreaterThan(1);
    expect(speedup).toBeLessThanOrEqual(2.2);
  });

  it("a node plan's sockets stream within the same shares, and looping speeds TP8 decode up within the paper's 2.5x", async () => {
    const node = loadTarget("sn40l-node");
    const opts = { opt: 2, phase: "decode", batch: 1, seq: 128, dtype: "bf16", parallel: "tp=8" } as const;
    const fused = (await compile(llama7b, { ...opts, target: node })).plan;
    const loop = (await compile(llama7b, { ...opts, target: looped(node) })).plan;
    expect(peakShare(fused, node)).toBeLessThanOrEqual(0.85 * (1 + 1e-12));
    expect(peakShare(loop, node)).toBeLessThanOrEqual(0.9 * (1 + 1e-12));
    const speedup = fused.parallel!.prediction.stepSeconds / loop.parallel!.prediction.stepSeconds;
    expect(speedup).toBeGreaterThan(1);
    expect(speedup).toBeLessThanOrEqual(2.5);
  });

  it("counts a section's calls by the layer its kernels repeat: a block with weights of its own, not a chain of like pointwise kernels", () => {
    const k = (name: string, kind: string, reads: Record<string, number>): DfKernel => ({
      name, kind, nodes: [name], ops: [kind], inputs: Object.keys(reads), outputs: [`${name}.out`], dtype: "bf16", flops: 10, streaming: "whole",
      tiling: { tileShape: [1], tiles: 1, blocks: 1 }, bufferBytes: 0, reads,
    });
    const layers = [0, 1, 2, 3].flatMap((l) => [k(`mm${l}`, "matmul", { [`x${l}`]: 8, [`w${l}`]: 64 }), k(`add${l}`, "elementwise", { [`y${l}`]: 8, [`z${l}`]: 8 })]);
    const chain = [0, 1, 2, 3, 4, 5].map((i) => k(`c${i}`, "elementwise", { [`a${i}`]: 8, [`b${i}`]: 8 }));
    const m = { name: "m", source: "m", phase: "decode", bindings: {}, dtype: "bf16", inputs: [], outputs: [], tensors: [], kernels: [...layers, ...chain], streams: [] } as DataflowModule;
    expect(sectionCalls({ kernels: layers }, m)).toEqual({ calls: 4, continuesLoop: false, loopsOn: false });
    expect(sectionCalls({ kernels: chain }, m).calls).toBe(1);
    // Sections of one layer each: every one after the first continues the loop.
    expect(sectionCalls({ kernels: layers.slice(0, 2) }, m)).toEqual({ calls: 1, continuesLoop: false, loopsOn: true });
    expect(sectionCalls({ kernels: layers.slice(2, 4) }, m)).toEqual({ calls: 1, continuesLoop: true, loopsOn: true });
  });

  it("--kernel-looping plans the looped decoder: the library's withKernelLooping, named in the report; refused on a target without one", async () => {
    expect(kernelLooping(sn40l)).toBe(false);
    expect(kernelLooping(looped(sn40l))).toBe(true);
    expect(publishedOf(sn40l).loop.enabled).toBe(false); // the preset itself is untouched
    const flags = ["--target", "sn40l", "--phase", "decode", "--seq", "128", "--dtype", "bf16", "-q"];
    const plain = join(dir, "plain"), loop = join(dir, "looped");
    expect(runCli(["compile", llama7b, ...flags, "-o", plain]).code).toBe(0);
    expect(runCli(["compile", llama7b, ...flags, "--kernel-looping", "-o", loop]).code).toBe(0);
    const predicted = (folder: string) => (JSON.parse(readFileSync(join(folder, "plan.json"), "utf8")) as Plan).prediction.seconds;
    const lib = (await compile(llama7b, { target: looped(sn40l), opt: 2, phase: "decode", seq: 128, dtype: "bf16" })).plan;
    expect(predicted(loop)).toBe(lib.prediction.seconds);
    expect(predicted(loop)).toBeLessThan(predicted(plain));
    expect(readFileSync(join(loop, "report.txt"), "utf8")).toMatch(/^tierflow plan: .* on sn40l \(dataflow, looped decoder\), -O2, decode/);
    expect(readFileSync(join(plain, "report.txt"), "utf8")).toMatch(/^tierflow plan: .* on sn40l \(dataflow\), -O2, decode/);
    expectDiagnostic(["compile", tiny, "--target", "h100", "--kernel-looping", "-o", join(dir, "h100")],
      /^tierflow: error: --kernel-looping: target 'h100' has no looped decoder to turn on \(efficiency\.dataflow\.loop/, [join(dir, "h100")]);
  });
});
