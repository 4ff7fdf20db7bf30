// Tensor, pipeline and expert parallelism on small Llama and Mixtral shapes:
// per-socket weights, heads and KV caches split as Megatron-LM splits them,
// one all-reduce after each row-parallel product, costs as hand-computed,
// stages that each hold their own memory, and determinism.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { planToJson } from "../../compiler/plan-json.js";
import { LLAMA_PRESETS, writeLlama } from "../../examples/generate/llama-onnx.js";
import type { Plan } from "../../ir/placement/plan.js";
import { loadTarget } from "../../targets/target.js";
import { ROOT } from "../support/cli.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-node-"));
// Grouped-query attention: 8 heads share 2 KV heads, so tp=4 keeps each KV head on 2 sockets.
const gqa = join(dir, "gqa/model.onnx");
writeLlama(gqa, { ...LLAMA_PRESETS.tiny!, hidden: 128, heads: 8, kvHeads: 2, intermediate: 256 });
const mixtral = join(ROOT, "examples/models/mixtral-tiny.torchscript.onnx");
const decode = { target: "sn40l-node", opt: 2 as const, phase: "decode" as const, batch: 2, seq: 16, dtype: "bf16" as const };

const tensor = (p: Plan, name: string) => p.dataflow.tensors.find((t) => t.name === name)!;
const kernelOf = (p: Plan, op: string, node: RegExp) => p.dataflow.kernels.find((k) => k.ops[0] === op && node.test(k.nodes[0] ?? ""))!;

describe("tensor parallelism", () => {
  it("splits q/k/v and gate/up by columns, o and down by rows, attention by heads, the KV cache by KV heads", async () => {
    const full = (await compile(gqa, { ...decode, target: "sn40l" })).plan;
    const { plan } = await compile(gqa, { ...decode, parallel: "tp=4" });
    const l0 = "model.layers.0";
    expect(tensor(plan, `${l0}.self_attn.q_proj.weight_T`).shape).toEqual([128, 32]);
    expect(tensor(plan, `${l0}.self_attn.k_proj.weight_T`).shape).toEqual([128, 16]); // one of 2 KV heads of 16
    expect(tensor(plan, `${l0}.self_attn.o_proj.weight_T`).shape).toEqual([32, 128]);
    expect(tensor(plan, `${l0}.mlp.gate_proj.weight_T`).shape).toEqual([128, 64]);
    expect(tensor(plan, `${l0}.mlp.down_proj.weight_T`).shape).toEqual([64, 128]);
    expect(tensor(plan, "lm_head.weight_T").shape).toEqual([128, 64]); // vocabulary-parallel
    expect(tensor(plan, "model.embed_tokens.weight").shape).toEqual([256, 128]); // replicated
    // Each layer's key and value caches, [batch, KV heads, tokens, head dim], hold one of the 2 KV heads per socket.
    const caches = plan.dataflow.tensors.filter((t) => t.role === "kv-cache" && t.name.includes("layers.0"));
    expect(caches.map((t) => t.name.split("/").pop())).toEqual(["k_cache", "v_cache"]);
    for (const cache of caches) {
      expect(cache.shape).toEqual([2, 1, 17, 16]);
      expect(plan.parallel!.shards).toContainEqual({ tensor: cache.name, axis: 1, parts: 2 });
    }
    expect(plan.parallel!.shards).toContainEqual({ tensor: `${l0}.self_attn.q_proj.weight_T`, axis: 1, parts: 4 });
    // FLOPs of a column-parallel product and of attention are a quarter of the whole.
    const q = (p: Plan) => kernelOf(p, "MatMul", /layers\.0\/self_attn\/q_proj/);
    expect(q(plan).flops).toBe(q(full).flops / 4);
    const att = (p: Plan) => p.dataflow.kernels.find((k) => k.kind === "attention")!;
    expect(att(plan).flops).toBe(att(full).flops / 4);
  });

  it("inserts one all-reduce per row-parallel product and gathers the logits, costed over the links", async () => {
    const { plan } = await compile(gqa, { ...decode, parallel: "tp=4" });
    const kinds = plan.parallel!.collectiveKernels.map((c) => c.kind);
    expect(kinds.filter((k) => k === "all-reduce")).toHaveLength(4); // 2 layers x (o_proj, down_proj)
    expect(kinds.filter((k) => k === "all-gather")).toHaveLength(1);
    const link = loadTarget("sn40l-node").node!.link;
    const ar = plan.parallel!.collectiveKernels.find((c) => c.kind === "all-reduce")!;
    const bytes = 2 * 1 * 128 * 2; // batch 2 x 1 token x hidden 128, bf16
    expect(ar.bytes).toBe(bytes);
    expect(ar.seconds).toBeCloseTo((2 * 3 / 4) * bytes / link.bandwidth + 2 * link.latencySeconds, 15);
    expect(plan.dataflow.kernels.find((k) => k.name === ar.kernel)!.kind).toBe("collective");
    // Streamed collectives add their latency to the section that holds them.
    const linked = plan.sections.filter((s) => s.cost.linkSeconds !== undefined);
    expect(linked.length).toBeGreaterThan(0);
    expect(linked.reduce((s, x) => s + x.cost.linkLatencySeconds!, 0)).toBeCloseTo(4 * 2e-6 + 1e-6, 12);
  });

  it("runs collectives as their own kernels on GPU nodes", async () => {
    const { plan } = await compile(gqa, { ...decode, target: "dgx-h100", parallel: "tp=2" });
    const collectiveSections = plan.sections.filter((s) => s.cost.linkSeconds !== undefined);
    expect(collectiveSections.length).toBe(plan.parallel!.collectiveKernels.length);
    for (const s of collectiveSections) expect(s.kernels).toHaveLength(1);
    expect(plan.parallel!.collectives).toBe("kernel");
  });

  it("is deterministic", async () => {
    const a = planToJson((await compile(gqa, { ...decode, parallel: "tp=2,pp=2" })).plan);
    const b = planToJson((await compile(gqa, { ...decode, parallel: "tp=2,pp=2" })).plan);
    expect(a).toBe(b);
  });
});

describe("pipeline parallelism", () => {
  it("cuts where only the residual stream crosses; each stage holds its own memory", async () => {
    const { plan } = await compile(gqa, { ...decode, batch: 4, parallel: "tp=2,pp=2" });
    const p = plan.parallel!;
    expect(p.layout).toEqual({ tp: 2, pp: 2, ep: 1, dp: 2, microBatches: 2 });
    expect(p.stages).toHaveLength(2);
    expect(p.stages[0]!.firstSection).toBe(0);
    expect(p.stages[1]!.firstSection).toBe(p.stages[0]!.lastSection + 1);
    expect(p.stages[0]!.sockets).toEqual([0, 1, 4, 5]);
    expect(p.stages[1]!.sockets).toEqual([2, 3, 6, 7]);
    const weightsOf = (s: number) => plan.allocations.filter((a) => tensor(plan, a.tensor)?.role === "weight" &&
      a.firstSection >= p.stages[s]!.firstSection && a.lastSection <= p.stages[s]!.lastSection).map((a) => a.tensor);
    const [w0, w1] = [weightsOf(0), weightsOf(1)];
    expect(w0).toContain("model.embed_tokens.weight");
    expect(w1).toContain("lm_head.weight_T");
    expect(w0.filter((w) => w1.includes(w))).toEqual([]);
    // What crosses the cut is the residual stream (micro-batch of 2 x hidden 128, bf16), not a layer's insides.
    const big = p.sends.filter((s) => s.bytes > 64);
    expect(big.map((s) => s.bytes)).toEqual([2 * 128 * 2]);
    for (const s of p.sends) expect(s).toMatchObject({ fromStage: 0, toStage: 1, beforeSection: p.stages[1]!.firstSection });
    // Decode with 2 micro-batches over 2 stages: the step is max(sum of stages, 2 x slowest).
    const [t0, t1] = p.stages.map((s) => s.seconds) as [number, number];
    expect(p.prediction.stepSeconds).toBeCloseTo(Math.max(t0 + t1, 2 * Math.max(t0, t1)), 15);
  });
});

describe("expert parallelism", () => {
  const moe = { target: "sn40l-node", opt: 2 as const, phase: "decode" as const, batch: 4, seq: 16 };
  it("tp=1, ep=2: each socket holds half the experts and half the batch; tokens go all-to-all and back", async () => {
    const full = (await compile(mixtral, { ...moe, target: "sn40l" })).plan;
    const { plan } = await compile(mixtral, { ...moe, parallel: "ep=2" });
    const experts = (p: Plan) => p.dataflow.kernels.find((k) => k.ops[0] === "tierflow.MoEExperts")!;
    const weights = experts(full).inputs[3]!;
    expect(tensor(plan, weights).shape[0]).toBe(tensor(full, weights).shape[0]! / 2);
    expect(experts(plan).flops).toBe(experts(full).flops / 2);
    const a2a = plan.parallel!.collectiveKernels.filter((c) => c.kind === "all-to-all");
    expect(a2a).toHaveLength(4); // 2 layers x (dispatch, combine)
    const x = tensor(plan, experts(plan).inputs[0]!.replace(/\/dispatched$/, ""));
    expect(a2a[0]!.bytes).toBe(x.bytes * 2); // every token goes to its top-2 experts
    const link = loadTarget("sn40l-node").node!.link;
    expect(a2a[0]!.seconds).toBeCloseTo(0.5 * a2a[0]!.bytes / link.bandwidth + link.latencySeconds, 15);
  });

  it("tp=2: experts spread over the tensor-parallel group, combined by an all-reduce", async () => {
    const { plan } = await compile(mixtral, { ...moe, parallel: "tp=2" });
    expect(plan.parallel!.layout.ep).toBe(2);
    expect(plan.parallel!.collectiveKernels.some((c) => c.kind === "all-to-all")).toBe(false);
  });
});
