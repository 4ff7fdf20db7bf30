// Steps the reference backend runs: one per node, except where a pattern of
// nodes has a kernel that computes the same values in one pass. A fused step
// reads the pattern's outside inputs, writes the last node's outputs and falls
// back to the nodes' own kernels, in order, for cases its kernel does not
// cover, so the result never differs from running the nodes one by one. The
// values inside a pattern are never stored (trace shows no store or free for
// them). The fusions are in priority order: each takes its matches over the
// whole graph before the next looks (attention first, as it contains what
// later ones would take).
//
// Every fused step comes from the pattern language (ir/graph/patterns,
// REFERENCE_PATTERNS: the ones shared with the compiler's fusion pass, then the
// interpreter's own): a match found by its Matcher runs the ops the pattern
// builds through their direct kernels (fusion/pattern-step.ts). Where a graph
// pattern's op rounds otherwise than the exporters' nodes, the interpreter's
// pattern builds an exact composite (domain tierflow.exact, ir/graph/ops/
// composite-exact*.ts) whose kernel (op-kernels/exact.ts) is the fast one below.
// Where shape inference fails on a graph, no pattern applies and every node
// runs on its own. In priority order:
//
// RMS normalisation (Pow, ReduceMean, Add, Sqrt, Div(1, .) or Reciprocal, Mul,
// Casts, Mul(weight)): the RMSNorm pattern, run by tierflow.RMSNorm's direct
// kernel (kernels/rms-norm.ts), one pass per row. The pattern also takes forms
// the exporters do not write (x divided by the root, Pow(., -0.5), constants
// within 1e-6 of 2 and 1); there the step gives RMSNorm's values, which may
// differ from the nodes' in the last bit.
//
// Rotary embedding (rotate-half: two Slices, Neg, Concat, two Muls, Add): the
// Rotary pattern, run by tierflow.Rotary's direct kernel (rotateHalf), one loop
// over x. Neither shares a node with attention, which the interpreter's own
// patterns start with.
//
// Attention: MatMul(Q, K^T) -> Mul/Div by one value -> Add(mask) -> Softmax
// over the last axis -> Casts to float32 -> MatMul(., V), the Mul/Div, Add and
// Casts optional and Transposes of Q, K^T and V read through
// (tierflow.exact.Attention): fusedAttention runs it per batch and head without
// materialising the scores; where it does not apply, its parts run through the
// strided GEMM and the scaled softmax below.
//
// RMSNorm with a weight written with leading 1s ([1, 1, n]): the weight
// squeezed, then tierflow.RMSNorm's kernel.
//
// Activations (ir/graph/ops/activation-expressions.ts: GPT-2's and BERT's
// GELUs, Llama's gated SiLU), matched as expressions (Add and Mul either way
// round): one SIMD pass each (tierflow.exact.GeluTanh, GeluErf, SiLUGate).
//
// Gather -> MatMul: a table gathered by index (Gather on axis 0, or GatherND
// with one index per row) and used once, as MatMul's A (a mixture of experts'
// per-token weights): gatherMatmulKernel groups tokens by expert instead of
// materialising the gathered weights (tierflow.exact.GatherMatMul).
//
// MatMul -> Add(bias): a constant addend, added by the GEMM kernel as it
// writes each tile (matmulAndBias) where it is a row along the last axis
// (tierflow.exact.MatMulAdd).
//
// Mul/Div -> Add -> Softmax: attention scores scaled by one value, a mask added
// (the Add is optional) and normalised along the last axis:
// scaledMaskedSoftmax keeps the scaled and masked scores inside the SIMD
// module's memory instead of writing and reading them back twice
// (tierflow.exact.ScaledSoftmax).
//
// Transpose -> MatMul: an operand transposed only to be multiplied (attention's
// keys, queries and values moving heads ahead of positions) is read through
// strides by the GEMM's packing instead of being copied into the new order
// (tierflow.exact.TransposeMatMul).

import type { Graph } from "../../ir/graph/graph.js";
import { REFERENCE_PATTERNS } from "../../ir/graph/patterns/index.js";
import type { Fusion, Step, Uses } from "./fusion/step.js";
import { graphViewOf, patternFusion } from "./fusion/pattern-step.js";

export type { Kernel, Step } from "./fusion/step.js";

/** The fusions for `graph`, in priority order: each takes its matches over the whole graph before the next looks. */
export function fusionsFor(graph: Graph, opset: number): Fusion[] {
  const view = graphViewOf(graph, opset);
  return view ? REFERENCE_PATTERNS.map((p) => patternFusion(p, view)) : [];
}

/** The steps for a graph's nodes (one per node, in order), with its fusions applied. */
export function fuseSteps(graph: Graph, opset: number, steps: readonly Step[]): Step[] {
  const readers = new Map<string, number[]>(), producer = new Map<string, number>();
  graph.nodes.forEach((node, i) => {
    for (const input of new Set(node.inputs)) if (input !== "") (readers.get(input) ?? readers.set(input, []).get(input)!).push(i);
    for (const output of node.outputs) if (output !== "") producer.set(output, i);
  });
  const uses: Uses = { producer, readers };
  const replaced = new Map<number, Step>(), absorbed = new Set<number>();
  for (const fusion of fusionsFor(graph, opset)) {
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
