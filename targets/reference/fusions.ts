// Steps the reference backend runs: one per node, except where a pattern of
// nodes has a kernel that computes the same values in one pass. Each fusion
// is a (match, kernel) pair in FUSIONS; a fused step reads the pattern's
// outside inputs, writes the last node's outputs and falls back to the
// nodes' own kernels, in order, for cases its kernel does not cover, so the
// result never differs from running the nodes one by one. The values inside
// a pattern are never stored (trace shows no store or free for them).
//
// Gather -> MatMul: a table gathered by index (Gather on axis 0, or GatherND
// with one index per row) and used once, as MatMul's A (a mixture of experts'
// per-token weights): gatherMatmulKernel groups tokens by expert instead of
// materialising the gathered weights.

import type { Graph, Node } from "../../ir/graph/graph.js";
import type { KernelContext } from "../../ir/graph/op-def.js";
import type { Tensor } from "../../ir/tensor.js";
import { intAttr } from "../../ir/graph/ops/util.js";
import { gatherMatmulKernel } from "../../ir/graph/kernels/gather-matmul.js";

export type Kernel = (inputs: readonly (Tensor | undefined)[], ctx: KernelContext) => Tensor[];

export interface Step {
  /** The node whose outputs the step writes (its name and op label profiles and errors). */
  readonly node: Node;
  readonly inputs: readonly string[];
  readonly kernel: Kernel;
  readonly ctx: KernelContext;
}

/** Which node writes each value, and which nodes read it. */
interface Uses {
  readonly producer: ReadonlyMap<string, number>;
  readonly readers: ReadonlyMap<string, readonly number[]>;
}

interface Fusion {
  readonly name: string;
  /** For node i: the indices of the nodes it absorbs (run before it, used only by it), its inputs and kernel; or undefined. */
  readonly match: (graph: Graph, i: number, uses: Uses, steps: readonly Step[]) => { absorbs: number[]; step: Step } | undefined;
}

const gatherMatmul: Fusion = {
  name: "gather-matmul",
  match(graph, i, { producer, readers }, steps) {
    const mm = steps[i]!;
    if (mm.node.op !== "MatMul" || mm.node.domain) return undefined;
    const a = mm.node.inputs[0]!, g = producer.get(a) ?? -1, gather = steps[g];
    if (!gather || gather.node.domain || gather.node.outputs.length !== 1) return undefined;
    const nd = gather.node.op === "GatherND";
    if (nd ? intAttr(gather.node.attrs, "batch_dims", 0) !== 0 : gather.node.op !== "Gather" || intAttr(gather.node.attrs, "axis", 0) !== 0) return undefined;
    if (graph.outputs.includes(a) || readers.get(a)?.length !== 1 || mm.node.inputs[1] === a) return undefined;
    const [table, indices] = gather.node.inputs as [string, string];
    const kernel: Kernel = (args, ctx) => {
      const [t, idx, b] = args as [Tensor, Tensor, Tensor];
      const fused = gatherMatmulKernel(t, idx, b, nd);
      if (fused) return [fused];
      return mm.kernel([gather.kernel([t, idx], gather.ctx)[0], b], ctx);
    };
    return { absorbs: [g], step: { node: mm.node, inputs: [table, indices, mm.node.inputs[1]!], kernel, ctx: mm.ctx } };
  },
};

export const FUSIONS: readonly Fusion[] = [gatherMatmul];

/** The steps for a graph's nodes (one per node, in order), with FUSIONS applied. */
export function fuseSteps(graph: Graph, steps: readonly Step[]): Step[] {
  const readers = new Map<string, number[]>(), producer = new Map<string, number>();
  graph.nodes.forEach((node, i) => {
    for (const input of new Set(node.inputs)) if (input !== "") readers.set(input, [...(readers.get(input) ?? []), i]);
    for (const output of node.outputs) if (output !== "") producer.set(output, i);
  });
  const uses: Uses = { producer, readers };
  const replaced = new Map<number, Step>(), absorbed = new Set<number>();
  steps.forEach((_, i) => {
    for (const fusion of FUSIONS) {
      const m = fusion.match(graph, i, uses, steps);
      if (!m || m.absorbs.some((j) => absorbed.has(j) || replaced.has(j) || j >= i)) continue;
      m.absorbs.forEach((j) => absorbed.add(j));
      replaced.set(i, m.step);
      break;
    }
  });
  return steps.flatMap((s, i) => (absorbed.has(i) ? [] : [replaced.get(i) ?? s]));
}
