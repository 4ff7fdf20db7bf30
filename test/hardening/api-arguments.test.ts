// The library's public entry points refuse bad arguments as TierflowErrors
// naming the function and the argument: never a TypeError from inside, never
// a wrong value silently taken. One row a bad call.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import type { CompileResult } from "../../compiler/compile.js";
import { loadModel, readModule } from "../../compiler/load.js";
import { simulate } from "../../compiler/coe/simulate.js";
import type { CoePlan } from "../../compiler/coe/compile-coe.js";
import { generateTrace } from "../../compiler/coe/trace.js";
import type { TraceOptions, TraceRequest } from "../../compiler/coe/trace.js";
import { TierflowError } from "../../ir/diagnostics.js";
import type { Module } from "../../ir/graph/graph.js";
import { tensorFromValues } from "../../ir/tensor.js";
import type { Tensor } from "../../ir/tensor.js";
import { run } from "../../targets/reference/index.js";
import { executePlan, runPlacedPlan } from "../../targets/runtime/execute.js";
import { generateGreedy } from "../../compiler/generate.js";
import type { OpenedPlan } from "../../compiler/open-plan.js";
import { ONNX_FLOAT, floatTensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-api-"));
const file = writeModel(join(dir, "m.onnx"), model({
  inputs: [valueInfo("x", ONNX_FLOAT, [1, 4])], outputs: ["y"],
  nodes: [node("MatMul", ["x", "w"], ["y"])],
  initializers: [floatTensor("w", [4, 4], Array.from({ length: 16 }, (_, i) => i / 16))],
}));

let module: Module, compiled: CompileResult;
const inputs: Record<string, Tensor> = { x: tensorFromValues("f32", [1, 4], [1, 2, 3, 4]) };
beforeAll(async () => {
  module = (await loadModel(file)).module;
  compiled = await compile(file, { target: "toy" });
});

const any = (v: unknown) => v as never;
const execOptions = () => ({ graph: compiled.graph, target: compiled.target, modelDir: dir });
const opened = () => any({ plan: compiled.plan, graph: compiled.graph });
const coe = any({ residency: { spilledToStorage: 0 } }) as CoePlan;
const traceOptions: TraceOptions = { experts: ["a", "b"], requests: 3, rate: 1, distribution: "zipf", seed: 1 };
const request: TraceRequest = { arrival: 0, promptTokens: 4, outputTokens: 2 };

// [call, what the message must name]
const BAD: readonly (readonly [string, () => unknown, RegExp])[] = [
  ["compile: no path", () => compile(any(undefined), { target: "toy" }), /compile: modelPath must be a non-empty string, got undefined/],
  ["compile: a number as path", () => compile(any(42), { target: "toy" }), /modelPath must be a non-empty string, got 42/],
  ["compile: no options", () => compile(file, any(undefined)), /compile: options must be an object, got undefined/],
  ["compile: no target", () => compile(file, any({})), /compile: options\.target is required/],
  ["compile: a numeric target", () => compile(file, { target: any(5) }), /options\.target must be a non-empty string or an object, got 5/],
  ["compile: negative batch", () => compile(file, { target: "toy", batch: -1 }), /options\.batch must be a positive integer, got -1/],
  ["compile: fractional batch", () => compile(file, { target: "toy", batch: 1.5 }), /options\.batch must be a positive integer/],
  ["compile: seq as a string", () => compile(file, { target: "toy", seq: any("7") }), /options\.seq must be a positive integer, got "7"/],
  ["compile: opt 3", () => compile(file, { target: "toy", opt: any(3) }), /options\.opt must be one of 0, 1, 2, got 3/],
  ["compile: unknown phase", () => compile(file, { target: "toy", phase: any("train") }), /options\.phase must be one of "prefill", "decode"/],
  ["compile: unknown dtype", () => compile(file, { target: "toy", dtype: any("f33") }), /options\.dtype must be a dtype name/],
  ["compile: dims as an object", () => compile(file, { target: "toy", dims: any({ batch: 2 }) }), /options\.dims must be a Map/],
  ["compile: a zero dim", () => compile(file, { target: "toy", dims: new Map([["batch", 0]]) }), /options\.dims must be a Map of names to a positive integer/],
  ["compile: verifyEach as a string", () => compile(file, { target: "toy", verifyEach: any("yes") }), /options\.verifyEach must be true or false/],
  ["compile: onStage not a function", () => compile(file, { target: "toy", onStage: any(1) }), /options\.onStage must be a function/],
  ["compile: parallel as a number", () => compile(file, { target: "toy", parallel: any(4) }), /options\.parallel must be/],
  ["loadModel: no path", () => loadModel(any(undefined)), /loadModel: path must be a non-empty string, got undefined/],
  ["loadModel: an object as path", () => loadModel(any({ path: file })), /loadModel: path must be a non-empty string, got an object/],
  ["loadModel: options a string", () => loadModel(file, any("fold-constants")), /loadModel: options must be an object/],
  ["loadModel: passes a number", () => loadModel(file, { passes: any(1) }), /options\.passes must be a string, got 1/],
  ["readModule: null", () => readModule(any(null)), /readModule: path must be a non-empty string, got null/],
  ["run: a Promise not awaited", () => run(any(loadModel(file)), inputs), /run: module must be a Module .*, got a Promise \(await it first\)/],
  ["run: loadModel's result, not its module", () => run(any({ module, records: [] }), inputs), /run: module must be a Module/],
  ["run: no inputs", () => run(module, any(undefined)), /run: inputs must be an object, got undefined/],
  ["run: an input as an array", () => run(module, any({ x: [1, 2, 3, 4] })), /run: inputs\["x"\] must be a tensor/],
  ["run: data not a typed array", () => run(module, any({ x: { dtype: "f32", dims: [1, 4], data: [1, 2, 3, 4] } })), /inputs\["x"\] must be a tensor/],
  ["run: data of the wrong length", () => run(module, any({ x: { dtype: "f32", dims: [1, 4], data: new Float32Array(3) } })), /inputs\["x"\] must be a tensor/],
  ["run: an unknown dtype", () => run(module, any({ x: { dtype: "float", dims: [1, 4], data: new Float32Array(4) } })), /inputs\["x"\] must be a tensor/],
  ["run: a negative dim", () => run(module, any({ x: { dtype: "f32", dims: [-1, 4], data: new Float32Array(4) } })), /inputs\["x"\] must be a tensor/],
  ["run: profile a string", () => run(module, inputs, { profile: any("yes") }), /run: options\.profile must be true or false/],
  ["run: buffers true", () => run(module, inputs, { buffers: any(true) }), /options\.buffers must be a BufferPool or false/],
  ["executePlan: no plan", () => executePlan(any(undefined), inputs, execOptions()), /executePlan: plan must be a Plan/],
  ["executePlan: plan JSON text", () => executePlan(any("{}"), inputs, execOptions()), /executePlan: plan must be a Plan .*, got "\{\}"/],
  ["executePlan: null inputs", () => executePlan(compiled.plan, any(null), execOptions()), /executePlan: inputs must be an object, got null/],
  ["executePlan: no options", () => executePlan(compiled.plan, inputs, any(undefined)), /executePlan: options must be an object/],
  ["executePlan: no modelDir", () => executePlan(compiled.plan, inputs, any({ graph: compiled.graph, target: compiled.target })), /options\.modelDir is required/],
  ["executePlan: a graph that is no Module", () => executePlan(compiled.plan, inputs, { ...execOptions(), graph: any({}) }), /options\.graph must be a Module/],
  ["executePlan: a target name", () => executePlan(compiled.plan, inputs, { ...execOptions(), target: any("toy") }), /options\.target must be a Target/],
  ["runPlacedPlan: no plan", () => runPlacedPlan(any(null), inputs, execOptions()), /runPlacedPlan: plan must be a Plan/],
  ["runPlacedPlan: a bad input", () => runPlacedPlan(compiled.plan, any({ x: 1 }), execOptions()), /runPlacedPlan: inputs\["x"\] must be a tensor/],
  ["generateGreedy: no plan", () => generateGreedy(any(null), [1], 1), /generateGreedy: opened must be an opened plan/],
  ["generateGreedy: a prompt as text", () => generateGreedy(opened() as OpenedPlan, any("1,2"), 1), /generateGreedy: prompt must be an array, each a whole number >= 0, got "1,2"/],
  ["generateGreedy: a negative id", () => generateGreedy(opened() as OpenedPlan, [1, -1], 1), /generateGreedy: prompt must be an array/],
  ["generateGreedy: negative tokens", () => generateGreedy(opened() as OpenedPlan, [1], -1), /generateGreedy: tokens must be a whole number >= 0, got -1/],
  ["generateGreedy: fractional tokens", () => generateGreedy(opened() as OpenedPlan, [1], 1.5), /tokens must be a whole number >= 0, got 1\.5/],
  ["simulate: no plan", () => simulate(any(null), [], "lru"), /simulate: plan must be a CoePlan/],
  ["simulate: a trace that is no array", () => simulate(coe, any("trace.jsonl"), "lru"), /simulate: trace must be an array/],
  ["simulate: a negative arrival", () => simulate(coe, [{ ...request, arrival: -1 }], "lru"), /simulate: trace\[0\] must be a request/],
  ["simulate: token counts as strings", () => simulate(coe, [request, any({ ...request, promptTokens: "4" })], "lru"), /simulate: trace\[1\] must be a request/],
  ["simulate: an unknown policy", () => simulate(coe, [request], any("fifo")), /simulate: policy must be one of "pin-hot", "lru", "lfu", "prefetch", "auto"/],
  ["generateTrace: no options", () => generateTrace(any(undefined)), /generateTrace: options must be an object/],
  ["generateTrace: experts as a string", () => generateTrace({ ...traceOptions, experts: any("a,b") }), /options\.experts must be an array/],
  ["generateTrace: requests as a string", () => generateTrace({ ...traceOptions, requests: any("10") }), /options\.requests must be a number, got "10"/],
  ["generateTrace: a zero rate", () => generateTrace({ ...traceOptions, rate: 0 }), /options\.rate must be a finite number > 0, got 0/],
  ["generateTrace: an unknown distribution", () => generateTrace({ ...traceOptions, distribution: any("normal") }), /options\.distribution must be one of "uniform", "zipf", "bursty"/],
  ["generateTrace: seed as a string", () => generateTrace({ ...traceOptions, seed: any("1") }), /options\.seed must be a finite number/],
  ["generateTrace: a negative zipf exponent", () => generateTrace({ ...traceOptions, zipfS: -1 }), /options\.zipfS must be a finite number > 0/],
];

describe("bad arguments to the public API", () => {
  it.each(BAD)("%s", async (_, call, pattern) => {
    let err: unknown;
    try {
      await call();
    } catch (e) {
      err = e;
    }
    expect(err, "the call was accepted").toBeDefined();
    expect(err, String(err)).toBeInstanceOf(TierflowError);
    expect((err as Error).message).toMatch(pattern);
    expect((err as Error).message).not.toContain("\n");
  });

  it("good calls still run", async () => {
    expect(Object.keys(run(module, inputs, { modelDir: dir }).outputs)).toEqual(["y"]);
    expect(Object.keys(executePlan(compiled.plan, inputs, execOptions()).outputs)).toEqual(["y"]);
    expect(generateTrace(traceOptions)).toHaveLength(3);
  });
});
