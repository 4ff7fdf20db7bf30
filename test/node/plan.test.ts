// A node-level plan as data: plan.json schema and verifier (no tier of any
// socket over capacity, allocations inside their stage, sockets used once),
// the placement text round trip, KV cache sizes by hand, and the refusal of a
// one-socket plan whose weights do not fit (a 70B-wide shape on a node of
// small sockets).

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { planToJson, readPlan } from "../../compiler/plan-json.js";
import { kvCacheBytes } from "../../compiler/node/kv-cache.js";
import { formatReport } from "../../compiler/report.js";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import type { Plan } from "../../ir/placement/plan.js";
import { parsePlacement, printPlacement } from "../../ir/placement/text.js";
import { verifyPlan } from "../../ir/placement/verify.js";
import { verifyParallel } from "../../ir/placement/verify-parallel.js";
import { loadTarget } from "../../targets/target.js";
import { ROOT } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-node-plan-"));
const llama = join(ROOT, "examples/models/llama-tiny.torchscript.onnx");
const options = { target: "sn40l-node", opt: 2 as const, phase: "decode" as const, batch: 2, seq: 16 };
const edited = (p: Plan, edit: (x: { -readonly [K in keyof Plan]: any }) => void): Plan => {
  const copy = JSON.parse(JSON.stringify(p));
  edit(copy);
  return copy as Plan;
};

describe("a parallel plan as data", () => {
  it("passes the schema and the verifier through plan.json, and round-trips as placement text", async () => {
    const { plan } = await compile(llama, { ...options, parallel: "tp=2,pp=2" });
    const file = join(dir, "plan.json");
    writeFileSync(file, planToJson(plan));
    expect(readPlan(file).plan.parallel!.layout.pp).toBe(2);
    const text = printPlacement(plan);
    expect(text).toMatch(/parallel \{tp = 2, pp = 2, ep = 1, dp = 2, micro_batches = 2, sockets = 8, collectives = "streamed"\} \{/);
    expect(parsePlacement(text)).toEqual(plan);
    expect(printPlacement(parsePlacement(text))).toBe(text);
  });

  it("the verifier refuses a stage over a socket's capacity, memory shared across stages and a socket used twice", async () => {
    const { plan } = await compile(llama, { ...options, parallel: "tp=2,pp=2" });
    const t = loadTarget("sn40l-node");
    expect(() => verifyPlan(edited(plan, (p) => { p.parallel.stages[1].occupancy.hbm = 2 ** 37; }), t))
      .toThrow(/hbm over capacity on the sockets of stage 1: 137438953472 bytes at the peak, the tier holds 68719476736/);
    const crossing = edited(plan, (p) => { p.allocations.find((a: Plan["allocations"][number]) => a.firstSection === 0).lastSection = p.sections.length - 1; });
    expect(() => verifyParallel(crossing, t)).toThrow(/across stages 0 and 1: each stage holds its own memory/);
    expect(() => verifyPlan(edited(plan, (p) => { p.parallel.stages[1].sockets[0] = 0; }), t)).toThrow(/socket 0 runs both stage 0 and stage 1/);
    expect(() => verifyPlan(edited(plan, (p) => { p.parallel.shards[0].parts = 3; }), t)).toThrow(/3 parts, which do not divide the group of 2 sockets/);
  });

  it("sizes the KV cache as 2 x batch x context x layers x KV heads x head dim x bytes, split by KV heads", async () => {
    const one = (await compile(llama, { ...options, target: "sn40l" })).plan;
    const kv = (p: Plan) => p.dataflow.tensors.filter((x) => x.role === "kv-cache").reduce((s, x) => s + x.bytes, 0);
    // llama-tiny: 2 layers, 2 KV heads of 16, f32; decode at context 16 keeps 17 tokens.
    expect(kv(one)).toBe(kvCacheBytes({ batch: 2, context: 17, layers: 2, kvHeads: 2, headDim: 16, dtypeBytes: 4 }));
    const tp2 = (await compile(llama, { ...options, parallel: "tp=2" })).plan;
    expect(kv(tp2)).toBe(kv(one) / 2);
    const report = formatReport(tp2, loadTarget("sn40l-node"));
    expect(report).toMatch(/KV cache: 256 B per token of a request per socket \(2 layers, kept by the attention layers\)/);
    expect(report).toMatch(/largest batch x context in HBM per socket: \d+ tokens \(batch \d+ at context 17/);
  });
});

describe("a model whose weights do not fit one socket", () => {
  // 70B widths (hidden 8192, 64 heads, 8 KV heads, MLP 28672) with 8 of the 80 layers, on sockets of 8 GiB HBM.
  const wide = join(dir, "wide/model.onnx");
  writeLlama(wide, { ...LLAMA_PRESETS["llama-2-70b"]!, layers: 8 });
  const small = join(dir, "small-node.json");
  writeFileSync(small, JSON.stringify({ ...loadTarget("sn40l-node"), name: "small-node", hbm: { bytes: 8 * 2 ** 30, bandwidth: 1.8e12 } }));

  it("is refused on one socket of a node, naming what does not fit and a layout that does", async () => {
    await expect(compile(wide, { ...options, batch: 1, target: small })).rejects.toThrow(
      /the weights do not fit one socket of small-node: they need 13\.\d+ GiB \(plus [\d.]+ KiB of KV cache\), one socket's HBM holds 8\.00 GiB, so 5\.\d+ GiB of weights would be read from DDR at every step; try --parallel tp=2 \(about 7\.\d+ GiB of weights per socket\)/);
  });

  it("compiles with that layout, every socket's tiers within capacity", async () => {
    const { plan } = await compile(wide, { ...options, batch: 1, target: small, parallel: "tp=2" });
    for (const s of plan.parallel!.stages) expect(s.occupancy.hbm).toBeLessThanOrEqual(8 * 2 ** 30);
    expect(plan.allocations.filter((a) => a.tier === "ddr")).toEqual([]);
  });

  it("a layout that still does not fit is refused with the same suggestion", async () => {
    await expect(compile(wide, { ...options, batch: 1, target: small, parallel: "pp=1,dp=8" }))
      .rejects.toThrow(/--parallel tp=1,pp=1,dp=8: each socket needs 13\.\d+ GiB of weights; its HBM holds 8\.00 GiB; try --parallel tp=2/);
  });
});
