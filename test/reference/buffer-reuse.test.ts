// Buffer reuse in the reference backend: an intermediate's storage goes back to
// the pool only when no live value refers to it. Views (Reshape, Identity,
// Squeeze) share their input's storage, so a view that outlives its source's
// last direct use must keep that storage out of the pool; graph inputs,
// literals and returned outputs are never handed out again, even when one
// pool serves several runs. Each graph is run with fresh storage everywhere
// (buffers: false) and with reuse, and the answers must be equal.

import { describe, expect, it } from "vitest";
import type { Constant, Module, Node, TensorType } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { BufferPool, allocateOutput, allocateOverwritten, withBufferPool } from "../../targets/reference/kernels/buffers.js";
import { run } from "../../targets/reference/index.js";

const f32 = (dims: number[], values: number[]) => tensorFromValues("f32", dims, values);
const values = (t: Tensor | undefined) => Array.from(t!.data as ArrayLike<number | bigint>, Number);
const n = (op: string, inputs: string[], outputs: string[], name: string): Node => ({ op, domain: "", inputs, outputs, attrs: {}, name });

function handModule(nodes: Node[], inputs: Record<string, TensorType>, outputs: string[], constants: Map<string, Constant>): Module {
  return {
    name: "m", source: "m.tfg", irVersion: 8, producer: "test", opsets: { "": 17 },
    graphs: [{ name: "main", inputs: Object.keys(inputs), outputs, constants, nodes, types: new Map(Object.entries(inputs)) }],
  };
}

const shape = (dims: number[]): Constant => ({ kind: "literal", tensor: tensorFromValues("i64", [dims.length], dims) });

// a = Neg(x) is last read directly by the Reshape; its view v is read much later, after
// several same-sized values have been made and freed (each would take a's storage if
// the view were not counted). b is returned under another name through Identity.
const viewOutlivesSource = handModule([
  n("Neg", ["x"], ["a"], "neg"),
  n("Reshape", ["a", "s84"], ["v"], "view"),
  n("Relu", ["x"], ["b"], "relu"),
  n("Identity", ["b"], ["z"], "alias"),
  n("Neg", ["b"], ["c"], "neg2"),
  n("Sqrt", ["b"], ["d"], "sqrt"),
  n("Add", ["c", "d"], ["e"], "add"),
  n("Mul", ["e", "e"], ["f"], "square"),
  n("Reshape", ["v", "s48"], ["w"], "unview"),
  n("Sub", ["w", "f"], ["y"], "sub"),
], { x: { dtype: "f32", shape: [4, 8] } }, ["y", "z"], new Map([["s84", shape([8, 4])], ["s48", shape([4, 8])]]));

const x = f32([4, 8], Array.from({ length: 32 }, (_, i) => (i % 7) - 3 + i / 10));

describe("buffer reuse in the reference backend", () => {
  it("keeps a view's storage until the view's last use", () => {
    const fresh = run(viewOutlivesSource, { x }, { modelDir: ".", buffers: false }).outputs;
    const pool = new BufferPool();
    const reused = run(viewOutlivesSource, { x }, { modelDir: ".", buffers: pool }).outputs;
    expect(values(reused.y)).toEqual(values(fresh.y));
    expect(values(reused.z)).toEqual(values(fresh.z));
    expect(pool.reused).toBeGreaterThan(0); // the graph did recycle storage
  });

  it("never recycles inputs or outputs across runs that share a pool", () => {
    const pool = new BufferPool();
    const first = run(viewOutlivesSource, { x }, { modelDir: ".", buffers: pool }).outputs;
    const firstY = values(first.y), firstZ = values(first.z);
    // The first run's output (pool storage) is the second run's input, and is read after its last use.
    const second = run(viewOutlivesSource, { x: first.z! }, { modelDir: ".", buffers: pool }).outputs;
    run(viewOutlivesSource, { x }, { modelDir: ".", buffers: pool });
    expect(values(first.y)).toEqual(firstY);
    expect(values(first.z)).toEqual(firstZ);
    const expected = run(viewOutlivesSource, { x: f32([4, 8], firstZ) }, { modelDir: ".", buffers: false }).outputs;
    expect(values(second.y)).toEqual(values(expected.y));
    expect(values(x)).toEqual(Array.from({ length: 32 }, (_, i) => Math.fround((i % 7) - 3 + i / 10)));
  });

  it("hands out zeros from allocateOutput and stale storage only to allocateOverwritten", () => {
    const pool = new BufferPool();
    withBufferPool(pool, () => {
      const t = allocateOverwritten("f32", [16]);
      (t.data as Float32Array).fill(7);
      pool.give(t.data.buffer);
      expect(values(allocateOutput("f32", [4, 4]))).toEqual(new Array(16).fill(0));
      const big = allocateOverwritten("i64", [3]);
      expect(big.data).toBeInstanceOf(BigInt64Array);
    });
    expect(allocateOverwritten("f32", [2]).data.buffer).not.toBe(undefined); // no pool: fresh storage
    expect(pool.owns(new ArrayBuffer(64))).toBe(false);
  });
});
