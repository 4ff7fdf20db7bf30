// A corrupted parallel plan is refused with one line before or while its
// sockets load, never with a crash or a silently wrong answer: shards that do
// not divide their group or axis or do not match the per-socket tensor, a
// collective over more sockets than its group, a stage on a socket the node
// lacks, a send arriving mid-stage.

import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { TierflowError } from "../../ir/diagnostics.js";
import type { Plan } from "../../ir/placement/plan.js";
import { executePlan } from "../../targets/runtime/index.js";
import { slicePart } from "../../targets/runtime/socket-program.js";
import type { Writable } from "../runtime/support.js";
import { MODELS_DIR, SEQUENCE, reference } from "./parallel-support.js";

const llama = join(MODELS_DIR, "llama-tiny.dynamo.onnx");

async function refusal(parallel: string, corrupt: (p: Writable<Plan>) => void): Promise<string> {
  const { plan, graph, target } = await compile(llama, { target: "sn40l-node", opt: 2, batch: 2, seq: SEQUENCE, parallel });
  const broken = structuredClone(plan) as Writable<Plan>;
  corrupt(broken);
  const { inputs } = await reference(llama, "sn40l-node", 2 * plan.parallel!.layout.dp);
  try {
    executePlan(broken as Plan, inputs, { graph, target, modelDir: MODELS_DIR });
  } catch (err) {
    if (!(err instanceof TierflowError)) throw err;
    expect(err.message).not.toMatch(/\n/);
    return err.message;
  }
  throw new Error("the corrupted plan ran");
}

const weightShard = (p: Writable<Plan>, parts = 2) =>
  p.parallel!.shards.find((s) => s.parts === parts && p.dataflow.tensors.find((t) => t.name === s.tensor)?.role === "weight")!;

describe("corrupted parallel plans", () => {
  it("refuses a shard whose parts do not divide the group", async () => {
    expect(await refusal("tp=2,dp=1", (p) => { weightShard(p).parts = 3; })).toMatch(/has 3 parts, which do not divide the group of 2 sockets/);
  });

  it("refuses a shard whose parts do not match the per-socket tensor", async () => {
    expect(await refusal("tp=4,dp=1", (p) => { weightShard(p, 4).parts = 2; }))
      .toMatch(/^shard of .*: \[64, 64\] split along axis \d into 2 parts is \[(64, 32|32, 64)\], but the plan.s per-socket tensor is \[(64, 16|16, 64)\]/);
  });

  it("refuses a shard whose parts do not divide its axis", () => {
    expect(() => slicePart(new Uint8Array(6 * 4 * 4), [6, 4], 4, 0, 4, 1, "w")).toThrow(/splits axis 0 of \[6, 4\] into 4 parts, which do not divide it/);
  });

  it("refuses a collective over more sockets than its group", async () => {
    expect(await refusal("tp=2,dp=1", (p) => { p.parallel!.collectiveKernels[0]!.sockets = 3; }))
      .toMatch(/collective 'c0' spans 3 sockets \(0\.\.2 of its group\); the group has 2 \(0\.\.1\)/);
  });

  it("refuses a stage on a socket the node does not have, and a send that arrives mid-stage", async () => {
    expect(await refusal("tp=2,dp=1", (p) => { p.parallel!.stages[0]!.sockets[1] = 99; })).toMatch(/stage 0 names socket 99; the node has sockets 0\.\.7/);
    expect(await refusal("pp=2,dp=1", (p) => { p.parallel!.sends[0]!.beforeSection += 1; })).toMatch(/arrives before section \d+; stage 1 starts at section \d+/);
  });

  it("refuses a collective kernel the parallel part does not list", async () => {
    expect(await refusal("tp=2,dp=1", (p) => { p.parallel!.collectiveKernels.shift(); })).toMatch(/kernel c0 is a collective the plan's parallel part does not list/);
  });
});
