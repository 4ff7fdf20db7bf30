// The reference backend end to end: small ONNX models imported and run, every
// kind of bad input refused with a message that names it, weights read lazily
// and only from inside the model's folder, and intermediates released after
// their last use.

import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Constant, Module, Node, TensorType } from "../../ir/graph/graph.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { DTYPES } from "../../ir/dtype.js";
import { registerOps } from "../../ir/graph/ops.js";
import { defineOp, inputType } from "../../ir/graph/ops/util.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { loadModel } from "../../compiler/load.js";
import { WeightCache, run } from "../../targets/reference/index.js";
import { readTensorFile } from "../../compiler/tensor-files.js";
import { ONNX_FLOAT, ONNX_INT64, floatTensor, int64Tensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";
import type { ModelSpec } from "../support/onnx-builder.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-ref-"));
});

const f32 = (dims: number[], values: number[]) => tensorFromValues("f32", dims, values);
const values = (t: Tensor | undefined) => Array.from(t!.data as ArrayLike<number | bigint>, Number);

async function build(file: string, spec: ModelSpec, passes?: string): Promise<{ module: Module; modelDir: string }> {
  const path = writeModel(join(dir, file), model(spec));
  const { module } = await loadModel(path, passes === undefined ? {} : { passes });
  return { module, modelDir: dir };
}

function thrown(step: () => unknown): TierflowError {
  try {
    step();
  } catch (err) {
    if (err instanceof TierflowError) return err;
    throw err;
  }
  throw new Error("expected a TierflowError");
}

/** A hand-built one-graph module (for what the importer would refuse to produce). */
function handModule(nodes: Node[], inputs: Record<string, TensorType>, outputs: string[], constants = new Map<string, Constant>()): Module {
  return {
    name: "m", source: "m.tfg", irVersion: 8, producer: "test", opsets: { "": 17 },
    graphs: [{ name: "main", inputs: Object.keys(inputs), outputs, constants, nodes, types: new Map(Object.entries(inputs)) }],
  };
}

const addRelu: ModelSpec = {
  inputs: [valueInfo("x", ONNX_FLOAT, ["batch", 3])], outputs: ["y"],
  initializers: [floatTensor("w", [3], [1, -2, 3])],
  nodes: [node("Add", ["x", "w"], ["s"], {}, "add"), node("Relu", ["s"], ["y"], {}, "relu")],
};

describe("running models", () => {
  it("computes a small model with a symbolic batch", async () => {
    const { module, modelDir } = await build("add-relu.onnx", addRelu);
    const { outputs } = run(module, { x: f32([2, 3], [0, 1, -5, -2, 3, 1]) }, { modelDir });
    expect(outputs.y!.dims).toEqual([2, 3]);
    expect(values(outputs.y)).toEqual([1, 0, 0, 0, 1, 4]);
  });

  it("runs shape arithmetic without the pass pipeline", async () => {
    const { module, modelDir } = await build("reshape.onnx", {
      inputs: [valueInfo("x", ONNX_FLOAT, ["n", 4])], outputs: ["y"],
      initializers: [int64Tensor("zero", [1], [0]), int64Tensor("minus", [1], [-1])],
      nodes: [
        node("Shape", ["x"], ["shape"]), node("Gather", ["shape", "zero"], ["n"], { axis: 0 }),
        node("Concat", ["n", "minus"], ["target"], { axis: 0 }), node("Reshape", ["x", "target"], ["flat"]),
        node("Transpose", ["flat"], ["y"], { perm: [1, 0] }),
      ],
    }, "");
    const { outputs } = run(module, { x: f32([2, 4], [0, 1, 2, 3, 4, 5, 6, 7]) }, { modelDir });
    expect(outputs.y!.dims).toEqual([4, 2]);
    expect(values(outputs.y)).toEqual([0, 4, 1, 5, 2, 6, 3, 7]);
  });

  it("reads a large initializer from the model file only when needed", async () => {
    const w = Array.from({ length: 2048 }, (_, i) => i / 8);
    const { module, modelDir } = await build("big.onnx", {
      inputs: [valueInfo("x", ONNX_FLOAT, [2048])], outputs: ["y"],
      initializers: [floatTensor("w", [2048], w)], nodes: [node("Mul", ["x", "w"], ["y"])],
    });
    expect(module.graphs[0]!.constants.get("w")!.kind).toBe("weight");
    const { outputs } = run(module, { x: f32([2048], new Array(2048).fill(2)) }, { modelDir });
    expect(values(outputs.y)).toEqual(w.map((v) => 2 * v));
  });

  it("reads external data and says which file is missing", async () => {
    const external = {
      name: "w", dims: [3], dataType: ONNX_FLOAT, dataLocation: 1,
      externalData: [{ key: "location", value: "weights/w.bin" }, { key: "offset", value: "4" }, { key: "length", value: "12" }],
    };
    const spec: ModelSpec = { ...addRelu, initializers: [external] };
    const { module, modelDir } = await build("ext.onnx", spec);
    const x = { x: f32([1, 3], [0, 0, 0]) };
    expect(thrown(() => run(module, x, { modelDir })).format()).toMatch(/node 'add': weights file 'weights\/w\.bin' is missing/);
    const sub = mkdtempSync(join(tmpdir(), "tierflow-ext-"));
    mkdirSync(join(sub, "weights"));
    writeFileSync(join(sub, "weights/w.bin"), new Uint8Array(new Float32Array([99, 1, -2, 3]).buffer));
    expect(values(run(module, x, { modelDir: sub }).outputs.y)).toEqual([1, 0, 3]);
    writeFileSync(join(sub, "weights/w.bin"), new Uint8Array(8));
    expect(thrown(() => run(module, x, { modelDir: sub })).message).toMatch(/'weights\/w\.bin' is 8 bytes, too short/);
  });

  it("keeps decoded weights between runs in a WeightCache, per model folder", async () => {
    const external = {
      name: "w", dims: [3], dataType: ONNX_FLOAT, dataLocation: 1,
      externalData: [{ key: "location", value: "w.bin" }, { key: "offset", value: "0" }, { key: "length", value: "12" }],
    };
    const { module } = await build("cached.onnx", { ...addRelu, initializers: [external] });
    const [a, b] = [mkdtempSync(join(tmpdir(), "tierflow-cache-")), mkdtempSync(join(tmpdir(), "tierflow-cache-"))];
    writeFileSync(join(a, "w.bin"), new Uint8Array(new Float32Array([1, 2, 3]).buffer));
    writeFileSync(join(b, "w.bin"), new Uint8Array(new Float32Array([10, 20, 30]).buffer));
    const x = { x: f32([1, 3], [0, 0, 0]) }, weights = new WeightCache();
    expect(values(run(module, x, { modelDir: a, weights }).outputs.y)).toEqual([1, 2, 3]);
    // The file changes, the cache does not: the weight was read once.
    writeFileSync(join(a, "w.bin"), new Uint8Array(new Float32Array([4, 5, 6]).buffer));
    expect(values(run(module, x, { modelDir: a, weights }).outputs.y)).toEqual([1, 2, 3]);
    expect(values(run(module, x, { modelDir: a }).outputs.y)).toEqual([4, 5, 6]);
    // Another folder is another weight.
    expect(values(run(module, x, { modelDir: b, weights }).outputs.y)).toEqual([10, 20, 30]);
  });

  it("refuses a weight reference that leads out of the model's folder", () => {
    const weight: Constant = { kind: "weight", ref: { file: "../secret.bin", offset: 0, length: 4 }, dims: [1], dtype: "f32" };
    const m = handModule([{ op: "Relu", domain: "", inputs: ["w"], outputs: ["y"], attrs: {}, name: "r" }], {}, ["y"], new Map([["w", weight]]));
    expect(thrown(() => run(m, {}, { modelDir: dir })).message).toMatch(/escapes the model's folder/);
  });

  it("reports the time of every node when profiling", async () => {
    const { module, modelDir } = await build("add-relu.onnx", addRelu);
    const { profile } = run(module, { x: f32([1, 3], [1, 2, 3]) }, { modelDir, profile: true });
    expect(profile?.map((p) => p.op)).toEqual(["Add", "Relu"]);
    expect(profile?.every((p) => p.ms >= 0)).toBe(true);
  });
});

describe("bad input is an error, never a wrong answer", () => {
  let m: Module;
  beforeAll(async () => {
    m = (await build("two.onnx", {
      inputs: [valueInfo("a", ONNX_FLOAT, ["batch", 3]), valueInfo("b", ONNX_FLOAT, ["batch", 3])], outputs: ["y"],
      nodes: [node("Add", ["a", "b"], ["y"])],
    })).module;
  });
  const a = f32([2, 3], [1, 2, 3, 4, 5, 6]);
  const message = (inputs: Record<string, Tensor>) => thrown(() => run(m, inputs, { modelDir: dir })).message;

  it("a missing input", () => {
    expect(message({ a })).toBe("missing input 'b' (expected f32[batch, 3])");
  });
  it("an unknown input", () => {
    expect(message({ a, b: a, c: a })).toBe("unknown input 'c' (the model's inputs are: a, b)");
  });
  it("a wrong dtype", () => {
    expect(message({ a, b: tensorFromValues("f64", [2, 3], [1, 2, 3, 4, 5, 6]) })).toBe("input 'b': expected f32[batch, 3], got f64[2, 3]");
  });
  it("a wrong rank", () => {
    expect(message({ a, b: f32([6], [1, 2, 3, 4, 5, 6]) })).toBe("input 'b': expected f32[batch, 3], got f32[6]");
  });
  it("a concrete dim that differs", () => {
    expect(message({ a, b: f32([2, 4], [1, 2, 3, 4, 5, 6, 7, 8]) })).toBe("input 'b': expected f32[batch, 3], got f32[2, 4]");
  });
  it("one symbol bound to two values", () => {
    expect(message({ a, b: f32([1, 3], [1, 2, 3]) })).toBe("input 'b': expected f32[batch, 3], got f32[1, 3] (batch is 2 from input 'a')");
  });
  it("a Gather index out of range names the node", async () => {
    const { module } = await build("gather.onnx", {
      inputs: [valueInfo("data", ONNX_FLOAT, [3]), valueInfo("i", ONNX_INT64, [1])], outputs: ["y"],
      nodes: [node("Gather", ["data", "i"], ["y"], { axis: 0 }, "pick")],
    });
    const err = thrown(() => run(module, { data: f32([3], [1, 2, 3]), i: tensorFromValues("i64", [1], [5]) }, { modelDir: dir }));
    expect(err.format()).toBe("node 'pick': Gather index 5 is out of range [-3, 2]");
  });
  it("a malformed tensor file names the file", () => {
    const file = join(dir, "broken.npy");
    writeFileSync(file, "not numpy at all");
    const err = thrown(() => readTensorFile(file));
    expect(err.format()).toBe(`${file}: not a .npy file (bad magic)`);
  });
  it("an op without a kernel is named before anything runs", () => {
    registerOps([defineOp({ op: "Opaque", domain: "test.reference", doc: "an op with no kernel", inputs: [1, 1], infer: (ctx) => ({ types: [inputType(ctx, 0)] }) })]);
    const opaque = handModule([{ op: "Opaque", domain: "test.reference", inputs: ["x"], outputs: ["y"], attrs: {}, name: "o" }],
      { x: { dtype: "f32", shape: [1] } }, ["y"]);
    expect(thrown(() => run(opaque, { x: f32([1], [1]) }, { modelDir: dir })).format())
      .toBe("node 'o': no kernel for op 'Opaque' in domain 'test.reference' in the reference backend");
  });
});

describe("memory", () => {
  it("releases each intermediate right after its last use and keeps the outputs", async () => {
    const { module, modelDir } = await build("chain.onnx", {
      inputs: [valueInfo("x", ONNX_FLOAT, [4])], outputs: ["y", "b"],
      nodes: [
        node("Neg", ["x"], ["a"]), node("Relu", ["a"], ["b"]), node("Add", ["a", "b"], ["c"]),
        node("Neg", ["c"], ["d"]), node("Relu", ["d"], ["y"]),
      ],
    }, "");
    const events: string[] = [];
    let live = 1, peak = 1; // x is live from the start
    const { outputs } = run(module, { x: f32([4], [1, -2, 3, -4]) }, {
      modelDir, trace: (event, value) => {
        events.push(`${event} ${value}`);
        live += event === "store" ? 1 : -1;
        peak = Math.max(peak, live);
      },
    });
    expect(events).toEqual([
      "store a", "free x", "store b", "store c", "free a", "store d", "free c", "store y", "free d",
    ]);
    expect(peak).toBe(3);
    expect(values(outputs.y)).toEqual([1, 0, 3, 0]);
    expect(values(outputs.b)).toEqual([0, 2, 0, 4]);
  });
});

/** One node run through import, the verifier's shape inference and the interpreter (no passes). */
async function runOne(file: string, op: string, attrs: Record<string, unknown>, inputs: Tensor[], outputs = 1): Promise<Tensor[]> {
  const names = inputs.map((_, i) => `in${i}`), outs = Array.from({ length: outputs }, (_, i) => `out${i}`);
  const { module, modelDir } = await build(file, {
    inputs: inputs.map((t, i) => valueInfo(names[i]!, DTYPES[t.dtype].onnx, [...t.dims])), outputs: outs,
    nodes: [node(op, names, outs, attrs, "n")],
  }, "");
  const result = run(module, Object.fromEntries(inputs.map((t, i) => [names[i]!, t])), { modelDir }).outputs;
  return outs.map((o) => result[o]!);
}

const i64 = (dims: number[], v: (number | bigint)[]) => tensorFromValues("i64", dims, v);

describe("kernel regressions", () => {
  it("Pow with int64 bases stays exact, with float or int exponents", async () => {
    const [big] = await runOne("pow-i64.onnx", "Pow", {}, [i64([3], [3, -2, 7]), i64([3], [39, 3, 0])]);
    expect(Array.from(big!.data as BigInt64Array)).toEqual([3n ** 39n, -8n, 1n]);
    const [mixed] = await runOne("pow-mixed.onnx", "Pow", {}, [i64([2], [2, 3]), f32([2], [3, 0.5])]);
    expect(Array.from(mixed!.data as BigInt64Array)).toEqual([8n, 1n]);
  });
  it("Squeeze and Unsqueeze take axes known only at run time", async () => {
    const [sq] = await runOne("squeeze.onnx", "Squeeze", {}, [f32([1, 3, 1], [1, 2, 3]), i64([1], [-1])]);
    expect(sq!.dims).toEqual([1, 3]);
    const [un] = await runOne("unsqueeze.onnx", "Unsqueeze", {}, [f32([3], [1, 2, 3]), i64([2], [0, -1])]);
    expect(un!.dims).toEqual([1, 3, 1]);
    await expect(runOne("squeeze-bad.onnx", "Squeeze", {}, [f32([1, 3], [1, 2, 3]), i64([1], [1])]))
      .rejects.toThrow("cannot squeeze axis 1 of size 3");
  });
  it("Split takes sizes known only at run time and checks they add up", async () => {
    const parts = await runOne("split.onnx", "Split", { axis: 0 }, [f32([5], [1, 2, 3, 4, 5]), i64([2], [2, 3])], 2);
    expect(parts.map((p) => values(p))).toEqual([[1, 2], [3, 4, 5]]);
    await expect(runOne("split-bad.onnx", "Split", { axis: 0 }, [f32([5], [1, 2, 3, 4, 5]), i64([2], [2, 2])], 2))
      .rejects.toThrow("split sizes [2, 2] add up to 4, the axis has 5");
  });
  it("Flatten keeps the trailing size of a zero-size tensor", async () => {
    const [flat] = await runOne("flatten.onnx", "Flatten", { axis: 1 }, [f32([0, 2, 3], [])]);
    expect(flat!.dims).toEqual([0, 6]);
  });
  it("Cast: NaN is true as bool, and 65520 rounds to infinity in float16", async () => {
    const [b] = await runOne("cast-bool.onnx", "Cast", { to: 9 }, [f32([3], [NaN, 0, -0])]);
    expect(values(b)).toEqual([1, 0, 0]);
    const [h] = await runOne("cast-f16.onnx", "Cast", { to: 10 }, [f32([3], [65520, 65519, -65520])]);
    expect(values(h)).toEqual([Infinity, 65504, -Infinity]);
  });
  it("Dropout in training mode is refused unless its ratio is zero", async () => {
    const on = tensorFromValues("bool", [], [1]);
    await expect(runOne("dropout.onnx", "Dropout", {}, [f32([2], [1, 2]), f32([], [0.5]), on]))
      .rejects.toThrow("Dropout in training mode (ratio 0.5) is random and not supported");
    const [same] = await runOne("dropout-zero.onnx", "Dropout", {}, [f32([2], [1, 2]), f32([], [0]), on]);
    expect(values(same)).toEqual([1, 2]);
  });
});
