// Ops that deployed ONNX models use and tierflow defines by a decomposition
// into primitive ops: onnxruntime's contrib normalisations and activations
// (domain com.microsoft, and SimplifiedLayerNormalization, which onnxruntime
// registers in the ONNX domain) and ONNX's RMSNormalization (opset 23). The
// decomposition is the op's specification and its reference kernel, following
// onnxruntime's contrib-op documentation; the `expand-ops` pass replaces each
// node by it on import, so fusion finds the same RMSNorm, LayerNorm and GELU
// as in an exporter's graph. Outputs and attribute values these ops can have
// but tierflow does not compute are refused by name.

import type { Node } from "../graph.js";
import type { OpDef } from "../op-def.js";
import type { Dim } from "../../symbolic.js";
import { mulDims } from "../../symbolic.js";
import { fail } from "../../diagnostics.js";
import { FLOATS, broadcastShapes, checkDType, checkSameDType, floatAttr, hasInput, inputType, intAttr, normalizeAxis, numel } from "./util.js";
import { Decomposition, attr } from "./decompose.js";
import { CONTRIB_DOMAIN, defineOp } from "./util.js";


type ExpandedSpec = Parameters<typeof defineOp>[0] & { decompose(node: Node): Node[] };

/** An op defined by its decomposition: the reference backend runs it, and `expand-ops` writes it into the graph. */
function defineExpanded(spec: ExpandedSpec): OpDef {
  const { decompose, ...rest } = spec;
  return { ...defineOp(rest), decompose };
}

const flopsPerElement = (k: number) => (_: unknown, [out]: readonly { shape: readonly Dim[] | null }[]) =>
  ({ flops: out?.shape ? mulDims(k, numel(out.shape)) : 0 });

/** Refuse, by name, an output the node uses that tierflow does not compute. */
function refuseOutputs(node: Node, names: readonly string[], unsupported: readonly number[]): void {
  for (const i of unsupported) {
    if (node.outputs[i]) fail(`${node.op}'s output ${i} ('${names[i]}') is not supported; leave it unused`, { node: node.name });
  }
}

function checkStash(stash: number, op: string): void {
  if (stash !== 1) fail(`${op} with stash_type ${stash} is not supported (statistics are kept in float32, stash_type 1)`);
}

/** x / sqrt(mean(x^2 over axes [axis, rank)) + epsilon) * scale, the statistics in f32, as RMSNorm's decomposition writes it. */
function rmsDecomposition(d: Decomposition, x: string, scale: string, axes: readonly number[], epsilon: number, out: number): void {
  const xf = d.toF32(x);
  const mean = d.one("ReduceMean", [d.one("Pow", [xf, d.scalarLike(2, xf)]), d.ints(axes)], { keepdims: attr.int(1) });
  const inv = d.one("Reciprocal", [d.one("Sqrt", [d.one("Add", [mean, d.scalarLike(epsilon, xf)])])]);
  d.result(out, "Mul", [d.one("CastLike", [d.one("Mul", [xf, inv]), x]), scale]);
}

/**
 * The normalised axes, from `axis` to the last, as negative axes (the decomposition does not
 * know the rank): a negative axis -k gives the last k; a non-negative one must name the last
 * axis (inference checks it).
 */
function trailingAxes(axis: number): number[] {
  return axis < 0 ? Array.from({ length: -axis }, (_, i) => axis + i) : [-1];
}

const NORM_ATTRS = {
  axis: { type: "int" as const, default: -1 }, epsilon: { type: "float" as const, default: 1e-5 }, stash_type: { type: "int" as const, default: 1 },
};

function rmsOp(op: string, domain: string, doc: string, outputs: readonly string[]): OpDef {
  return defineExpanded({
    op, domain, doc, inputs: [2, 2], outputs: [1, outputs.length], attrs: NORM_ATTRS,
    infer(ctx) {
      const x = inputType(ctx, 0, "X");
      checkDType(x.dtype, FLOATS, "X");
      checkSameDType(ctx, [0, 1]);
      checkStash(intAttr(ctx.attrs, "stash_type", 1), op);
      const axis = intAttr(ctx.attrs, "axis", -1);
      if (x.shape) {
        const rank = x.shape.length, from = normalizeAxis(axis, rank);
        if (axis >= 0 && from !== rank - 1) fail(`${op} over axes ${from}..${rank - 1} given by a non-negative axis ${axis} is not supported: give the axis as ${from - rank}`);
      }
      return { types: Array.from({ length: ctx.outputCount }, () => x) };
    },
    cost: flopsPerElement(4),
    decompose(node) {
      refuseOutputs(node, outputs, [1]);
      const d = new Decomposition(node);
      const [x, scale] = node.inputs as [string, string];
      rmsDecomposition(d, x, scale, trailingAxes(intAttr(node.attrs, "axis", -1)), floatAttr(node.attrs, "epsilon", 1e-5), 0);
      return d.nodes;
    },
  });
}

const RMS_NORMALIZATION = rmsOp("RMSNormalization", "", `RMSNormalization(X, scale) (ONNX opset 23): X over the root mean square of its trailing axes from \`axis\`, times scale; statistics in f32.
  %y = RMSNormalization(%x, %w) {axis = -1, epsilon = 0.00001} : f32[batch, seq, 64]`, ["Y"]);

const SIMPLIFIED_LAYER_NORM = rmsOp("SimplifiedLayerNormalization", "", `SimplifiedLayerNormalization(X, scale) (onnxruntime, ONNX domain): RMS normalisation as RMSNormalization; the optional output inv_std_var is refused.
  %y = SimplifiedLayerNormalization(%x, %w) {epsilon = 0.000001} : f32[batch, seq, 64]`, ["Y", "inv_std_var"]);

/** input + skip (+ bias): the sum the Skip*Normalization ops normalise, and return as their fourth output. */
function skipSum(d: Decomposition, node: Node, biasAt: number): string {
  const [input, skip] = node.inputs as [string, string];
  const bias = node.inputs[biasAt];
  const add = (inputs: string[]): string => {
    if (!node.outputs[3]) return d.one("Add", inputs);
    d.result(3, "Add", inputs);
    return node.outputs[3];
  };
  return bias ? add([d.one("Add", [input, skip]), bias]) : add([input, skip]);
}

const SKIP_OUTPUTS = ["output", "mean", "inv_std_var", "input_skip_bias_sum"] as const;

function skipInfer(channels: readonly number[]) {
  return (ctx: Parameters<OpDef["infer"]>[0]) => {
    const x = inputType(ctx, 0, "input"), skip = inputType(ctx, 1, "skip");
    checkDType(x.dtype, FLOATS, "input");
    checkSameDType(ctx, [0, 1, ...channels.filter((i) => hasInput(ctx, i))]);
    if (x.shape && skip.shape) broadcastShapes(x.shape, skip.shape);
    return { types: Array.from({ length: ctx.outputCount }, () => x) };
  };
}

const SKIP_SIMPLIFIED_LAYER_NORM = defineExpanded({
  op: "SkipSimplifiedLayerNormalization", domain: CONTRIB_DOMAIN, inputs: [3, 4], outputs: [1, 4],
  doc: `SkipSimplifiedLayerNormalization(input, skip, gamma, bias?) (onnxruntime): s = input + skip + bias, RMS-normalised over the last axis times gamma;
  the fourth output is s. Outputs mean and inv_std_var are refused.
  %y, %_, %_, %s = "com.microsoft".SkipSimplifiedLayerNormalization(%x, %skip, %w) {epsilon = 0.000001} : f32[batch, seq, 64], ...`,
  attrs: { epsilon: { type: "float", default: 1e-5 } },
  infer: skipInfer([2, 3]),
  cost: flopsPerElement(6),
  decompose(node) {
    refuseOutputs(node, SKIP_OUTPUTS, [1, 2]);
    const d = new Decomposition(node);
    const s = skipSum(d, node, 3);
    rmsDecomposition(d, s, node.inputs[2]!, [-1], floatAttr(node.attrs, "epsilon", 1e-5), 0);
    return d.nodes;
  },
});

const SKIP_LAYER_NORM = defineExpanded({
  op: "SkipLayerNormalization", domain: CONTRIB_DOMAIN, inputs: [3, 5], outputs: [1, 4],
  doc: `SkipLayerNormalization(input, skip, gamma, beta?, bias?) (onnxruntime): s = input + skip + bias, layer-normalised over the last axis with gamma and beta;
  the fourth output is s. Outputs mean and inv_std_var are refused.
  %y = "com.microsoft".SkipLayerNormalization(%x, %skip, %g, %b) {epsilon = 0.000001} : f32[batch, seq, 64]`,
  attrs: { epsilon: { type: "float", default: 1e-5 } },
  infer: skipInfer([2, 3, 4]),
  cost: flopsPerElement(8),
  decompose(node) {
    refuseOutputs(node, SKIP_OUTPUTS, [1, 2]);
    const d = new Decomposition(node);
    const s = skipSum(d, node, 4);
    const beta = node.inputs[3];
    d.result(0, "LayerNormalization", beta ? [s, node.inputs[2]!, beta] : [s, node.inputs[2]!], {
      axis: attr.int(-1), epsilon: attr.float(floatAttr(node.attrs, "epsilon", 1e-5)),
    });
    return d.nodes;
  },
});

function activation(op: string, doc: string, inputs: [number, number], attrs: OpDef["attrs"], decompose: (d: Decomposition, node: Node) => void, flops: number): OpDef {
  return defineExpanded({
    op, domain: CONTRIB_DOMAIN, doc, inputs, attrs,
    infer(ctx) {
      const x = inputType(ctx, 0, "X");
      checkDType(x.dtype, FLOATS, "X");
      if (hasInput(ctx, 1)) {
        checkSameDType(ctx, [0, 1]);
        const b = inputType(ctx, 1, "bias").shape;
        return { types: [{ dtype: x.dtype, shape: x.shape && b ? broadcastShapes(x.shape, b) : x.shape }] };
      }
      return { types: [x] };
    },
    cost: flopsPerElement(flops),
    decompose(node) {
      const d = new Decomposition(node);
      decompose(d, node);
      return d.nodes;
    },
  });
}

/** x, or x + bias where a bias is given. */
const biased = (d: Decomposition, node: Node) => (node.inputs[1] ? d.one("Add", [node.inputs[0]!, node.inputs[1]]) : node.inputs[0]!);

const FAST_GELU = activation("FastGelu", `FastGelu(X, bias?) (onnxruntime): GELU's tanh approximation of X + bias.
  %y = "com.microsoft".FastGelu(%x, %b) : f32[batch, seq, 256]`, [1, 2], {},
(d, node) => d.result(0, "Gelu", [biased(d, node)], { approximate: attr.string("tanh") }), 8);

const BIAS_GELU = activation("BiasGelu", `BiasGelu(A, B) (onnxruntime): GELU (erf form) of A + B.
  %y = "com.microsoft".BiasGelu(%x, %b) : f32[batch, seq, 256]`, [2, 2], {},
(d, node) => d.result(0, "Gelu", [biased(d, node)]), 8);

const QUICK_GELU = activation("QuickGelu", `QuickGelu(X) (onnxruntime): X * sigmoid(alpha * X).
  %y = "com.microsoft".QuickGelu(%x) {alpha = 1.702} : f32[batch, seq, 256]`, [1, 1], { alpha: { type: "float", default: 1.702 } },
(d, node) => d.result(0, "Mul", [node.inputs[0]!, d.one("Sigmoid", [d.one("Mul", [node.inputs[0]!, d.scalarLike(floatAttr(node.attrs, "alpha", 1.702), node.inputs[0]!)])])]), 5);

export const EXPANDED_OPS: readonly OpDef[] = [
  RMS_NORMALIZATION, SIMPLIFIED_LAYER_NORM, SKIP_SIMPLIFIED_LAYER_NORM, SKIP_LAYER_NORM, FAST_GELU, BIAS_GELU, QUICK_GELU,
];
