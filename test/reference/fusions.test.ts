// Fused steps of the reference backend (targets/reference/fusions.ts) give
// exactly the values of running their nodes one by one: Gather -> MatMul with
// expert weights picked per token (negative indices, broadcast B, several
// columns), and where the fused kernel does not apply (an index out of range:
// the same error; a gathered value read twice or returned: not fused).

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Module } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor, tensorFromValues } from "../../ir/tensor.js";
import { loadModel } from "../../compiler/load.js";
import { run } from "../../targets/reference/index.js";
import { ONNX_FLOAT, ONNX_INT64, floatTensor, model, node, valueInfo, writeModel } from "../support/onnx-builder.js";

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
