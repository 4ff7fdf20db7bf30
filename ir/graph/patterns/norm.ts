// Normalisations written out as elementwise ops and reductions:
//   RMSNorm:   w * x / sqrt(mean(x^2) + eps)          -> tierflow.RMSNorm
//   LayerNorm: w * (x - mean(x)) / sqrt(var + eps) + b -> ONNX LayerNormalization
// The forms both PyTorch exporters write: Pow or Mul for the square, Sqrt then
// Reciprocal (dynamo), Div(1, .) (TorchScript) or Pow(., -0.5) for the inverse,
// or a Div by the Sqrt; same-dtype Casts anywhere; and for f16/bf16 models the
// Cast to f32 and back around the statistics that Hugging Face's RMSNorm does.

import type { Node } from "../graph.js";
import { attrInt } from "../graph.js";
import { dtypeFromOnnx } from "../../dtype.js";
import type { DType } from "../../dtype.js";
import type { Matcher } from "./pattern.js";
import { definePattern, fusedNode, isLastAxis, reduceAxes } from "./pattern.js";

/** A 1-D vector as long as the last axis of `x` (norm weight or bias). */
export function isChannelVector(m: Matcher, vector: string, x: string): boolean {
  const v = m.shape(vector), s = m.shape(x);
  return v?.length === 1 && s !== undefined && s.length > 0 && v[0] === s[s.length - 1];
}

/** mean over the last axis, keeping it: ReduceMean(v, axes=[-1], keepdims=1); returns v. */
function meanOverLastAxis(m: Matcher, value: string): string | undefined {
  const mean = m.def(value, "ReduceMean");
  if (!mean || attrInt(mean.attrs, "keepdims") === 0) return undefined;
  const input = mean.inputs[0]!;
  return isLastAxis(reduceAxes(mean, m), m.shape(input)?.length) ? input : undefined;
}

/** x * x as Pow(x, 2) or Mul(x, x); returns x. */
function square(m: Matcher, value: string): string | undefined {
  return m.first(
    () => {
      const pow = m.def(value, "Pow");
      return pow && m.isScalar(pow.inputs[1], 2) ? pow.inputs[0] : undefined;
    },
    () => {
      const mul = m.def(value, "Mul");
      return mul && mul.inputs[0] === mul.inputs[1] ? mul.inputs[0] : undefined;
    },
  );
}

/** mean(x^2) + eps over the last axis; returns x and eps. */
function meanSquarePlusEps(m: Matcher, value: string): { x: string; epsilon: number } | undefined {
  const add = m.def(value, "Add");
  if (!add) return undefined;
  return m.commute(add, (sum, eps) => {
    const epsilon = m.scalar(eps);
    const squared = epsilon !== undefined && epsilon >= 0 ? meanOverLastAxis(m, sum) : undefined;
    const x = squared !== undefined ? square(m, squared) : undefined;
    return x !== undefined ? { x, epsilon: epsilon! } : undefined;
  });
}

/** 1 / sqrt(v) as Reciprocal(Sqrt(v)), Div(1, Sqrt(v)) or Pow(v, -0.5); returns v. */
function inverseSqrt(m: Matcher, value: string): string | undefined {
  const sqrtOf = (v: string | undefined) => m.def(v, "Sqrt")?.inputs[0];
  return m.first(
    () => sqrtOf(m.def(value, "Reciprocal")?.inputs[0]),
    () => {
      const div = m.def(value, "Div");
      return div && m.isScalar(div.inputs[0], 1) ? sqrtOf(div.inputs[1]) : undefined;
    },
    () => {
      const pow = m.def(value, "Pow");
      return pow && m.isScalar(pow.inputs[1], -0.5) ? pow.inputs[0] : undefined;
    },
  );
}

/** v / sqrt(s) as Div(v, Sqrt(s)) or Mul(v, inverseSqrt(s)); returns v and s. */
function dividedByRoot(m: Matcher, value: string): { numerator: string; radicand: string } | undefined {
  return m.first(
    () => {
      const div = m.def(value, "Div");
      const radicand = div ? m.def(div.inputs[1], "Sqrt")?.inputs[0] : undefined;
      return radicand !== undefined ? { numerator: div!.inputs[0]!, radicand } : undefined;
    },
    () => {
      const mul = m.def(value, "Mul");
      if (!mul) return undefined;
      return m.commute(mul, (numerator, inv) => {
        const radicand = inverseSqrt(m, inv);
        return radicand !== undefined ? { numerator, radicand } : undefined;
      });
    },
  );
}

const castTarget = (node: Node): DType | undefined => dtypeFromOnnx(attrInt(node.attrs, "to") ?? -1);

/** x - mean(x) over the last axis: an RMSNorm of it is a LayerNorm, left to those patterns. */
function isCentred(m: Matcher, value: string): boolean {
  const sub = m.view.producer(value);
  const mean = sub?.op === "Sub" ? m.view.producer(sub.inputs[1]!) : undefined;
  return mean?.op === "ReduceMean" && mean.inputs[0] === sub!.inputs[0] && isLastAxis(reduceAxes(mean, m), m.shape(value)?.length);
}

interface RMSNormBindings { x: string; weight: string; epsilon: number }

/** w * x / sqrt(mean(x^2) + eps) rooted at the Mul by the weight, the weight accepted by `weightFits`. */
function matchRMSNorm(root: Node, m: Matcher, weightFits: (m: Matcher, weight: string, x: string) => boolean): RMSNormBindings | undefined {
  return m.commute(root, (weight, normed) => {
    // f16/bf16 models: the normalised value is cast back from f32 before the weight.
    const back = m.first(() => {
      const cast = m.def(normed, "Cast");
      return cast && !m.isNoOpCast(cast) ? cast : undefined;
    });
    const scaled = dividedByRoot(m, back ? back.inputs[0]! : normed);
    const stats = scaled ? meanSquarePlusEps(m, scaled.radicand) : undefined;
    if (!scaled || !stats || stats.x !== scaled.numerator) return undefined;
    let x = stats.x;
    const lead = m.view.producer(x);
    if (back) {
      // The statistics run in f32 on Cast(x): x itself is the input, read only here.
      if (!lead || lead.op !== "Cast" || castTarget(lead) !== "f32" || !m.view.users(x).every((u) => m.interior.includes(u))) return undefined;
      m.claim(lead);
      x = lead.inputs[0]!;
      if (castTarget(back) !== m.type(x)?.dtype) return undefined;
    } else if (m.type(x)?.dtype !== "f32") {
      return undefined; // statistics in f16 would not be what RMSNorm computes (f32)
    }
    if (!weightFits(m, weight, x) || m.type(weight)?.dtype !== m.type(x)?.dtype || isCentred(m, x)) return undefined;
    return { x, weight, epsilon: stats.epsilon };
  });
}

const rmsNormNode = (root: Node, x: string, weight: string, epsilon: number) =>
  fusedNode(root, "RMSNorm", [x, weight], { epsilon: { type: "float", value: epsilon } });

export const RMS_NORM = definePattern<RMSNormBindings>({
  name: "RMSNorm", root: "Mul",
  match: (root, m) => matchRMSNorm(root, m, isChannelVector),
  build: ({ x, weight, epsilon }, root) => [rmsNormNode(root, x, weight, epsilon)],
});

/** A weight of the last axis' length (more than 1) written with leading 1s, [1, 1, n], and no longer than x. */
function isRowWithLeadingOnes(m: Matcher, weight: string, x: string): boolean {
  const w = m.shape(weight), s = m.shape(x);
  const n = s?.[s.length - 1];
  return w !== undefined && s !== undefined && w.length > 1 && w.length <= s.length && typeof n === "number" && n > 1 &&
    w[w.length - 1] === n && w.slice(0, -1).every((d) => d === 1);
}

/**
 * RMSNorm whose weight has leading 1s: the weight squeezed to the vector RMSNorm takes.
 * The reference interpreter runs this form fused; the graph pass leaves it (index.ts).
 */
export const RMS_NORM_ROW_WEIGHT = definePattern<RMSNormBindings>({
  name: "RMSNorm", root: "Mul",
  match: (root, m) => matchRMSNorm(root, m, isRowWithLeadingOnes),
  build: ({ x, weight, epsilon }, root) => {
    const row = `${root.outputs[0]!}/weight_row`;
    return [fusedNode(root, "Squeeze", [weight], {}, { domain: "", outputs: [row] }), rmsNormNode(root, x, row, epsilon)];
  },
});

/** (x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps) over the last axis; returns x and eps. */
function standardized(m: Matcher, value: string): { x: string; epsilon: number } | undefined {
  const scaled = dividedByRoot(m, value);
  const stats = scaled ? meanSquarePlusEps(m, scaled.radicand) : undefined;
  if (!scaled || !stats || stats.x !== scaled.numerator) return undefined;
  const sub = m.def(stats.x, "Sub");
  if (!sub || meanOverLastAxis(m, sub.inputs[1]!) !== sub.inputs[0]) return undefined;
  const x = sub.inputs[0]!;
  return m.type(x)?.dtype === "f32" ? { x, epsilon: stats.epsilon } : undefined;
}

interface LayerNormBindings { x: string; weight: string; bias?: string; epsilon: number }

const layerNormalization = ({ x, weight, bias, epsilon }: LayerNormBindings, root: Node) =>
  [fusedNode(root, "LayerNormalization", bias ? [x, weight, bias] : [x, weight],
    { axis: { type: "int", value: -1 }, epsilon: { type: "float", value: epsilon } }, { domain: "" })];

/** weight * standardized(x); returns the bindings without bias. */
function weightedStandardized(m: Matcher, mul: Node): LayerNormBindings | undefined {
  return m.commute(mul, (weight, normed) => {
    const s = standardized(m, normed);
    return s && isChannelVector(m, weight, s.x) ? { x: s.x, weight, epsilon: s.epsilon } : undefined;
  });
}

export const LAYER_NORM = definePattern<LayerNormBindings>({
  name: "LayerNorm", root: "Add",
  match(root, m) {
    return m.commute(root, (scaled, bias) => {
      const mul = m.def(scaled, "Mul");
      const b = mul ? weightedStandardized(m, mul) : undefined;
      return b && isChannelVector(m, bias, b.x) ? { ...b, bias } : undefined;
    });
  },
  build: layerNormalization,
});

export const LAYER_NORM_NO_BIAS = definePattern<LayerNormBindings>({
  name: "LayerNorm", root: "Mul",
  match(root, m) {
    const b = weightedStandardized(m, root);
    // A bias Add that follows is left to the LayerNorm pattern rooted there.
    const out = root.outputs[0]!, users = m.view.users(out);
    const add = users.length === 1 && users[0]!.op === "Add" && users[0]!.domain === "" ? users[0]! : undefined;
    const bias = add?.inputs[0] === out ? add.inputs[1] : add?.inputs[0];
    return b && !(bias !== undefined && isChannelVector(m, bias, b.x)) ? b : undefined;
  },
  build: layerNormalization,
});
