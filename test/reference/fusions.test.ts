// Fused steps of the reference backend (targets/reference/fusions.ts) give
// exactly the values of running their nodes one by one: Gather -> MatMul with
// expert weights picked per token (negative indices, broadcast B, several
// columns), and where the fused kernel does not apply (an index out of range:
// the same error; a gathered value read twice or returned: not fused); the
// scaled, masked Softmax; Transpose -> MatMul; and whole attention blocks
// (layouts, masks, scales, casts, shapes the kernel leaves to the steps); RMS
// normalisation; the activation patterns; MatMul with a bias Add; rotary embedding; and that the example models' own
// exports match them.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Module } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor, tensorFromValues } from "../../ir/tensor.js";
import { loadModel } from "../../compiler/load.js";
import { run } from "../../targets/reference/index.js";
import { setGemmThreads } from "../../targets/reference/kernels/gemm-pool.js";
import { gemmKernel } from "../../targets/reference/kernels/matmul.js";
import { ACTIVATIONS, COMMUTATIVE } from "../../ir/graph/ops/activation-expressions.js";
import type { ActivationPattern, Expr } from "../../ir/graph/ops/activation-expressions.js";
import { ONNX_FLOAT, ONNX_INT64, floatTensor, int64Tensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tierflow-fusions-"));
});

let seed = 3;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
const E = 5, M = 24, K = 40;

/** Gather(table [E, M, K], idx) (or GatherND) then MatMul with x; `extra` adds readers of the gathered value. */
async function expertModel(name: string, idxDims: (number | string)[], xDims: (number | string)[], extra: "none" | "output" | "second-reader" | "nd" = "none"): Promise<Module> {
  const table = Array.from({ length: E * M * K }, rnd);
  const gather = extra === "nd" ? node("GatherND", ["table", "idx"], ["w"], {}, "gather") : node("Gather", ["table", "idx"], ["w"], { axis: 0 }, "gather");
  const nodes = [gather, node("MatMul", ["w", "x"], ["y"], {}, "matmul")];
  const outputs = ["y"];
  if (extra === "output") outputs.push("w");
  if (extra === "second-reader") {
    nodes.push(node("ReduceSum", ["w"], ["s"], { keepdims: 0 }, "sum"));
    outputs.push("s");
  }
  const path = writeModel(join(dir, `${name}.onnx`), model({
    inputs: [valueInfo("idx", ONNX_INT64, idxDims), valueInfo("x", ONNX_FLOAT, xDims)], outputs,
    initializers: [floatTensor("table", [E, M, K], table)], nodes,
  }));
  return (await loadModel(path)).module;
}

function runBoth(module: Module, inputs: Record<string, Tensor>): { fused: Record<string, Tensor>; nodes: Record<string, Tensor>; stored: string[] } {
  const stored: string[] = [];
  const fused = run(module, inputs, { modelDir: dir, trace: (event, value) => event === "store" && stored.push(value) }).outputs;
  const nodes = run(module, inputs, { modelDir: dir, fuse: false }).outputs;
  return { fused, nodes, stored };
}

function expectSameBits(x: Tensor, y: Tensor): void {
  expect(x.dims).toEqual(y.dims);
  let differ = 0;
  for (let i = 0; i < x.data.length; i++) if (!Object.is(x.data[i], y.data[i])) differ++;
  expect(differ, "elements that differ").toBe(0);
}

const xOf = (dims: number[]) => makeTensor("f32", dims, Float32Array.from({ length: dims.reduce((p, d) => p * d, 1) }, rnd));
const idxOf = (values: number[], dims = [values.length]) => tensorFromValues("i64", dims, values.map(BigInt));

describe("Gather -> MatMul", () => {
  it("per-token expert products equal Gather then MatMul, without storing the gathered weights", async () => {
    const module = await expertModel("tokens", ["tokens"], ["tokens", K, 1]);
    const idx = idxOf(Array.from({ length: 300 }, (_, t) => (t * 7) % E - (t % 3 === 0 ? E : 0))); // negative indices too
    const { fused, nodes, stored } = runBoth(module, { idx, x: xOf([300, K, 1]) });
    expectSameBits(fused.y!, nodes.y!);
    expect(fused.y!.dims).toEqual([300, M, 1]);
    expect(stored).not.toContain("w");
  });

  it("several columns, a B broadcast over the tokens, a 2-D index tensor", async () => {
    for (const [idxDims, xDims] of [[[7], [1, K, 6]], [[2, 3], [2, 3, K, 5]], [[4], [K, 3]]] as const) {
      const module = await expertModel(`cols-${idxDims.join("x")}-${xDims.join("x")}`, [...idxDims], [...xDims]);
      const count = idxDims.reduce((p, d) => p * d, 1);
      const { fused, nodes } = runBoth(module, { idx: idxOf(Array.from({ length: count }, (_, t) => (t * 3) % E), [...idxDims]), x: xOf([...xDims]) });
      expectSameBits(fused.y!, nodes.y!);
    }
  });

  it("GatherND with one index per row (the dynamo exporter's form) is fused too", async () => {
    const module = await expertModel("gathernd", [200, 1], [200, K, 1], "nd");
    const { fused, nodes, stored } = runBoth(module, { idx: idxOf(Array.from({ length: 200 }, (_, t) => (t * 3) % E), [200, 1]), x: xOf([200, K, 1]) });
    expectSameBits(fused.y!, nodes.y!);
    expect(stored).not.toContain("w");
  });

  it("an index out of range fails as Gather does", async () => {
    const module = await expertModel("range", [3], [3, K, 1]);
    const inputs = { idx: idxOf([0, E, 1]), x: xOf([3, K, 1]) };
    const message = (fuse: boolean) => {
      try {
        run(module, inputs, { modelDir: dir, fuse });
      } catch (err) {
        return (err as Error).message;
      }
      return "no error";
    };
    expect(message(true)).toMatch(/Gather index 5 is out of range|out of range/);
    expect(message(true)).toBe(message(false));
  });

  it("is not fused where the gathered weights are returned or read again", async () => {
    for (const extra of ["output", "second-reader"] as const) {
      const module = await expertModel(`kept-${extra}`, [6], [6, K, 2], extra);
      const { fused, nodes, stored } = runBoth(module, { idx: idxOf([0, 1, 2, 3, 4, 0]), x: xOf([6, K, 2]) });
      for (const name of Object.keys(nodes)) expectSameBits(fused[name]!, nodes[name]!);
      expect(stored).toContain("w");
    }
  });
});

describe("Mul/Div -> Add -> Softmax", () => {
  const B = 2, H = 3, S = 8;
  /** scores * s (or / s, or s * scores) + mask, Softmax along `axis`; `extra` adds readers or drops the Add. */
  async function attentionModel(name: string, opts: { op?: "Mul" | "Div"; scaleFirst?: boolean; maskDims?: readonly number[] | null; n?: number; axis?: number; extra?: "none" | "output" | "second-reader" } = {}): Promise<Module> {
    const { op = "Mul", scaleFirst = false, maskDims = [B, 1, S, opts.n ?? S], n = S, axis = -1, extra = "none" } = opts;
    const scaled = node(op, scaleFirst ? ["s", "x"] : ["x", "s"], ["t"], {}, "scale");
    const nodes = [scaled];
    let probsOf = "t";
    if (maskDims) {
      nodes.push(node("Add", ["t", "mask"], ["u"], {}, "mask"));
      probsOf = "u";
    }
    nodes.push(node("Softmax", [probsOf], ["p"], { axis }, "softmax"));
    const outputs = ["p"];
    if (extra === "output") outputs.push("t");
    if (extra === "second-reader") {
      nodes.push(node("Neg", ["t"], ["q"], {}, "neg"));
      outputs.push("q");
    }
    const inputs = [valueInfo("x", ONNX_FLOAT, [B, H, S, n]), valueInfo("s", ONNX_FLOAT, [])];
    if (maskDims) inputs.push(valueInfo("mask", ONNX_FLOAT, [...maskDims]));
    const path = writeModel(join(dir, `${name}.onnx`), model({ inputs, outputs, initializers: [], nodes }));
    return (await loadModel(path, { passes: "" })).module;
  }
  /** A causal mask of large negative values and -Infinity, as exporters write. */
  const maskOf = (dims: readonly number[]) => {
    const t = xOf([...dims]), d = t.data as Float32Array, n = dims[dims.length - 1]!;
    for (let i = 0; i < d.length; i++) d[i] = (i % n) > ((i / n) | 0) % n ? (i % 2 ? -Infinity : -3.4028234663852886e38) : d[i]!;
    return t;
  };
  const scalar = (v: number) => tensorFromValues("f32", [], [v]);

  it("gives the bits of the three nodes, without storing the scaled or masked scores", async () => {
    for (const [name, opts, s] of [
      ["mul", {}, 0.25], ["div", { op: "Div" as const }, 4], ["scale-first", { scaleFirst: true }, 0.35355339],
      ["heads-mask", { maskDims: [1, H, 1, S] }, 0.5], ["no-mask", { maskDims: null }, 0.125],
    ] as const) {
      const module = await attentionModel(name, opts);
      const inputs: Record<string, Tensor> = { x: xOf([B, H, S, S]), s: scalar(s) };
      if (opts.maskDims !== null) inputs["mask"] = maskOf(opts.maskDims ?? [B, 1, S, S]);
      const { fused, nodes, stored } = runBoth(module, inputs);
      expectSameBits(fused.p!, nodes.p!);
      expect(stored, name).not.toContain("t");
      expect(stored, name).not.toContain("u");
    }
  });

  it("NaN and infinite scores spread as in the nodes", async () => {
    const module = await attentionModel("nan");
    const x = xOf([B, H, S, S]), d = x.data as Float32Array;
    d[3] = NaN;
    d[S * 2 + 1] = Infinity;
    d[S * 5] = -Infinity;
    const { fused, nodes } = runBoth(module, { x, s: scalar(0.5), mask: maskOf([B, 1, S, S]) });
    expectSameBits(fused.p!, nodes.p!);
    expect(Number.isNaN((fused.p!.data as Float32Array)[0])).toBe(true);
  });

  it("falls back to the nodes where the fused kernel does not apply: a row not a multiple of 4, another axis, a mask that widens x", async () => {
    for (const [name, opts, maskDims] of [
      ["odd-row", { n: 7 }, [B, 1, S, 7]], ["axis", { axis: 2 }, [B, 1, S, S]], ["widening", { maskDims: [B, H, S, S] }, [B, H, S, S]],
    ] as const) {
      const module = await attentionModel(name, opts);
      const n = "n" in opts ? opts.n : S;
      const { fused, nodes } = runBoth(module, { x: xOf([B, H, S, n]), s: scalar(0.25), mask: maskOf([...maskDims]) });
      expectSameBits(fused.p!, nodes.p!);
    }
  });

  it("is not fused where the scaled scores are returned or read again", async () => {
    for (const extra of ["output", "second-reader"] as const) {
      const module = await attentionModel(`kept-${extra}`, { extra });
      const { fused, nodes, stored } = runBoth(module, { x: xOf([B, H, S, S]), s: scalar(0.25), mask: maskOf([B, 1, S, S]) });
      for (const name of Object.keys(nodes)) expectSameBits(fused[name]!, nodes[name]!);
      expect(stored).toContain("t");
    }
  });

  it("the example transformers give the same bits fused and node by node", async () => {
    for (const file of ["llama-tiny.torchscript.onnx", "gpt2-tiny.torchscript.onnx", "bert-tiny.torchscript.onnx", "llama-tiny.dynamo.onnx"]) {
      const path = join(import.meta.dirname, "..", "..", "examples", "models", file);
      const { module } = await loadModel(path);
      const ids = tensorFromValues("i64", [2, 12], Array.from({ length: 24 }, (_, i) => BigInt((i * 37) % 500)));
      const inputs: Record<string, Tensor> = { input_ids: ids };
      if (module.graphs[0]!.inputs.includes("attention_mask")) inputs["attention_mask"] = tensorFromValues("i64", [2, 12], Array.from({ length: 24 }, (_, i) => BigInt(i % 12 < 9 || i < 12 ? 1 : 0)));
      const stored: string[] = [];
      const fused = run(module, inputs, { modelDir: join(path, ".."), trace: (e, v) => e === "store" && stored.push(v) }).outputs;
      const nodes = run(module, inputs, { modelDir: join(path, ".."), fuse: false }).outputs;
      for (const name of Object.keys(nodes)) expectSameBits(fused[name]!, nodes[name]!);
      const softmaxInputs = module.graphs[0]!.nodes.filter((n) => n.op === "Softmax").map((n) => n.inputs[0]!);
      expect(softmaxInputs.length, file).toBeGreaterThan(0);
      expect(stored.filter((v) => softmaxInputs.includes(v)), `${file}: masked scores stored`).toEqual([]);
    }
  });
});

describe("Transpose -> MatMul", () => {
  /** MatMul(Transpose(x, permA) or x, Transpose(y, permB) or y); `extra` returns or re-reads the transposed A. */
  async function transposedModel(name: string, xDims: number[], yDims: (number | string)[], permA: number[] | null | "default", permB: number[] | null | "default", extra: "none" | "output" = "none"): Promise<Module> {
    const nodes = [];
    const operand = (v: string, perm: number[] | null | "default", t: string) => {
      if (perm === null) return v;
      nodes.push(node("Transpose", [v], [t], perm === "default" ? {} : { perm }, `transpose-${v}`));
      return t;
    };
    const a = operand("x", permA, "xt"), b = operand("y", permB, "yt");
    nodes.push(node("MatMul", [a, b], ["z"], {}, "matmul"));
    const outputs = extra === "output" && a !== "x" ? ["z", a] : ["z"];
    const path = writeModel(join(dir, `${name}.onnx`), model({
      inputs: [valueInfo("x", ONNX_FLOAT, xDims), valueInfo("y", ONNX_FLOAT, yDims)], outputs, initializers: [], nodes,
    }));
    return (await loadModel(path, { passes: "" })).module;
  }

  it("reads transposed operands through strides, with the bits of the nodes and without storing them", async () => {
    const cases: [string, number[], number[], number[] | null | "default", number[] | null | "default"][] = [
      ["keys", [2, 3, 8, 5], [2, 3, 8, 5], null, [0, 1, 3, 2]], // Q K^T
      ["heads", [2, 8, 3, 5], [2, 3, 5, 7], [0, 2, 1, 3], null], // [b, s, h, d] -> [b, h, s, d]
      ["both", [2, 8, 3, 5], [2, 8, 3, 5], [0, 2, 1, 3], [0, 2, 3, 1]],
      ["broadcast-batch", [3, 6, 4], [1, 5, 6], [0, 2, 1], [0, 2, 1]],
      ["2-d default perm", [9, 4], [6, 9], "default", "default"],
      ["wide", [1, 300, 40], [40, 70], [0, 1, 2], null],
    ];
    for (const [name, xDims, yDims, permA, permB] of cases) {
      const module = await transposedModel(name.replace(/ /g, "-"), xDims, yDims, permA, permB);
      const { fused, nodes, stored } = runBoth(module, { x: xOf(xDims), y: xOf(yDims) });
      expectSameBits(fused.z!, nodes.z!);
      expect(stored.filter((v) => v === "xt" || v === "yt"), name).toEqual([]);
    }
  });

  it("fails as the nodes do on mismatched shapes, and is not fused where the transposed value is returned", async () => {
    const message = (m: Module, inputs: Record<string, Tensor>, fuse: boolean) => {
      try {
        run(m, inputs, { modelDir: dir, fuse });
      } catch (err) {
        return (err as Error).message;
      }
      return "no error";
    };
    const mismatched = await transposedModel("mismatch", [2, 3, 4], ["k", 5], [0, 2, 1], null);
    const inputs = { x: xOf([2, 3, 4]), y: xOf([4, 5]) };
    expect(message(mismatched, inputs, true)).toBe(message(mismatched, inputs, false));
    expect(message(mismatched, inputs, true)).toMatch(/inner dims/);
    const kept = await transposedModel("kept", [2, 8, 3, 5], [2, 3, 5, 7], [0, 2, 1, 3], null, "output");
    const { fused, nodes, stored } = runBoth(kept, { x: xOf([2, 8, 3, 5]), y: xOf([2, 3, 5, 7]) });
    expectSameBits(fused.z!, nodes.z!);
    expect(stored).toContain("xt");
  });
});

describe("Attention", () => {
  const B = 2, H = 3;
  interface Shape {
    readonly queries: number;
    readonly keys: number;
    readonly d: number;
    readonly dv: number;
  }
  interface Options {
    readonly scale?: "Mul" | "Div" | "scale-first" | null;
    readonly maskDims?: readonly number[] | null;
    /** Q, K and V as [b, s, h, d] moved by Transposes (as gpt2 and bert export them), or Q, V as [b, h, s, d] and K transposed (llama). */
    readonly layout?: "bshd" | "bhsd";
    readonly casts?: number;
    readonly extra?: "none" | "probs-output";
  }
  /** softmax(Q K^T op s + mask) V as exporters write it; the value names inside are scores, scaled, masked, probs, cast0... */
  async function attentionGraph(name: string, shape: Shape, opts: Options = {}): Promise<Module> {
    const { queries, keys, d, dv } = shape;
    const { scale = "Mul", maskDims = [B, 1, queries, keys], layout = "bshd", casts = 0, extra = "none" } = opts;
    const nodes = [];
    const bshd = layout === "bshd";
    const transposed = (input: string, perm: number[]) => {
      nodes.push(node("Transpose", [input], [`${input}t`], { perm }, `transpose-${input}`));
      return `${input}t`;
    };
    const q = bshd ? transposed("q", [0, 2, 1, 3]) : "q", kt = transposed("k", bshd ? [0, 2, 3, 1] : [0, 1, 3, 2]), v = bshd ? transposed("v", [0, 2, 1, 3]) : "v";
    nodes.push(node("MatMul", [q, kt], ["scores"], {}, "qk"));
    let x = "scores";
    if (scale) {
      nodes.push(node(scale === "scale-first" ? "Mul" : scale, scale === "scale-first" ? ["s", x] : [x, "s"], ["scaled"], {}, "scale"));
      x = "scaled";
    }
    if (maskDims) {
      nodes.push(node("Add", ["mask", x], ["masked"], {}, "mask"));
      x = "masked";
    }
    nodes.push(node("Softmax", [x], ["probs"], { axis: -1 }, "softmax"));
    x = "probs";
    for (let c = 0; c < casts; c++) {
      nodes.push(node("Cast", [x], [`cast${c}`], { to: ONNX_FLOAT }, `cast-${c}`));
      x = `cast${c}`;
    }
    nodes.push(node("MatMul", [x, v], ["context"], {}, "pv"));
    const dims = (seq: number, width: number) => (bshd ? [B, seq, H, width] : [B, H, seq, width]);
    const inputs = [valueInfo("q", ONNX_FLOAT, dims(queries, d)), valueInfo("k", ONNX_FLOAT, dims(keys, d)), valueInfo("v", ONNX_FLOAT, dims(keys, dv))];
    if (scale) inputs.push(valueInfo("s", ONNX_FLOAT, []));
    if (maskDims) inputs.push(valueInfo("mask", ONNX_FLOAT, [...maskDims]));
    const outputs = extra === "probs-output" ? ["context", "probs"] : ["context"];
    const path = writeModel(join(dir, `${name}.onnx`), model({ inputs, outputs, initializers: [], nodes }));
    return (await loadModel(path, { passes: "" })).module;
  }
  const causal = (dims: readonly number[]) => {
    const t = xOf([...dims]), data = t.data as Float32Array, n = dims[dims.length - 1]!, rows = dims[dims.length - 2]!;
    for (let i = 0; i < data.length; i++) if (i % n > ((i / n) | 0) % rows) data[i] = i % 2 ? -Infinity : -3.4028234663852886e38;
    return t;
  };
  function inputsOf(shape: Shape, opts: Options, s = 0.25): Record<string, Tensor> {
    const { queries, keys, d, dv } = shape, { scale = "Mul", maskDims = [B, 1, queries, keys], layout = "bshd" } = opts;
    const dims = (seq: number, width: number) => (layout === "bshd" ? [B, seq, H, width] : [B, H, seq, width]);
    const inputs: Record<string, Tensor> = { q: xOf(dims(queries, d)), k: xOf(dims(keys, d)), v: xOf(dims(keys, dv)) };
    if (scale) inputs["s"] = tensorFromValues("f32", [], [s]);
    if (maskDims) inputs["mask"] = causal(maskDims);
    return inputs;
  }
  const inside = ["scores", "scaled", "masked", "probs", "cast0", "cast1", "qt", "kt", "vt"];

  it("gives the bits of the nodes, without storing scores or probabilities, on one thread and on two", async () => {
    const shapes: [string, Shape, Options][] = [
      ["gpt2-like", { queries: 8, keys: 8, d: 16, dv: 16 }, {}],
      ["llama-like", { queries: 12, keys: 12, d: 8, dv: 8 }, { layout: "bhsd", casts: 2 }],
      ["rows-and-keys-left-over", { queries: 5, keys: 12, d: 4, dv: 24 }, { scale: "Div" }],
      ["scale-first, padding mask", { queries: 9, keys: 20, d: 12, dv: 8 }, { scale: "scale-first", maskDims: [B, 1, 1, 20] }],
      ["no scale, 2-d mask", { queries: 3, keys: 4, d: 8, dv: 16 }, { scale: null, maskDims: [3, 4] }],
      ["no mask", { queries: 16, keys: 16, d: 16, dv: 8 }, { maskDims: null, casts: 1 }],
      ["per-head mask", { queries: 4, keys: 8, d: 8, dv: 8 }, { maskDims: [1, H, 4, 8] }],
    ];
    for (const [name, shape, opts] of shapes) {
      const module = await attentionGraph(name.replace(/[ ,]+/g, "-"), shape, opts);
      const inputs = inputsOf(shape, opts);
      const nodes = run(module, inputs, { modelDir: dir, fuse: false }).outputs;
      for (const threads of [1, 2]) {
        const previous = setGemmThreads(threads);
        try {
          const stored: string[] = [];
          const fused = run(module, inputs, { modelDir: dir, trace: (e, v) => e === "store" && stored.push(v) }).outputs;
          expectSameBits(fused.context!, nodes.context!);
          expect(stored.filter((v) => inside.includes(v)), `${name}, ${threads} threads`).toEqual([]);
        } finally {
          setGemmThreads(previous);
        }
      }
    }
  });

  it("NaN and infinite inputs spread as in the nodes", async () => {
    const shape = { queries: 8, keys: 8, d: 8, dv: 8 };
    const module = await attentionGraph("nan", shape);
    const inputs = inputsOf(shape, {});
    (inputs["q"]!.data as Float32Array)[5] = NaN;
    (inputs["k"]!.data as Float32Array)[17] = Infinity;
    (inputs["v"]!.data as Float32Array)[40] = -Infinity;
    const { fused, nodes } = runBoth(module, inputs);
    expectSameBits(fused.context!, nodes.context!);
    expect((fused.context!.data as Float32Array).some(Number.isNaN)).toBe(true);
  });

  it("sums more keys than a GEMM block in the GEMM's blocks", async () => {
    for (const keys of [260, 520]) {
      const shape = { queries: 5, keys, d: 8, dv: 16 };
      const module = await attentionGraph(`keys-${keys}`, shape, { layout: "bhsd", maskDims: [B, 1, 5, keys] });
      const { fused, nodes, stored } = runBoth(module, inputsOf(shape, { layout: "bhsd", maskDims: [B, 1, 5, keys] }));
      expectSameBits(fused.context!, nodes.context!);
      expect(stored.filter((v) => inside.includes(v)), `${keys} keys`).toEqual([]);
    }
  });

  it("runs the steps separately where the kernel does not apply: odd key counts, head sizes, a head over a GEMM block", async () => {
    const shapes: [string, Shape][] = [
      ["odd-keys", { queries: 7, keys: 7, d: 8, dv: 8 }], ["odd-d", { queries: 4, keys: 8, d: 6, dv: 8 }],
      ["odd-dv", { queries: 4, keys: 8, d: 8, dv: 12 }], ["wide-head", { queries: 4, keys: 8, d: 260, dv: 8 }],
    ];
    for (const [name, shape] of shapes) {
      const module = await attentionGraph(name, shape);
      const { fused, nodes, stored } = runBoth(module, inputsOf(shape, {}));
      expectSameBits(fused.context!, nodes.context!);
      expect(stored.filter((v) => v === "scaled" || v === "masked"), name).toEqual([]); // the scaled softmax still runs fused
    }
  });

  it("is not fused where the probabilities are returned", async () => {
    const shape = { queries: 8, keys: 8, d: 8, dv: 8 };
    const module = await attentionGraph("probs-output", shape, { extra: "probs-output" });
    const { fused, nodes, stored } = runBoth(module, inputsOf(shape, {}));
    for (const name of Object.keys(nodes)) expectSameBits(fused[name]!, nodes[name]!);
    expect(stored).toContain("probs");
  });
});

describe("RMS normalisation", () => {
  const N = 16;
  interface Options {
    /** torchscript: axes attribute, Div(1, .), a Cast, weight first; dynamo: axes input (opset 18), Reciprocal, weight second. */
    readonly form?: "torchscript" | "dynamo";
    readonly n?: number;
    readonly exponent?: number;
    readonly axes?: readonly number[];
    readonly weightDims?: readonly number[];
    readonly extra?: "none" | "mean-output";
  }
  async function rmsGraph(name: string, opts: Options = {}): Promise<Module> {
    const { form = "torchscript", n = N, exponent = 2, axes = [-1], weightDims = [n], extra = "none" } = opts;
    const torch = form === "torchscript";
    const nodes = [node("Pow", ["x", "two"], ["squares"], {}, "pow")];
    nodes.push(torch ? node("ReduceMean", ["squares"], ["mean"], { axes: [...axes], keepdims: 1 }, "mean") : node("ReduceMean", ["squares", "axes"], ["mean"], { keepdims: 1 }, "mean"));
    nodes.push(node("Add", torch ? ["mean", "eps"] : ["eps", "mean"], ["var"], {}, "eps"), node("Sqrt", ["var"], ["root"], {}, "sqrt"));
    nodes.push(torch ? node("Div", ["one", "root"], ["inv"], {}, "inv") : node("Reciprocal", ["root"], ["inv"], {}, "inv"));
    nodes.push(node("Mul", torch ? ["x", "inv"] : ["inv", "x"], ["normed"], {}, "scale"));
    let y = "normed";
    if (torch) {
      nodes.push(node("Cast", ["normed"], ["cast"], { to: ONNX_FLOAT }, "cast"));
      y = "cast";
    }
    nodes.push(node("Mul", torch ? ["w", y] : [y, "w"], ["y"], {}, "weight"));
    const size = weightDims.reduce((p, d) => p * d, 1);
    const initializers = [
      floatTensor("two", [], [exponent]), floatTensor("eps", [], [1e-6]), floatTensor("one", [], [1]),
      floatTensor("w", [...weightDims], Array.from({ length: size }, (_, i) => 0.5 + (i % 7) / 3)),
      ...(torch ? [] : [int64Tensor("axes", [axes.length], [...axes])]),
    ];
    const outputs = extra === "mean-output" ? ["y", "mean"] : ["y"];
    const path = writeModel(join(dir, `${name}.onnx`), model({ inputs: [valueInfo("x", ONNX_FLOAT, [2, 5, n])], outputs, initializers, nodes, opset: torch ? 17 : 18 }));
    return (await loadModel(path, { passes: "" })).module;
  }
  const inside = ["squares", "mean", "var", "root", "inv", "normed", "cast"];
  const xOfRow = (n: number) => {
    const x = xOf([2, 5, n]), d = x.data as Float32Array;
    for (let i = 0; i < d.length; i += 7) d[i] = d[i]! * 1e6; // wide range of squares
    d[n] = 0; // one row with a zero
    return x;
  };

  it("gives the bits of the nodes in both exporters' forms, without storing the intermediate values", async () => {
    for (const form of ["torchscript", "dynamo"] as const) {
      for (const [name, opts] of [["plain", {}], ["weight-with-leading-1s", { weightDims: [1, 1, N] }], ["wide", { n: 64 }]] as const) {
        const module = await rmsGraph(`rms-${form}-${name}`, { form, ...opts });
        const n = "n" in opts ? opts.n : N;
        const stored: string[] = [];
        const inputs = { x: xOfRow(n) };
        const fused = run(module, inputs, { modelDir: dir, trace: (e, v) => e === "store" && stored.push(v) }).outputs;
        const nodes = run(module, inputs, { modelDir: dir, fuse: false }).outputs;
        expectSameBits(fused.y!, nodes.y!);
        expect(stored.filter((v) => inside.includes(v)), `${form} ${name}`).toEqual([]);
      }
    }
  });

  it("NaN and infinity spread as in the nodes", async () => {
    const module = await rmsGraph("rms-nan");
    const x = xOfRow(N), d = x.data as Float32Array;
    d[3] = NaN;
    d[N * 2 + 1] = Infinity;
    d[N * 4 + 2] = 3e38; // its square overflows
    const { fused, nodes } = runBoth(module, { x });
    expectSameBits(fused.y!, nodes.y!);
  });

  it("runs the nodes where the kernel does not apply: a row not a multiple of 4, another axis, another exponent, a full weight", async () => {
    const cases: [string, Options][] = [
      ["odd-row", { n: 6, weightDims: [6] }], ["axis", { axes: [1], weightDims: [1, 5, 1] }], ["cube", { exponent: 3 }],
      ["full-weight", { weightDims: [2, 5, N] }], ["dynamo-axis", { form: "dynamo", axes: [0], weightDims: [2, 1, 1] }],
    ];
    for (const [name, opts] of cases) {
      const module = await rmsGraph(`rms-fallback-${name}`, opts);
      const { fused, nodes } = runBoth(module, { x: xOfRow(opts.n ?? N) });
      expectSameBits(fused.y!, nodes.y!);
    }
  });

  it("is not fused where the mean is returned", async () => {
    const module = await rmsGraph("rms-kept", { extra: "mean-output" });
    const { fused, nodes, stored } = runBoth(module, { x: xOfRow(N) });
    for (const name of Object.keys(nodes)) expectSameBits(fused[name]!, nodes[name]!);
    expect(stored).toContain("mean");
  });
});

describe("Activations", () => {
  const CONSTANTS: Record<string, number> = { half: 0.5, k: 0.044715, c: Math.sqrt(2 / Math.PI), one: 1, root2: 1.4142135381698608 };
  /** The pattern's expression written as nodes (Add and Mul operands swapped with `swap`), its inputs [4, 6, width]. */
  async function activationGraph(pattern: ActivationPattern, opts: { swap?: boolean; width?: number; widths?: Record<string, number[]>; extra?: boolean } = {}): Promise<Module> {
    const { swap = false, width = 12, widths = {}, extra = false } = opts;
    const nodes: ReturnType<typeof node>[] = [];
    let count = 0;
    const emit = (e: Expr): string => {
      if (typeof e === "string") return e;
      const operands = e.slice(1).map(emit);
      const out = e === pattern.expr ? "y" : `t${count++}`;
      nodes.push(node(e[0], swap && COMMUTATIVE.has(e[0]) ? operands.reverse() : operands, [out], {}, `n-${out}`));
      return out;
    };
    emit(pattern.expr);
    const path = writeModel(join(dir, `act-${pattern.name}-${swap}-${width}-${extra}-${Object.keys(widths).join("")}.onnx`), model({
      inputs: pattern.inputs.map((name) => valueInfo(name, ONNX_FLOAT, widths[name] ?? [4, 6, width])),
      outputs: extra ? ["y", "t0"] : ["y"],
      initializers: pattern.constants.map((name) => floatTensor(name, [], [CONSTANTS[name]!])), nodes,
    }));
    return (await loadModel(path, { passes: "" })).module;
  }
  const inputsOf = (pattern: ActivationPattern, dims: Record<string, number[]> = {}, width = 12) => {
    const inputs = Object.fromEntries(pattern.inputs.map((name) => {
      const x = xOf(dims[name] ?? [4, 6, width]), d = x.data as Float32Array;
      for (let i = 0; i < d.length; i++) d[i] = d[i]! * 12;
      return [name, x];
    }));
    const first = inputs[pattern.inputs[0]!]!.data as Float32Array;
    [first[1], first[2], first[3], first[4]] = [NaN, Infinity, -Infinity, -0];
    return inputs;
  };

  it("each pattern gives the bits of its nodes, either way round, without storing what is inside", async () => {
    for (const pattern of ACTIVATIONS) {
      for (const swap of [false, true]) {
        for (const width of [12, 7]) { // a length not a multiple of 4 too
          const module = await activationGraph(pattern, { swap, width });
          const stored: string[] = [];
          const inputs = inputsOf(pattern, {}, width);
          const fused = run(module, inputs, { modelDir: dir, trace: (e, v) => e === "store" && stored.push(v) }).outputs;
          const nodes = run(module, inputs, { modelDir: dir, fuse: false }).outputs;
          expectSameBits(fused.y!, nodes.y!);
          expect(stored.filter((v) => /^t\d+$/.test(v)), `${pattern.name} swap ${swap}`).toEqual([]);
        }
      }
    }
  });

  it("runs the nodes where inputs broadcast, and is not fused where an inner value is returned", async () => {
    const gate = ACTIVATIONS.find((p) => p.name === "silu_gate")!;
    const broadcast = await activationGraph(gate, { widths: { up: [12] } });
    const inputs = inputsOf(gate, { up: [12] });
    const both = runBoth(broadcast, inputs);
    expectSameBits(both.fused.y!, both.nodes.y!);
    const kept = await activationGraph(gate, { extra: true });
    const { fused, nodes, stored } = runBoth(kept, inputsOf(gate));
    for (const name of Object.keys(nodes)) expectSameBits(fused[name]!, nodes[name]!);
    expect(stored).toContain("t0");
  });

  it("the example models' attention, normalisation and activations run fused", async () => {
    const expected: Record<string, string[]> = {
      "llama-tiny.torchscript.onnx": ["Attention", "RMSNorm", "silu_gate", "Rotary"], "llama-tiny.dynamo.onnx": ["Attention", "RMSNorm", "silu_gate", "Rotary"],
      "gpt2-tiny.torchscript.onnx": ["Attention", "gelu_tanh"], "bert-tiny.torchscript.onnx": ["Attention", "gelu_erf"],
    };
    for (const [file, labels] of Object.entries(expected)) {
      const path = join(import.meta.dirname, "..", "..", "examples", "models", file);
      const { module } = await loadModel(path);
      const inputs: Record<string, Tensor> = { input_ids: tensorFromValues("i64", [2, 12], Array.from({ length: 24 }, (_, i) => BigInt((i * 37) % 500))) };
      if (module.graphs[0]!.inputs.includes("attention_mask")) inputs["attention_mask"] = tensorFromValues("i64", [2, 12], new Array(24).fill(1n));
      const ops = new Set(run(module, inputs, { modelDir: join(path, ".."), profile: true }).profile!.map((p) => p.op));
      for (const label of labels) expect(ops.has(label), `${file}: ${label}`).toBe(true);
    }
  });
});

describe("MatMul -> Add(bias)", () => {
  /** x [2, 9, k] times w [k, n], plus a bias `biasDims` (either way round); `kept` also returns the product. */
  async function linearGraph(name: string, k: number, n: number, biasDims: number[], biasFirst: boolean, kept = false): Promise<Module> {
    const nodes = [node("MatMul", ["x", "w"], ["product"], {}, "matmul"), node("Add", biasFirst ? ["b", "product"] : ["product", "b"], ["y"], {}, "bias")];
    const size = biasDims.reduce((p, d) => p * d, 1);
    const path = writeModel(join(dir, `${name}.onnx`), model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2, 9, k])], outputs: kept ? ["y", "product"] : ["y"], nodes,
      initializers: [floatTensor("w", [k, n], Array.from({ length: k * n }, rnd)), floatTensor("b", biasDims, Array.from({ length: size }, rnd))],
    }));
    return (await loadModel(path, { passes: "" })).module;
  }

  it("adds the bias in the GEMM with the bits of the two nodes, where K fits one block and where it does not", async () => {
    const cases: [string, number, number, number[], boolean][] = [
      ["row", 64, 24, [24], false], ["row-first", 40, 16, [1, 1, 16], true], ["odd-columns", 32, 13, [13], false],
      ["long-k", 300, 16, [16], false], ["full-bias", 32, 8, [2, 9, 8], false],
    ];
    for (const [name, k, n, biasDims, first] of cases) {
      const module = await linearGraph(`linear-${name}`, k, n, biasDims, first);
      const x = xOf([2, 9, k]);
      (x.data as Float32Array)[5] = NaN;
      const { fused, nodes, stored } = runBoth(module, { x });
      expectSameBits(fused.y!, nodes.y!);
      expect(stored, name).not.toContain("product");
    }
  });

  it("is not fused where the product is returned", async () => {
    const module = await linearGraph("linear-kept", 32, 8, [8], false, true);
    const { fused, nodes, stored } = runBoth(module, { x: xOf([2, 9, 32]) });
    for (const name of Object.keys(nodes)) expectSameBits(fused[name]!, nodes[name]!);
    expect(stored).toContain("product");
  });

  it("Gemm adds a row of C in the kernel with the bits of adding it after", () => {
    const a = xOf([70, 48]), b = xOf([48, 20]), row = xOf([20]);
    const withRow = gemmKernel(a, b, row, 1, 1, false, false);
    const product = gemmKernel(a, b, undefined, 1, 1, false, false), pd = product.data as Float32Array;
    for (let i = 0; i < pd.length; i++) pd[i] = Math.fround(pd[i]! + (row.data as Float32Array)[i % 20]!);
    expectSameBits(withRow, product);
  });
});

describe("Rotary embedding", () => {
  /** x [2, 3, 5, d] rotated by cos and sin [1, 1, 5, d] as Llama exports write it; `split` moves the halves' bound. */
  async function rotaryGraph(name: string, d: number, split = d / 2): Promise<Module> {
    const nodes = [
      node("Mul", ["x", "cos"], ["xc"], {}, "mul-cos"),
      node("Slice", ["x", "mid", "big", "last", "one"], ["x2"], {}, "x2"),
      node("Slice", ["x", "zero", "mid", "last", "one"], ["x1"], {}, "x1"),
      node("Neg", ["x2"], ["negx2"], {}, "neg"),
      node("Concat", ["negx2", "x1"], ["rotated"], { axis: -1 }, "concat"),
      node("Mul", ["rotated", "sin"], ["rs"], {}, "mul-sin"),
      node("Add", ["xc", "rs"], ["y"], {}, "add"),
    ];
    const path = writeModel(join(dir, `${name}.onnx`), model({
      inputs: [valueInfo("x", ONNX_FLOAT, [2, 3, 5, d]), valueInfo("cos", ONNX_FLOAT, [1, 1, 5, d]), valueInfo("sin", ONNX_FLOAT, [1, 1, 5, d])],
      outputs: ["y"], nodes,
      initializers: [int64Tensor("mid", [1], [split]), int64Tensor("big", [1], [2 ** 53 - 1]), int64Tensor("zero", [1], [0]), int64Tensor("last", [1], [-1]), int64Tensor("one", [1], [1])],
    }));
    return (await loadModel(path, { passes: "" })).module;
  }

  it("gives the bits of the seven nodes, on SIMD rows (a multiple of 8) and in JavaScript, without storing what is inside", async () => {
    for (const d of [16, 6]) {
      const module = await rotaryGraph(`rotary-${d}`, d);
      const x = xOf([2, 3, 5, d]);
      (x.data as Float32Array)[1] = NaN;
      const { fused, nodes, stored } = runBoth(module, { x, cos: xOf([1, 1, 5, d]), sin: xOf([1, 1, 5, d]) });
      expectSameBits(fused.y!, nodes.y!);
      expect(stored.filter((v) => ["xc", "x1", "x2", "negx2", "rotated", "rs"].includes(v)), `d ${d}`).toEqual([]);
    }
  });

  it("runs the nodes where the halves are not halves", async () => {
    const module = await rotaryGraph("rotary-third", 12, 4);
    const { fused, nodes } = runBoth(module, { x: xOf([2, 3, 5, 12]), cos: xOf([1, 1, 5, 12]), sin: xOf([1, 1, 5, 12]) });
    expectSameBits(fused.y!, nodes.y!);
  });
});
