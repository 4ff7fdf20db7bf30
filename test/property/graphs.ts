// Random ONNX graphs of the supported ops, for the property that a plan the
// compiler writes always runs (plans.test.ts, run-long.ts). A graph is a list
// of steps (fast-check shrinks it to the fewest that fail) applied to a pool of
// values that starts with a float activation x [batch, sequence, H] and token
// ids [batch, sequence]. Steps pick their operands from the pool by index, so
// any list is a valid graph: pointwise ops, broadcasts, matrix products with
// weights (large ones stored as weights, small ones as literals), biases, row
// ops, reductions, data movement (transpose, concat, slice, split, expand,
// reshape), embedding lookups, and integer work whose values a host kernel
// reads: a CumSum over the ids (the host can compute it) and an ArgMax over
// an activation (it depends on weights, so it is read back from the device).

import fc from "fast-check";
import type { NodeProto, TensorProto, ValueInfoProto } from "../../compiler/onnx/proto.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import { ONNX_FLOAT, ONNX_INT64, floatTensor, int64Tensor, model, node, valueInfo } from "../support/onnx-builder.js";
import type { ModelProto } from "../../compiler/onnx/proto.js";

/** Rows of every embedding table (ids and ArgMax results stay below it). */
export const VOCAB = 160;
const WIDTHS = [4, 8, 12, 24, 40, 136, 264] as const;

export const STEP_OPS = [
  "unary", "binary", "broadcast", "matmul", "linear", "softmax", "layernorm", "reduce", "transpose", "concat", "slice",
  "split", "expand", "reshape", "embed", "cumsum", "argmax",
] as const;

export interface Step {
  readonly op: (typeof STEP_OPS)[number];
  readonly a: number;
  readonly b: number;
  readonly width: number;
}

export interface GraphSpec {
  readonly hidden: number;
  readonly steps: readonly Step[];
  readonly seed: number;
}

export const graphSpec: fc.Arbitrary<GraphSpec> = fc.record({
  hidden: fc.constantFrom(...WIDTHS),
  steps: fc.array(fc.record({ op: fc.constantFrom(...STEP_OPS), a: fc.nat(64), b: fc.nat(64), width: fc.constantFrom(...WIDTHS) }), { minLength: 1, maxLength: 10 }),
  seed: fc.nat(1 << 20),
});

export const dims = fc.record({ batch: fc.constantFrom(1, 2, 3), seq: fc.constantFrom(1, 2, 5, 8, 16, 33, 64, 128, 257) });

type Dim = number | string;
interface Value { readonly name: string; readonly dtype: "f32" | "i64"; readonly shape: readonly Dim[] }

/** The ONNX model a spec describes, and a description of its steps for messages. */
export function buildGraph(spec: GraphSpec): { model: ModelProto; text: string } {
  const random = seededRandom(spec.seed);
  const values = (n: number) => Array.from({ length: n }, () => random() * 2 - 1);
  const nodes: NodeProto[] = [], initializers: TensorProto[] = [], lines: string[] = [];
  let counter = 0;
  const fresh = (stem: string) => `${stem}_${counter++}`;
  const floats: Value[] = [{ name: "x", dtype: "f32", shape: ["batch", "sequence", spec.hidden] }];
  const ints: Value[] = [{ name: "ids", dtype: "i64", shape: ["batch", "sequence"] }];
  const weight = (dimsOf: number[]) => {
    const name = fresh("w");
    initializers.push(floatTensor(name, dimsOf, values(dimsOf.reduce((p, d) => p * d, 1)).map((v) => v / Math.sqrt(dimsOf[0] ?? 1))));
    return name;
  };
  const ints64 = (list: number[]) => {
    const name = fresh("c");
    initializers.push(int64Tensor(name, [list.length], list));
    return name;
  };
  const add = (op: string, inputs: string[], outputs: Value[], attrs: Record<string, unknown> = {}) => {
    nodes.push(node(op, inputs, outputs.map((o) => o.name), attrs, fresh(op.toLowerCase())));
    lines.push(`${outputs.map((o) => `${o.name}[${o.shape.join(",")}]`).join(", ")} = ${op}(${inputs.join(", ")})`);
    for (const o of outputs) (o.dtype === "f32" ? floats : ints).push(o);
  };
  const last = (v: Value) => v.shape[v.shape.length - 1]!;
  const withLast = (v: Value, d: Dim): Dim[] => [...v.shape.slice(0, -1), d];
  for (const step of spec.steps) {
    const v = floats[step.a % floats.length]!, other = floats[step.b % floats.length]!;
    const L = last(v);
    const numeric = typeof L === "number";
    const out = (shape: Dim[], dtype: "f32" | "i64" = "f32"): Value => ({ name: fresh("v"), dtype, shape });
    switch (step.op) {
      case "unary":
        add(["Relu", "Neg", "Sigmoid", "Tanh", "Abs"][step.b % 5]!, [v.name], [out([...v.shape])]);
        break;
      case "binary": {
        const same = sameShape(v, other) ? other : v;
        add(["Add", "Sub", "Mul"][step.b % 3]!, [v.name, same.name], [out([...v.shape])]);
        break;
      }
      case "broadcast":
        if (numeric) add(step.b % 2 ? "Add" : "Mul", [v.name, weight([L])], [out([...v.shape])]);
        break;
      case "matmul":
        if (numeric) add("MatMul", [v.name, weight([L, step.width])], [out(withLast(v, step.width))]);
        break;
      case "linear":
        if (numeric) {
          const product = out(withLast(v, step.width));
          add("MatMul", [v.name, weight([L, step.width])], [product]);
          add("Add", [product.name, weight([step.width])], [out(withLast(v, step.width))]);
        }
        break;
      case "softmax":
        add("Softmax", [v.name], [out([...v.shape])], { axis: -1 });
        break;
      case "layernorm":
        if (numeric) add("LayerNormalization", [v.name, weight([L]), weight([L])], [out([...v.shape])], { axis: -1, epsilon: 1e-5 });
        break;
      case "reduce":
        add(step.b % 2 ? "ReduceMean" : "ReduceSum", [v.name, ints64([-1])], [out(withLast(v, 1))], { keepdims: 1 });
        break;
      case "transpose": {
        const r = v.shape.length, perm = [...Array(r).keys()];
        [perm[r - 1], perm[r - 2]] = [perm[r - 2]!, perm[r - 1]!];
        add("Transpose", [v.name], [out(perm.map((p) => v.shape[p]!))], { perm });
        break;
      }
      case "concat": {
        const same = sameShape(v, other) ? other : v;
        if (numeric) add("Concat", [v.name, same.name], [out(withLast(v, 2 * L))], { axis: -1 });
        break;
      }
      case "slice":
        if (numeric && L > 1) {
          const start = step.b % (L - 1), end = start + 1 + (step.width % (L - start));
          add("Slice", [v.name, ints64([start]), ints64([Math.min(L, end)]), ints64([-1])], [out(withLast(v, Math.min(L, end) - start))]);
        }
        break;
      case "split":
        if (numeric && L % 2 === 0) add("Split", [v.name], [out(withLast(v, L / 2)), out(withLast(v, L / 2))], { axis: -1, num_outputs: 2 });
        break;
      case "expand":
        if (v.shape.length === 3) {
          const unsqueezed = out([v.shape[0]!, 1, v.shape[1]!, v.shape[2]!]);
          add("Unsqueeze", [v.name, ints64([1])], [unsqueezed]);
          add("Expand", [unsqueezed.name, ints64([1, 2, 1, 1])], [out([v.shape[0]!, 2, v.shape[1]!, v.shape[2]!])]);
        }
        break;
      case "reshape":
        if (numeric && L % 2 === 0 && v.shape.length <= 3) add("Reshape", [v.name, ints64([...v.shape.slice(0, -1).map(() => 0), 2, L / 2])], [out([...v.shape.slice(0, -1), 2, L / 2])]);
        break;
      case "embed":
        add("Gather", [weight([VOCAB, spec.hidden]), "ids"], [out(["batch", "sequence", spec.hidden])], { axis: 0 });
        break;
      case "cumsum": {
        // Position-like integers from the ids: one of them, picked by a host Slice, moves the ids (the host computes the CumSum).
        const sums = out(["batch", "sequence"], "i64");
        add("CumSum", ["ids", initializersScalar(initializers, fresh("axis"), 1)], [sums]);
        pickOnHost(sums, 2, VOCAB);
        break;
      }
      case "argmax":
        if (numeric) {
          // An index that depends on weights: the host reads it back from the device, then a row of a table joins the activations.
          const index = out(withLast(v, 1), "i64");
          add("ArgMax", [v.name], [index], { axis: -1, keepdims: 1 });
          pickOnHost(index, v.shape.length, L);
        }
        break;
    }
  }

  /** A [1, ..., 1] corner of an integer value: a host kernel computing with a device value. */
  function pickOnHost(from: Value, rank: number, rows: number): void {
    const picked: Value = { name: fresh("pick"), dtype: "i64", shape: new Array(rank).fill(1) };
    add("Slice", [from.name, ints64(new Array(rank).fill(0)), ints64(new Array(rank).fill(1))], [picked]);
    // The corner is below `rows`: a CumSum's first element is an id, an ArgMax's below its row's length.
    const flat: Value = { name: fresh("flat"), dtype: "i64", shape: [1] };
    add("Reshape", [picked.name, ints64([1])], [flat]);
    const row: Value = { name: fresh("row"), dtype: "f32", shape: [1, spec.hidden] };
    add("Gather", [weight([rows, spec.hidden]), flat.name], [row], { axis: 0 });
    const target = floats.find((f) => f.shape.length >= 2 && f.shape[f.shape.length - 1] === spec.hidden);
    if (target) add("Add", [target.name, row.name], [{ name: fresh("v"), dtype: "f32", shape: [...target.shape] }]);
  }

  const outputs = [floats[floats.length - 1]!, ...(ints.length > 1 ? [ints[ints.length - 1]!] : [])];
  const inputs: ValueInfoProto[] = [valueInfo("x", ONNX_FLOAT, ["batch", "sequence", spec.hidden]), valueInfo("ids", ONNX_INT64, ["batch", "sequence"])];
  return {
    model: model({ nodes, inputs, outputs: outputs.map((o) => o.name), initializers, opset: 18 }),
    text: [`hidden ${spec.hidden}, seed ${spec.seed}`, ...lines, `outputs ${outputs.map((o) => o.name).join(", ")}`].join("\n"),
  };
}

function sameShape(a: Value, b: Value): boolean {
  return a.shape.length === b.shape.length && a.shape.every((d, i) => d === b.shape[i]);
}

function initializersScalar(list: TensorProto[], name: string, value: number): string {
  list.push(int64Tensor(name, [], [value]));
  return name;
}
