// Every parallel plan executes on the reference runtime with the outputs of
// the single-socket plan: sockets simulated as separate arena sets, weights
// loaded as shards, collectives executed across the sockets' memories,
// pipeline stages sending to each other, micro-batches, data-parallel
// replicas each on its block of the node batch. For each example model and
// node target, each layout is compiled at a batch per replica, run on dp x
// that batch, and compared with the single-socket plan (same target, no
// --parallel) and the graph interpreter at the node batch; within 1e-4
// (all-reduce adds partial products in another order). The largest errors
// are printed. gpt2-tiny and bert-tiny run with non-zero biases
// (parallel-support.ts), so that a row-parallel bias added on every socket,
// or a shared bias split for its norm, shows.

import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { executePlan } from "../../targets/runtime/index.js";
import { MODELS_DIR, SEQUENCE, reference, runParallel, withNonZeroBiases } from "./parallel-support.js";

const TOLERANCE = 1e-4;
const llama = join(MODELS_DIR, "llama-tiny.dynamo.onnx");
const mixtral = join(MODELS_DIR, "mixtral-tiny.dynamo.onnx");
const gpt2 = withNonZeroBiases("gpt2-tiny.torchscript.onnx");
const bert = withNonZeroBiases("bert-tiny.dynamo.onnx");
const mobilenet = join(MODELS_DIR, "mobilenet-tiny.dynamo.onnx");

const DENSE = ["tp=2,dp=1", "tp=4,dp=1", "pp=2,dp=1", "tp=2,pp=2,dp=1", "dp=2"];
/** model, file, per-replica batch, layouts: mixtral's batch splits into ep=2 shares of 2 micro-batches. */
const CASES: readonly [string, string, number, readonly string[]][] = [
  ["llama-tiny", llama, 2, DENSE],
  ["gpt2-tiny (biases non-zero)", gpt2, 2, DENSE],
  ["bert-tiny (biases non-zero)", bert, 2, DENSE],
  ["mixtral-tiny", mixtral, 4, ["tp=2,dp=1", "ep=2,dp=1", "ep=4,dp=1", "ep=2,pp=2,dp=1", "pp=2,dp=1", "dp=2"]],
  ["mobilenet-tiny", mobilenet, 1, ["dp=2"]],
];
const TARGETS = ["sn40l-node", "dgx-h100"] as const;

const summary: string[] = [];
afterAll(() => {
  if (summary.length > 0) console.log(`parallel plans vs single-socket plan / graph interpreter, max abs error:\n${summary.join("\n")}`);
});

describe("parallel plans compute what the single-socket plan computes", () => {
  for (const target of TARGETS) {
    it.each(CASES)(`%s on ${target}`, async (name, path, batch, layouts) => {
      for (const parallel of layouts) {
        const r = await runParallel(path, target, parallel, batch);
        summary.push(`  ${`${name} ${target} ${r.layout}`.padEnd(62)} ${r.vsSingleSocket.toExponential(1)} / ${r.vsInterpreter.toExponential(1)}`);
        expect(r.vsSingleSocket, `${name} ${target} ${parallel}`).toBeLessThanOrEqual(TOLERANCE);
        expect(r.vsInterpreter, `${name} ${target} ${parallel}`).toBeLessThanOrEqual(TOLERANCE);
      }
    });
  }

  it("runs every replica on its own block of the node batch", async () => {
    // With dp=2 the node batch is two replicas' batches stacked; giving one replica's batch is refused.
    const { plan, graph, target } = await compile(llama, { target: "sn40l-node", opt: 2, batch: 2, seq: SEQUENCE, parallel: "tp=2,dp=2" });
    const one = await reference(llama, "sn40l-node", 2);
    expect(() => executePlan(plan, one.inputs, { graph, target, modelDir: MODELS_DIR }))
      .toThrow(/input 'input_ids': the plan runs dp=2 replicas x 1 micro-batches of \[2, 6\] per socket, so the node's input is \[4, 6\], got \[2, 6\]/);
    // Rows of the node batch come back in order: replica 1's rows equal a single-socket run of those rows alone.
    const both = await reference(llama, "sn40l-node", 4);
    const { outputs } = executePlan(plan, both.inputs, { graph, target, modelDir: MODELS_DIR });
    const logits = outputs.logits!.data as Float32Array, want = both.singleSocket.logits!.data as Float32Array;
    const half = logits.length / 2;
    let err = 0;
    for (let i = half; i < logits.length; i++) err = Math.max(err, Math.abs(logits[i]! - want[i]!));
    expect(err).toBeLessThanOrEqual(TOLERANCE);
    expect(Array.from(logits.subarray(0, 8))).not.toEqual(Array.from(logits.subarray(half, half + 8)));
  });

  it("executes a disaggregated plan's prefill group and refuses its decode group", async () => {
    const r = await runParallel(llama, "sn40l-node", "", 1, { disaggregate: "prefill=2,decode=6" });
    summary.push(`  ${`llama-tiny sn40l-node prefill=2,decode=6 (prefill) ${r.layout}`.padEnd(62)} ${r.vsSingleSocket.toExponential(1)} / ${r.vsInterpreter.toExponential(1)}`);
    expect(r.vsSingleSocket).toBeLessThanOrEqual(TOLERANCE);
    const decode = await compile(llama, { target: "sn40l-node", opt: 2, phase: "decode", batch: 1, seq: SEQUENCE, disaggregate: "prefill=2,decode=6" });
    const ref = await reference(llama, "sn40l-node", 1);
    let error: unknown;
    try {
      executePlan(decode.plan, ref.inputs, { graph: decode.graph, target: decode.target, modelDir: MODELS_DIR });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(TierflowError);
    expect((error as Error).message).toMatch(/decode phase, whose attention reads a KV cache/);
  });
});
