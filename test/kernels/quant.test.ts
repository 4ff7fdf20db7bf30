// Quantized weights (ir/graph/ops/quant.ts): QuantizeLinear and DequantizeLinear
// per tensor, per axis and blocked for int8, uint8, int16, uint16, int4 and
// uint4, a DequantizeLinear -> MatMul chain of int4 blocked weights, and
// onnxruntime's MatMulNBits, each a small ONNX model run by onnxruntime-node
// and by tierflow (import, the default passes, the interpreter) on the same
// seeded inputs; float16 and bfloat16 initializers; int4 on disk and in the
// textual IR; what tierflow does not compute refused by name.
//
// Tolerances against onnxruntime 1.30 (x86-64), and what was measured:
// - QuantizeLinear, DequantizeLinear: exact (0), ties at .5 included (both round
//   half to even; the division and the multiply are one float32 operation each).
// - MatMulNBits at accuracy_level 0 to 3, and DequantizeLinear -> MatMul with
//   onnxruntime's optimiser off: 1e-4 relative (measured up to 1.4e-5); both
//   compute in float32 from the dequantized weight, only the order of the sums
//   differs. With a float16 A: 1e-3, one float16 step (measured 0).
// - MatMulNBits at accuracy_level 4, and DequantizeLinear -> MatMul that
//   onnxruntime's optimiser rewrites into MatMulNBits at level 4 by default:
//   2e-2 of the output's largest magnitude (measured 2.7e-3 to 6.1e-3).
//   onnxruntime quantizes A to int8 per block (scale max |a| / 127), so each
//   element of A is off by up to half a step, 0.4% of its block's largest; the
//   errors of K products add up like sqrt(K) with random signs. tierflow keeps
//   A in float32: the reference is the graph's arithmetic, not onnxruntime's
//   shortcut.
// - float16 and bfloat16 initializers: the Cast exact, a MatMul 1e-5 (6e-7).
// - The deployed int4 decoders (examples/deploy/) 1e-4 (measured 4e-6), the
//   int8 QDQ BERT 1e-5 (measured 0), onnxruntime running them as written.

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as ort from "onnxruntime-node";
import { loadModel } from "../../compiler/load.js";
import { compile } from "../../compiler/compile.js";
import { nodeFlops, summarize } from "../../compiler/analysis/summary.js";
import { seededRandom } from "../../compiler/seeded-random.js";
import type { NodeProto, TensorProto } from "../../compiler/onnx/proto.js";
import { decodeBytes } from "../../ir/tensor-bytes.js";
import type { DType } from "../../ir/dtype.js";
import { DTYPES, integerRange, isFloat } from "../../ir/dtype.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { printModule } from "../../ir/graph/printer.js";
import type { Tensor } from "../../ir/tensor.js";
import { tensorFromValues } from "../../ir/tensor.js";
import { run } from "../../targets/reference/index.js";
import { executePlan } from "../../targets/runtime/index.js";
import { parseGraphText } from "../../compiler/parse-text.js";
import { f16Bits } from "../../ir/tensor-bytes.js";
import { castTensor } from "../../targets/reference/kernels/cast.js";
import { model, node, typedTensor, valueInfo, writeModel } from "../support/onnx-builder.js";

const dir = mkdtempSync(join(tmpdir(), "tierflow-quant-"));
const MS = [{ domain: "com.microsoft", version: 1 }];

/** A graph input: float32 unless said otherwise (onnxruntime-node cannot feed int4). */
type Input = readonly [name: string, dims: readonly number[], dtype?: DType];

interface Case {
  readonly name: string;
  readonly nodes: readonly NodeProto[];
  readonly inputs?: readonly Input[];
  readonly initializers?: readonly TensorProto[];
  readonly outputs: readonly string[];
  readonly opset?: number;
  readonly contrib?: boolean;
  /** Largest |ours - theirs| / max(1, |theirs|) allowed; 0 is exact. */
  readonly tolerance: number;
  /** Outputs that must match exactly whatever the tolerance. */
  readonly exact?: readonly string[];
  /** Measure the error relative to the output's largest magnitude instead (accuracy_level 4). */
  readonly normwise?: boolean;
  /** Session options for onnxruntime (graph optimisations off keeps its own DequantizeLinear -> MatMul). */
  readonly ort?: ort.InferenceSession.SessionOptions;
}

let seed = 11;
const floats = (n: number, scale = 2) => {
  const random = seededRandom(seed++);
  return Array.from({ length: n }, () => (random() * 2 - 1) * scale);
};
/** Integers anywhere in a dtype's range. */
const ints = (n: number, dtype: DType) => {
  const random = seededRandom(seed++), [lo, hi] = integerRange(dtype);
  return Array.from({ length: n }, () => lo + Math.floor(random() * (hi - lo + 1)));
};
/** Positive scales. */
const scales = (n: number) => floats(n, 0.05).map((v) => Math.abs(v) + 0.01);
/** Multiples of a quarter: with a scale of 0.5, every odd one is a tie that rounds to even. */
const quarters = (n: number) => {
  const random = seededRandom(seed++);
  return Array.from({ length: n }, () => Math.round((random() * 2 - 1) * 40) / 4);
};
const count = (dims: readonly number[]) => dims.reduce((p, d) => p * d, 1);

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = { f32: "float32", i8: "int8", u8: "uint8", i16: "int16", u16: "uint16", i32: "int32" };

function writeCase(c: Case): string {
  const path = join(dir, `${c.name.replace(/\W+/g, "-")}.onnx`);
  writeModel(path, model({
    nodes: [...c.nodes], initializers: [...(c.initializers ?? [])], outputs: [...c.outputs],
    inputs: (c.inputs ?? []).map(([name, dims, dtype]) => valueInfo(name, DTYPES[dtype ?? "f32"].onnx, [...dims])),
    opset: c.opset ?? 21, irVersion: 10, extraOpsets: c.contrib ? MS : [],
  }));
  return path;
}

function feedsOf(c: Case): Record<string, Tensor> {
  return Object.fromEntries((c.inputs ?? []).map(([name, dims, dtype]) => {
    const d = dtype ?? "f32";
    const values = isFloat(d) ? quarters(count(dims)).map((v, i) => (i % 3 === 0 ? v : v + floats(1, 0.3)[0]!)) : ints(count(dims), d);
    // float16 inputs hold float16 values (tierflow keeps them widened; onnxruntime gets their bits).
    return [name, d === "f16" ? castTensor(tensorFromValues("f32", dims, values), "f16") : tensorFromValues(d, dims, values)];
  }));
}

/** onnxruntime's outputs as tierflow tensors (float16 comes back as its bits). */
async function onnxruntime(path: string, feeds: Record<string, Tensor>, options: ort.InferenceSession.SessionOptions = {}): Promise<Record<string, Tensor>> {
  const session = await ort.InferenceSession.create(path, options);
  try {
    const feed = (t: Tensor) => (t.dtype === "f16"
      ? new ort.Tensor("float16", Uint16Array.from(t.data as Float32Array, f16Bits), [...t.dims])
      : new ort.Tensor(ORT_TYPE[t.dtype]!, t.data as Float32Array, [...t.dims]));
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, feed(t)])));
    return Object.fromEntries(Object.entries(out).map(([n, t]) => {
      const dims = t.dims.map(Number);
      if (t.type === "float16") return [n, decodeBytes("f16", dims, new Uint8Array((t.data as Uint16Array).buffer, (t.data as Uint16Array).byteOffset, t.data.length * 2))];
      const dtype = (Object.entries(ORT_TYPE).find(([, v]) => v === t.type)?.[0] ?? "f32") as DType;
      return [n, tensorFromValues(dtype, dims, t.data as Float32Array)];
    }));
  } finally {
    await session.release();
  }
}

/** The largest error of `ours` against `theirs`: elementwise relative to max(1, |theirs|), or to theirs' largest magnitude. */
function worstError(ours: Tensor, theirs: Tensor, normwise: boolean): number {
  const a = ours.data as Float32Array, b = theirs.data as Float32Array;
  expect(a.length).toBe(b.length);
  let scale = 0;
  if (normwise) for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  let worst = 0;
  for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (normwise ? scale : Math.max(1, Math.abs(b[i]!))));
  return worst;
}

async function agrees(c: Case): Promise<void> {
  const path = writeCase(c);
  const feeds = feedsOf(c);
  const { module } = await loadModel(path);
  const ours = run(module, feeds, { modelDir: dir }).outputs;
  const theirs = await onnxruntime(path, feeds, c.ort);
  for (const name of c.outputs) {
    expect(ours[name]!.dtype, name).toBe(theirs[name]!.dtype);
    expect(ours[name]!.dims, name).toEqual(theirs[name]!.dims);
    const worst = worstError(ours[name]!, theirs[name]!, c.normwise ?? false);
    if (process.env.TIERFLOW_REPORT_ERRORS) console.log(`${c.name}: ${name} ${worst.toExponential(2)}`);
    expect(worst, `${c.name}: ${name}`).toBeLessThanOrEqual(c.exact?.includes(name) ? 0 : c.tolerance);
  }
}

// ---- DequantizeLinear and QuantizeLinear -------------------------------------

const DQ = (x: string, s: string, zp: string | undefined, attrs: Record<string, unknown> = {}, out = "y") =>
  node("DequantizeLinear", zp ? [x, s, zp] : [x, s], [out], attrs, `dq_${out}`);
const Q = (x: string, s: string, zp: string | undefined, attrs: Record<string, unknown> = {}, out = "y") =>
  node("QuantizeLinear", zp ? [x, s, zp] : [x, s], [out], attrs, `q_${out}`);

/** A DequantizeLinear of initializers: x of `dims`, scale and zero point of `paramDims` (`form` says how x is stored). */
function dqCase(name: string, dtype: DType, dims: number[], paramDims: number[], attrs: Record<string, unknown>, zp: boolean, form: "raw" | "typed" = "raw"): Case {
  const n = count(paramDims);
  return {
    name, tolerance: 0, outputs: ["y"], nodes: [DQ("x", "s", zp ? "z" : undefined, attrs)],
    initializers: [
      typedTensor("x", dtype, dims, ints(count(dims), dtype), form), typedTensor("s", "f32", paramDims, scales(n)),
      ...(zp ? [typedTensor("z", dtype, paramDims, ints(n, dtype))] : []),
    ],
  };
}

const DQ_CASES: Case[] = [
  dqCase("int8 per tensor", "i8", [3, 5], [], {}, true),
  dqCase("uint8 per tensor, no zero point", "u8", [7], [], {}, false),
  dqCase("int4 per tensor, odd count", "i4", [3, 5], [], {}, true),
  dqCase("uint4 per tensor in int32_data", "u4", [3, 5], [], {}, true, "typed"),
  dqCase("int4 per tensor in int32_data, odd count", "i4", [1, 7], [], {}, false, "typed"),
  dqCase("int8 per axis 0", "i8", [4, 7], [4], { axis: 0 }, true),
  dqCase("uint8 per axis 1", "u8", [3, 5, 2], [5], { axis: 1 }, true),
  dqCase("int4 per axis -1, odd count", "i4", [3, 5], [5], { axis: -1 }, true),
  dqCase("uint4 per axis 0", "u4", [5, 3], [5], { axis: 0 }, false),
  dqCase("int4 blocked along axis 1", "i4", [6, 10], [6, 3], { axis: 1, block_size: 4 }, true),
  dqCase("uint4 blocked along axis 0, odd count", "u4", [9, 5], [3, 5], { axis: 0, block_size: 4 }, true),
  dqCase("int8 blocked along the last axis", "i8", [2, 3, 8], [2, 3, 2], { axis: -1, block_size: 4 }, true),
  dqCase("uint8 blocked, no zero point", "u8", [5, 6], [5, 2], { axis: 1, block_size: 3 }, false),
  dqCase("int16 per axis", "i16", [4, 3], [3], { axis: 1 }, true),
  dqCase("uint16 per tensor", "u16", [5], [], {}, true),
  // 9600 int4 elements are 4800 bytes: a weight reference read at run time rather than a literal folded on import.
  dqCase("int4 blocked weight on disk", "i4", [96, 100], [6, 100], { axis: 0, block_size: 16 }, true),
  {
    name: "int8 activation fed at run time", tolerance: 0, outputs: ["y"], inputs: [["x", [4, 6], "i8"]],
    nodes: [DQ("x", "s", "z", { axis: 1 })], initializers: [typedTensor("s", "f32", [6], scales(6)), typedTensor("z", "i8", [6], ints(6, "i8"))],
  },
  {
    name: "float16 scale gives a float16 output", tolerance: 0, outputs: ["y"],
    nodes: [DQ("x", "s", "z", { axis: 0 })], initializers: [typedTensor("x", "i8", [3, 4], ints(12, "i8")), typedTensor("s", "f16", [3], scales(3)), typedTensor("z", "i8", [3], ints(3, "i8"))],
  },
  { ...dqCase("opset 13 per axis", "u8", [3, 4], [4], { axis: 1 }, true), opset: 13 },
  {
    name: "int32 (a bias) with its zero point of 0", tolerance: 0, outputs: ["y"], nodes: [DQ("x", "s", "z")],
    initializers: [typedTensor("x", "i32", [6], ints(6, "i32")), typedTensor("s", "f32", [], scales(1)), typedTensor("z", "i32", [], [0])],
  },
  {
    // onnxruntime's quantizer writes a scale [1] with a zero point []: both per tensor.
    name: "a scale [1] with a scalar zero point", tolerance: 0, outputs: ["y"], nodes: [DQ("x", "s", "z")],
    initializers: [typedTensor("x", "u8", [2, 3], ints(6, "u8")), typedTensor("s", "f32", [1], scales(1)), typedTensor("z", "u8", [], [128])],
  },
  { ...dqCase("opset 13 per tensor", "i8", [3, 4], [], {}, true), opset: 13 },
];

/** A QuantizeLinear of a float input; int4 outputs are cast to int8 for onnxruntime-node, which cannot return int4. */
function qCase(name: string, dtype: DType | undefined, dims: number[], paramDims: number[], attrs: Record<string, unknown>, zp: boolean, opset = 21): Case {
  const to = dtype ?? "u8", n = count(paramDims), sub = to === "i4" || to === "u4";
  return {
    name, tolerance: 0, opset, inputs: [["x", dims]], outputs: ["y"],
    nodes: sub ? [Q("x", "s", zp ? "z" : undefined, attrs, "q"), node("Cast", ["q"], ["y"], { to: DTYPES[to === "i4" ? "i8" : "u8"].onnx }, "widen")] : [Q("x", "s", zp ? "z" : undefined, attrs)],
    // Scales of 0.5 make every odd quarter of x a tie; the rest are random.
    initializers: [typedTensor("s", "f32", paramDims, n === 1 ? [0.5] : scales(n).map((v, i) => (i % 2 ? 0.5 : v * 4))), ...(zp ? [typedTensor("z", to, paramDims, ints(n, to))] : [])],
  };
}

const Q_CASES: Case[] = [
  qCase("uint8 per tensor, no zero point", undefined, [3, 7], [], {}, false, 13),
  qCase("int8 per tensor", "i8", [3, 7], [], {}, true),
  qCase("int8 per axis 1", "i8", [3, 7], [7], { axis: 1 }, true),
  qCase("uint8 per axis 0", "u8", [4, 5], [4], { axis: 0 }, true),
  qCase("int4 per tensor, saturating", "i4", [5, 3], [], {}, true),
  qCase("uint4 per axis", "u4", [3, 5], [5], { axis: -1 }, true),
  qCase("int4 blocked along axis 1", "i4", [4, 10], [4, 3], { axis: 1, block_size: 4 }, true),
  qCase("uint4 blocked along axis 0, no zero point", "u4", [9, 2], [3, 2], { axis: 0, block_size: 4 }, false),
  qCase("int8 blocked", "i8", [2, 9], [2, 3], { axis: 1, block_size: 3 }, true),
  qCase("int16 per tensor", "i16", [4, 4], [], {}, true),
  qCase("uint16 per axis", "u16", [4, 4], [4], { axis: 0 }, true),
  { ...qCase("int4 from output_dtype", "i4", [3, 5], [], { output_dtype: DTYPES.i4.onnx }, false) },
  {
    name: "float16 x and scale", tolerance: 0, inputs: [["x", [4, 6], "f16"]], outputs: ["y"], nodes: [Q("x", "s", "z", { axis: 1 })],
    initializers: [typedTensor("s", "f16", [6], [0.5, 0.25, 0.1, 0.3, 0.5, 0.07]), typedTensor("z", "u8", [6], ints(6, "u8"))],
  },
];

describe("DequantizeLinear agrees with onnxruntime", () => {
  it.each(DQ_CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => agrees(c));
});

describe("QuantizeLinear agrees with onnxruntime", () => {
  it.each(Q_CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => agrees(c));
});

describe("int4 blocked weights through DequantizeLinear -> MatMul", () => {
  const k = 96, n = 100, block = 32;
  // onnxruntime's optimiser rewrites this pair into MatMulNBits at accuracy_level 4 by default: with it off, it runs them as written.
  const chain = (name: string, dtype: DType, zp: boolean): Case => ({
    name, tolerance: 1e-4, inputs: [["a", [2, 3, k]]], outputs: ["y"], ort: { graphOptimizationLevel: "disabled" },
    nodes: [DQ("w", "s", zp ? "z" : undefined, { axis: 0, block_size: block }, "wf"), node("MatMul", ["a", "wf"], ["y"], {}, "mm")],
    initializers: [
      typedTensor("w", dtype, [k, n], ints(k * n, dtype)), typedTensor("s", "f32", [k / block, n], scales((k / block) * n)),
      ...(zp ? [typedTensor("z", dtype, [k / block, n], ints((k / block) * n, dtype))] : []),
    ],
  });
  it("int4 with zero points", async () => agrees(chain("chain int4", "i4", true)));
  it("uint4 without", async () => agrees(chain("chain uint4", "u4", false)));
  it("and against onnxruntime's own rewrite into MatMulNBits (A quantized to int8)", async () =>
    agrees({ ...chain("chain int4 fused", "i4", true), ort: {}, tolerance: 2e-2, normwise: true }));
});

// ---- MatMulNBits -----------------------------------------------------------

interface NBitsSpec {
  readonly k: number;
  readonly n: number;
  readonly bits?: number;
  readonly block: number;
  /** "packed": uint8 zero points packed like B; "float": unpacked in A's dtype. */
  readonly zeroPoints?: "packed" | "float";
  readonly bias?: boolean;
  readonly a: readonly number[];
  readonly accuracy?: number;
  readonly flatScales?: boolean;
  /** A's dtype (scales, float zero points and bias follow it). */
  readonly dtype?: "f32" | "f16";
}

/** Values of `bits` each, packed low bits first into bytes (the last byte padded with zeros). */
function packBits(values: readonly number[], bits: number): number[] {
  const out = new Array<number>(Math.ceil((values.length * bits) / 8)).fill(0);
  values.forEach((v, j) => { out[(j * bits) >> 3]! |= v << ((j * bits) & 7); });
  return out;
}

function nbitsCase(name: string, s: NBitsSpec, tolerance: number): Case {
  const bits = s.bits ?? 4, blocks = Math.ceil(s.k / s.block), blob = (s.block * bits) / 8, dtype = s.dtype ?? "f32";
  const random = seededRandom(seed++);
  const q = () => Math.floor(random() * 2 ** bits);
  // B row by row, block by block; the padding past K holds values too (they must be ignored).
  const b: number[] = [];
  for (let r = 0; r < s.n; r++) for (let blk = 0; blk < blocks; blk++) b.push(...packBits(Array.from({ length: s.block }, q), bits));
  const zp: TensorProto[] = [];
  if (s.zeroPoints === "packed") {
    const rows = Array.from({ length: s.n }, () => packBits(Array.from({ length: blocks }, q), bits));
    zp.push(typedTensor("zp", "u8", [s.n, rows[0]!.length], rows.flat()));
  } else if (s.zeroPoints === "float") zp.push(typedTensor("zp", dtype, [s.n, blocks], floats(s.n * blocks, 2 ** (bits - 1)).map((v) => v + 2 ** (bits - 1))));
  const inputs = ["a", "b", "scales", zp.length ? "zp" : "", "", s.bias ? "bias" : ""];
  while (inputs[inputs.length - 1] === "") inputs.pop();
  return {
    name, tolerance, contrib: true, opset: 17, inputs: [["a", s.a, dtype]], outputs: ["y"], normwise: (s.accuracy ?? 0) === 4,
    nodes: [node("MatMulNBits", inputs, ["y"], { K: s.k, N: s.n, bits, block_size: s.block, ...(s.accuracy !== undefined ? { accuracy_level: s.accuracy } : {}) }, "mmnb", "com.microsoft")],
    initializers: [
      typedTensor("b", "u8", [s.n, blocks, blob], b), typedTensor("scales", dtype, s.flatScales ? [s.n * blocks] : [s.n, blocks], scales(s.n * blocks)),
      ...zp, ...(s.bias ? [typedTensor("bias", dtype, [s.n], floats(s.n))] : []),
    ],
  };
}

const NBITS_CASES: Case[] = [
  nbitsCase("4 bits, no zero points", { k: 64, n: 24, block: 16, a: [3, 64] }, 1e-4),
  nbitsCase("4 bits, packed zero points, K not a multiple of the block", { k: 80, n: 20, block: 32, zeroPoints: "packed", a: [2, 80] }, 1e-4),
  nbitsCase("4 bits, bias, rank-3 A", { k: 64, n: 33, block: 32, bias: true, zeroPoints: "packed", a: [2, 5, 64] }, 1e-4),
  nbitsCase("4 bits, float zero points, flat scales", { k: 48, n: 16, block: 16, zeroPoints: "float", flatScales: true, a: [4, 48] }, 1e-4),
  nbitsCase("8 bits, packed zero points, bias", { k: 96, n: 40, bits: 8, block: 32, zeroPoints: "packed", bias: true, a: [3, 96] }, 1e-4),
  nbitsCase("8 bits, no zero points, one row", { k: 64, n: 8, bits: 8, block: 64, a: [1, 64] }, 1e-4),
  nbitsCase("2 bits, packed zero points", { k: 64, n: 12, bits: 2, block: 16, zeroPoints: "packed", a: [3, 64] }, 1e-4),
  nbitsCase("float16 A, scales and bias", { k: 64, n: 16, block: 32, zeroPoints: "packed", bias: true, a: [3, 64], dtype: "f16" }, 1e-3),
  nbitsCase("accuracy_level 1 computes in float32", { k: 128, n: 32, block: 32, zeroPoints: "packed", a: [4, 128], accuracy: 1 }, 1e-4),
  nbitsCase("accuracy_level 4 quantizes A to int8 in onnxruntime", { k: 256, n: 64, block: 32, zeroPoints: "packed", bias: true, a: [2, 3, 256], accuracy: 4 }, 2e-2),
  nbitsCase("accuracy_level 4, 8 bits", { k: 128, n: 32, bits: 8, block: 32, a: [5, 128], accuracy: 4 }, 2e-2),
];

describe("MatMulNBits agrees with onnxruntime", () => {
  it.each(NBITS_CASES.map((c) => [c.name, c] as const))("%s", async (_, c) => agrees(c));
});

// ---- float16 and bfloat16 initializers --------------------------------------------

describe("float16 and bfloat16 initializers", () => {
  for (const dtype of ["f16", "bf16"] as const) {
    for (const form of ["raw", "typed"] as const) {
      it(`${dtype} in ${form === "raw" ? "raw_data" : "int32_data"} loads and computes (Cast, MatMul)`, async () => agrees({
        name: `${dtype} ${form} weight`, tolerance: 1e-5, exact: ["w32"], inputs: [["a", [3, 16]]], outputs: ["y", "w32"], opset: 17,
        nodes: [node("Cast", ["w"], ["w32"], { to: DTYPES.f32.onnx }, "widen"), node("MatMul", ["a", "w32"], ["y"], {}, "mm")],
        initializers: [typedTensor("w", dtype, [16, 8], floats(128))],
      }));
    }
  }
});

// ---- storage and text --------------------------------------------------------------

describe("int4 storage", () => {
  it("packs two to a byte, the first in the low nibble, sign-extended on load", async () => {
    const path = writeCase({
      name: "int4 layout", tolerance: 0, outputs: ["y"], nodes: [DQ("x", "s", undefined)],
      initializers: [{ name: "x", dims: [3], dataType: DTYPES.i4.onnx, rawData: new Uint8Array([0x8f, 0x07]) }, typedTensor("s", "f32", [], [1])],
    });
    const { module } = await loadModel(path, { passes: "" });
    const x = mainGraph(module).constants.get("x")!;
    expect(x.kind === "literal" && Array.from(x.tensor.data as Int8Array)).toEqual([-1, -8, 7]);
  });

  it("sizes an int4 weight as ceil(elements / 2) bytes, in the importer, inspect and a compiled plan", async () => {
    const path = writeCase(DQ_CASES.find((c) => c.name === "int4 blocked weight on disk")!);
    const { module } = await loadModel(path);
    const w = mainGraph(module).constants.get("x")!;
    expect(w.kind === "weight" && w.ref.length).toBe(4800);
      // The weight and its 600 zero points.
    expect(summarize(module).parameters.i4).toEqual({ count: 10200, bytes: 5100 });
  });

  it("refuses int4 raw data of the wrong length", async () => {
    const path = writeCase({
      name: "int4 short", tolerance: 0, outputs: ["y"], nodes: [DQ("x", "s", undefined)],
      initializers: [{ name: "x", dims: [5], dataType: DTYPES.i4.onnx, rawData: new Uint8Array([1, 2]) }, typedTensor("s", "f32", [], [1])],
    });
    await expect(loadModel(path)).rejects.toThrow(/initializer 'x' has 2 bytes of raw data, i4\[5\] needs 3/);
  });

  it("round-trips i4 and u4 through the textual IR", async () => {
    const text = `module @q {
  opset "" = 21

  graph @main(%x: u4[3]) -> (%y, %z) {
    %w: i4[5] = dense [-8, 7, 0, -1, 3]
    %s: f32[] = dense [0.5]
    %y = DequantizeLinear(%w, %s) : f32[5]
    %z = DequantizeLinear(%x, %s) : f32[3]
    return %y, %z
  }
}
`;
    const m = parseGraphText(text, "q.tfg");
    expect(printModule(parseGraphText(printModule(m), "q.tfg"))).toBe(printModule(m));
    const w = mainGraph(m).constants.get("w")!;
    expect(w.kind === "literal" && Array.from(w.tensor.data as Int8Array)).toEqual([-8, 7, 0, -1, 3]);
    expect(() => parseGraphText(text.replace("dense [-8,", "dense [-9,"), "q.tfg")).toThrow(/-9 is out of range for i4/);
    const out = run(m, { x: tensorFromValues("u4", [3], [0, 15, 4]) }).outputs;
    expect(Array.from(out.z!.data as Float32Array)).toEqual([0, 7.5, 2]);
  });

  it("a compiled plan sizes int4 tensors packed and runs as the interpreter does", async () => {
    const c: Case = {
      name: "compiled int4 chain", tolerance: 0, inputs: [["a", [2, 96]]], outputs: ["y"],
      nodes: [DQ("w", "s", "z", { axis: 0, block_size: 32 }, "wf"), node("MatMul", ["a", "wf"], ["y"], {}, "mm")],
      initializers: [typedTensor("w", "i4", [96, 101], ints(96 * 101, "i4")), typedTensor("s", "f32", [3, 101], scales(303)), typedTensor("z", "i4", [3, 101], ints(303, "i4"))],
    };
    const path = writeCase(c), feeds = feedsOf(c);
    const { module } = await loadModel(path);
    const want = run(module, feeds, { modelDir: dir }).outputs;
    const { plan, graph, target } = await compile(path, { target: "toy" });
    const w = plan.dataflow.tensors.find((t) => t.name === "w")!;
    expect(w.bytes).toBe(Math.ceil((96 * 101) / 2));
    const { outputs } = executePlan(plan, feeds, { graph, target, modelDir: dir });
    expect(Array.from(outputs.y!.data as Float32Array)).toEqual(Array.from(want.y!.data as Float32Array));
  });

  it("MatMulNBits compiles, runs on the runtime as in the interpreter, and costs its product plus dequantizing", async () => {
    const c = nbitsCase("compiled nbits", { k: 96, n: 48, block: 32, zeroPoints: "packed", bias: true, a: [4, 96] }, 0);
    const path = writeCase(c), feeds = feedsOf(c);
    const { module } = await loadModel(path);
    const graph0 = mainGraph(module);
    expect(nodeFlops(graph0, graph0.nodes.find((n) => n.op === "MatMulNBits")!)).toBe(4 * 48 * (2 * 96 + 1) + 2 * 48 * 96);
    const want = run(module, feeds, { modelDir: dir }).outputs;
    const { plan, graph, target } = await compile(path, { target: "toy" });
    const { outputs } = executePlan(plan, feeds, { graph, target, modelDir: dir });
    expect(Array.from(outputs.y!.data as Float32Array)).toEqual(Array.from(want.y!.data as Float32Array));
  });
});

// ---- refusals -------------------------------------------------------------------

describe("what tierflow does not compute is refused by name", () => {
  const refused = async (c: Omit<Case, "tolerance" | "outputs"> & Partial<Case>, pattern: RegExp) =>
    expect(loadModel(writeCase({ tolerance: 0, outputs: ["y"], ...c }))).rejects.toThrow(pattern);
  const nbits = (name: string, attrs: Record<string, unknown>, extra: Partial<NBitsSpec> = {}) => {
    const c = nbitsCase(name, { k: 32, n: 4, block: 16, a: [1, 32], ...extra }, 0);
    return { ...c, nodes: [{ ...c.nodes[0]!, attribute: [...c.nodes[0]!.attribute!, ...node("x", [], [], attrs).attribute!] }] };
  };

  it("MatMulNBits with g_idx", async () => {
    const c = nbitsCase("g_idx", { k: 32, n: 4, block: 16, a: [1, 32] }, 0);
    await refused({ ...c, nodes: [{ ...c.nodes[0]!, input: ["a", "b", "scales", "", "g"] }], initializers: [...c.initializers!, typedTensor("g", "i32", [32], new Array<number>(32).fill(0))] },
      /MatMulNBits with g_idx \(act-order\) is not supported/);
  });
  it("MatMulNBits bits, block_size and accuracy_level out of range", async () => {
    const c = nbitsCase("bits", { k: 32, n: 4, block: 16, a: [1, 32] }, 0);
    const withAttr = (name: string, value: number) => ({ ...c, name, nodes: [{ ...c.nodes[0]!, attribute: c.nodes[0]!.attribute!.map((a) => (a.name === name ? { ...a, i: value } : a)) }] });
    await refused(withAttr("bits", 3), /MatMulNBits with bits = 3 is not supported \(2, 4 or 8\)/);
    await refused(withAttr("block_size", 24), /MatMulNBits block_size 24 must be a power of two of at least 16/);
    await refused(nbits("accuracy", { accuracy_level: 5 }), /MatMulNBits accuracy_level 5 is not one of 0 \(unset\)/);
  });
  it("MatMulNBits with a B of the wrong shape", async () => {
    const c = nbitsCase("B shape", { k: 32, n: 4, block: 16, a: [1, 32] }, 0);
    await refused({ ...c, nodes: [{ ...c.nodes[0]!, attribute: c.nodes[0]!.attribute!.map((a) => (a.name === "N" ? { ...a, i: 5 } : a)) }] },
      /MatMulNBits B has shape \[4, 2, 8\], expected \[5, 2, 8\]/);
  });
  it("quantizing to float8, and float8 weights", async () => {
    await refused({ name: "q float8", inputs: [["x", [4]]], nodes: [Q("x", "s", undefined, { output_dtype: 17 })], initializers: [typedTensor("s", "f32", [], [1])] },
      /QuantizeLinear to float8e4m3fn \(17\) is not supported/);
    await refused({ name: "dq float8", nodes: [DQ("x", "s", undefined)], initializers: [{ name: "x", dims: [2], dataType: 17, rawData: new Uint8Array(2) }, typedTensor("s", "f32", [], [1])] },
      /initializer 'x' has ONNX data type float8e4m3fn \(17\), which tierflow does not support/);
  });
  it("a blocked scale of the wrong shape, and block_size before opset 21", async () => {
    await refused(dqCase("blocked shape", "i4", [6, 10], [6, 2], { axis: 1, block_size: 4 }, false),
      /DequantizeLinear: a blocked scale over x \[6, 10\] with block_size 4 along axis 1 has shape \[6, 3\], got \[6, 2\]/);
    await refused({ ...dqCase("blocked opset", "i8", [6, 8], [6, 2], { axis: 1, block_size: 4 }, false), opset: 19 },
      /DequantizeLinear with block_size \(blocked quantization\) needs opset 21 or later, the model imports opset 19/);
    await refused(dqCase("axis length", "i8", [4, 6], [5], { axis: 1 }, false),
      /DequantizeLinear: a per-axis scale along axis 1 of x \[4, 6\] needs 6 elements, got 5/);
  });
  it("a zero point of another type or shape", async () => {
    const c = dqCase("zp type", "i8", [4], [], {}, false);
    await refused({ ...c, nodes: [DQ("x", "s", "z")], initializers: [...c.initializers!, typedTensor("z", "u8", [], [3])] },
      /DequantizeLinear zero point has dtype u8, the quantized tensor i8/);
    await refused({ ...c, name: "zp shape", nodes: [DQ("x", "s", "z")], initializers: [...c.initializers!, typedTensor("z", "i8", [2], [3, 4])] },
      /DequantizeLinear zero point has shape \[2\], the scale \[\]: they must match/);
  });
  it("an int32 zero point other than 0", async () => {
    await refused({ name: "int32 zp", nodes: [DQ("x", "s", "z")], initializers: [typedTensor("x", "i32", [3], [1, 2, 3]), typedTensor("s", "f32", [], [1]), typedTensor("z", "i32", [], [5])] },
      /DequantizeLinear of int32 with a non-zero zero point is not supported/);
  });
  it("arithmetic on int4, and casts into it", async () => {
    await refused({ name: "add int4", nodes: [node("Add", ["x", "x"], ["y"])], initializers: [typedTensor("x", "i4", [3], [1, 2, 3])] },
      /input 0 has dtype i4|A has dtype i4|has dtype i4, expected one of/);
    await refused({ name: "cast int4", inputs: [["x", [3]]], nodes: [node("Cast", ["x"], ["y"], { to: DTYPES.i4.onnx })] },
      /Cast to i4 is not supported \(QuantizeLinear produces i4\)/);
  });
});

// ---- deployed models (examples/deploy/, exported on the GPU machine) -------------------

describe("deployed quantized models agree with onnxruntime running them as written", () => {
  const DEPLOY = join(import.meta.dirname, "..", "..", "examples", "deploy");
  // onnxruntime's optimiser would rewrite QDQ pairs (DequantizeLinear -> MatMul into MatMulNBits at
  // accuracy_level 4, int8 QDQ into QLinear ops): other numerics than the graph's, so it is off here.
  const asWritten: ort.InferenceSession.SessionOptions = { graphOptimizationLevel: "disabled" };
  const i64 = (dims: number[], f: (i: number) => number) => tensorFromValues("i64", dims, Array.from({ length: count(dims) }, (_, i) => BigInt(f(i))));

  async function compare(file: string, feeds: Record<string, Tensor>, tolerance: number): Promise<void> {
    const path = join(DEPLOY, file);
    const { module } = await loadModel(path);
    const ours = run(module, feeds, { modelDir: DEPLOY }).outputs;
    const session = await ort.InferenceSession.create(path, asWritten);
    try {
      const theirs = await session.run(Object.fromEntries(Object.entries(feeds).map(([n, t]) => [n, new ort.Tensor(t.dtype === "i64" ? "int64" : "float32", t.data as Float32Array, [...t.dims])])));
      for (const [name, t] of Object.entries(theirs)) {
        const worst = worstError(ours[name]!, tensorFromValues("f32", t.dims.map(Number), t.data as Float32Array), false);
        expect(worst, `${file}: ${name}`).toBeLessThanOrEqual(tolerance);
      }
    } finally {
      await session.release();
    }
  }

  it.each(["llama.int4.onnx", "qwen2.int4.onnx", "llama.int4qdq.onnx", "qwen2.int4qdq.onnx"])("%s: a prefill of 6 tokens, batch 2", async (file) => {
    const [batch, seq] = [2, 6];
    const feeds: Record<string, Tensor> = {
      input_ids: i64([batch, seq], (i) => (i * 37) % 128), attention_mask: i64([batch, seq], () => 1), position_ids: i64([batch, seq], (i) => i % seq),
    };
    for (const layer of [0, 1]) for (const kv of ["key", "value"]) feeds[`past_key_values.${layer}.${kv}`] = tensorFromValues("f32", [batch, 2, 0, 16], []);
    await compare(file, feeds, 1e-4);
  });

  it("bert.qdq.onnx (int8 weights, uint8 activations through QuantizeLinear)", async () => {
    await compare("bert.qdq.onnx", { input_ids: i64([2, 7], (i) => (i * 37 + 3) % 100), attention_mask: i64([2, 7], () => 1) }, 1e-5);
  });
});
