// The attention fusion: MatMul(Q, K^T), a scale, a mask, Softmax, Casts and
// MatMul(P, V) as one kernel (targets/reference/kernels/attention.ts).

import type { Graph } from "../../../ir/graph/graph.js";
import type { Tensor } from "../../../ir/tensor.js";
import { intAttr, normalizeAxis } from "../../../ir/graph/ops/util.js";
import { fusedAttention } from "../kernels/attention.js";
import { scaledMaskedSoftmax } from "../kernels/scaled-softmax.js";
import type { Fusion, Kernel, Step, Uses } from "./match.js";
import { floatCasts, matmulOfViews, soleOp, transposedView } from "./match.js";

/** Attention scores: MatMul(Q, K^T), perhaps then Mul or Div by a value (scores first for Div). */
function scoresOf(graph: Graph, value: string, uses: Uses, steps: readonly Step[]) {
  const direct = soleOp(graph, value, "MatMul", uses, steps);
  if (direct) return { matmul: direct };
  const scaled = soleOp(graph, value, "Mul", uses, steps) ?? soleOp(graph, value, "Div", uses, steps);
  if (!scaled || scaled[1].node.inputs[0] === scaled[1].node.inputs[1]) return undefined;
  for (const at of scaled[1].node.op === "Mul" ? [0, 1] : [0]) {
    const matmul = soleOp(graph, scaled[1].node.inputs[at]!, "MatMul", uses, steps);
    if (matmul) return { matmul, scale: scaled, scoresAt: at };
  }
  return undefined;
}

export const attention: Fusion = {
  name: "attention",
  match(graph, i, uses, steps) {
    const pv = steps[i]!;
    if (pv.node.op !== "MatMul" || pv.node.domain || pv.node.inputs[0] === pv.node.inputs[1]) return undefined;
    // Casts to float32: exporters write Softmax(dtype=float32).to(float32) as two.
    const probsCasts = floatCasts(graph, pv.node.inputs[0]!, uses, steps);
    if (!probsCasts) return undefined;
    const casts = probsCasts.casts;
    const softmax = soleOp(graph, probsCasts.from, "Softmax", uses, steps);
    if (!softmax || softmax[1].node.domain) return undefined;
    const add = soleOp(graph, softmax[1].node.inputs[0]!, "Add", uses, steps);
    const addInputs = add?.[1].node.inputs ?? [];
    const scoresAt = addInputs.findIndex((v) => scoresOf(graph, v, uses, steps));
    if (add && (scoresAt < 0 || addInputs[0] === addInputs[1])) return undefined;
    const found = scoresOf(graph, add ? addInputs[scoresAt]! : softmax[1].node.inputs[0]!, uses, steps);
    if (!found) return undefined;
    const qk = found.matmul[1], scale = found.scale?.[1];
    if (qk.node.domain || qk.node.inputs[0] === qk.node.inputs[1]) return undefined;
    const transposed = (v: string) => soleOp(graph, v, "Transpose", uses, steps);
    const [tq, tk, tv] = [transposed(qk.node.inputs[0]!), transposed(qk.node.inputs[1]!), transposed(pv.node.inputs[1]!)];
    const source = (v: string, t: [number, Step] | undefined) => (t ? t[1].node.inputs[0]! : v);
    const op = (scale?.node.op ?? "Mul") as "Mul" | "Div";
    const scaleAt = found.scoresAt === undefined ? -1 : 1 - found.scoresAt;
    const inputs = [
      source(qk.node.inputs[0]!, tq), source(qk.node.inputs[1]!, tk), source(pv.node.inputs[1]!, tv),
      scale ? scale.node.inputs[scaleAt]! : "", add ? addInputs[1 - scoresAt]! : "",
    ];
    const [sq, sk, sv] = [tq?.[1], tk?.[1], tv?.[1]];
    const kernel: Kernel = (args) => {
      const [q, kt, v, s, mask] = args as [Tensor, Tensor, Tensor, Tensor | undefined, Tensor | undefined];
      const views = [transposedView(q, sq), transposedView(kt, sk), transposedView(v, sv)];
      const { attrs, opset } = softmax[1].ctx;
      const rank = Math.max(q.dims.length, kt.dims.length); // the scores'
      const lastAxis = normalizeAxis(intAttr(attrs, "axis", opset < 13 ? 1 : -1), rank) === rank - 1;
      if (lastAxis && views.every((x) => x)) {
        const fused = fusedAttention(views[0]!, views[1]!, views[2]!, op, s, mask);
        if (fused) return [fused];
      }
      // Step by step: the scores, scaled, masked and normalised, then the context.
      const scores = matmulOfViews(qk, [q, kt], [sq, sk]);
      let probs = scale && s ? scaledMaskedSoftmax(scores, op, s, mask, attrs, opset) : undefined;
      if (!probs) {
        let x = scale ? scale.kernel(scaleAt === 1 ? [scores, s] : [s, scores], scale.ctx)[0]! : scores;
        if (add) x = add[1].kernel(scoresAt === 0 ? [x, mask] : [mask, x], add[1].ctx)[0]!;
        probs = softmax[1].kernel([x], softmax[1].ctx)[0]!;
      }
      for (const [, cast] of casts) probs = cast.kernel([probs], cast.ctx)[0]!;
      return [matmulOfViews(pv, [probs, v], [undefined, sv])];
    };
    const absorbs = [tq, tk, tv, found.matmul, found.scale, add, softmax, ...casts].flatMap((p) => (p ? [p[0]] : []));
    return { absorbs, step: { node: pv.node, inputs, kernel, ctx: pv.ctx, label: "Attention" } };
  },
};
