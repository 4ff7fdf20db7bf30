// Steps the reference backend runs: one per node, except where a pattern of
// nodes has a kernel that computes the same values in one pass. Each fusion
// is a (match, kernel) pair in FUSIONS (defined in fusion/, one file per
// family, with what they share in fusion/match.ts); a fused step reads the pattern's
// outside inputs, writes the last node's outputs and falls back to the
// nodes' own kernels, in order, for cases its kernel does not cover, so the
// result never differs from running the nodes one by one. The values inside
// a pattern are never stored (trace shows no store or free for them). FUSIONS
// is in priority order: each takes its matches over the whole graph before
// the next looks (attention first, as it contains what later ones would take).
//
// Attention: MatMul(Q, K^T) -> Mul/Div by one value -> Add(mask) -> Softmax
// -> Casts to float32 -> MatMul(., V), the Mul/Div, Add and Casts optional and
// Transposes of Q, K^T and V read through: fusedAttention runs it per batch
// and head without materialising the scores; where it does not apply, the
// steps run separately, each through the kernel its own fusion below would use.
//
// RMS normalisation (Pow, ReduceMean, Add, Sqrt, Div(1, .) or Reciprocal, Mul,
// Casts, Mul(weight)): rms-norm.ts, one pass per row.
//
// Activations (activation-patterns.ts: GPT-2's and BERT's GELUs, Llama's gated
// SiLU), matched as expressions (matchExpr, Add and Mul either way round):
// one SIMD pass each.
//
// Rotary embedding (rotate-half: two Slices, Neg, Concat, two Muls, Add), an
// expression too: rotateHalf runs it as one loop over x.
//
// MatMul -> Add(bias): a linear layer's bias, a row along the last axis, added
// by the GEMM kernel as it writes each tile (matmulAndBias), where it can.
//
// Gather -> MatMul: a table gathered by index (Gather on axis 0, or GatherND
// with one index per row) and used once, as MatMul's A (a mixture of experts'
// per-token weights): gatherMatmulKernel groups tokens by expert instead of
// materialising the gathered weights.
//
// Mul/Div -> Add -> Softmax: attention scores scaled by one value, a mask added
// (the Add is optional) and normalised along the last axis:
// scaledMaskedSoftmax keeps the scaled and masked scores inside the SIMD
// module's memory instead of writing and reading them back twice.
//
// Transpose -> MatMul: an operand transposed only to be multiplied (attention's
// keys, queries and values moving heads ahead of positions) is read through
// strides by the GEMM's packing instead of being copied into the new order.

import type { Graph } from "../../ir/graph/graph.js";
import type { Fusion, Step, Uses } from "./fusion/match.js";
import { attention } from "./fusion/attention.js";
import { rmsNorm } from "./fusion/norm.js";
import { activations, rotary } from "./fusion/expressions.js";
import { gatherMatmul, matmulBias, transposeMatmul } from "./fusion/matmul.js";
import { scaledSoftmax } from "./fusion/softmax.js";

export type { Kernel, Step } from "./fusion/match.js";

/** In priority order: each fusion takes its matches over the whole graph before the next looks. */
export const FUSIONS: readonly Fusion[] = [attention, rmsNorm, ...activations, rotary, gatherMatmul, matmulBias, scaledSoftmax, transposeMatmul];

/** The steps for a graph's nodes (one per node, in order), with FUSIONS applied. */
export function fuseSteps(graph: Graph, steps: readonly Step[]): Step[] {
  const readers = new Map<string, number[]>(), producer = new Map<string, number>();
  graph.nodes.forEach((node, i) => {
    for (const input of new Set(node.inputs)) if (input !== "") (readers.get(input) ?? readers.set(input, []).get(input)!).push(i);
    for (const output of node.outputs) if (output !== "") producer.set(output, i);
  });
  const uses: Uses = { producer, readers };
  const replaced = new Map<number, Step>(), absorbed = new Set<number>();
  for (const fusion of FUSIONS) {
    steps.forEach((_, i) => {
      if (absorbed.has(i) || replaced.has(i)) return;
      const m = fusion.match(graph, i, uses, steps);
      if (!m || m.absorbs.some((j) => absorbed.has(j) || replaced.has(j) || j >= i)) return;
      m.absorbs.forEach((j) => absorbed.add(j));
      const covers = [...m.absorbs, i].sort((x, y) => x - y).map((j) => steps[j]!.node.name);
      replaced.set(i, { ...m.step, covers });
    });
  }
  return steps.flatMap((s, i) => (absorbed.has(i) ? [] : [replaced.get(i) ?? s]));
}
