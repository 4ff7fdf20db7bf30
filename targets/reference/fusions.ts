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
//
// Mul/Div -> Add -> Softmax: attention scores scaled by one value, a mask added
// (the Add is optional) and normalised along the last axis:
// scaledMaskedSoftmax keeps the scaled and masked scores inside the SIMD
// module's memory instead of writing and reading them back twice.
//
// Transpose -> MatMul: an operand transposed only to be multiplied (attention's
// keys, queries and values moving heads ahead of positions) is read through
// strides by the GEMM's packing instead of being copied into the new order.

import type { Graph, Node } from "../../ir/graph/graph.js";
import type { KernelContext } from "../../ir/graph/op-def.js";
import type { Tensor } from "../../ir/tensor.js";
import { intAttr } from "../../ir/graph/ops/util.js";
import { gatherMatmulKernel } from "../../ir/graph/kernels/gather-matmul.js";
import { scaledMaskedSoftmax } from "../../ir/graph/kernels/scaled-softmax.js";
import { matmulStrided, permutedView } from "../../ir/graph/kernels/matmul.js";
import { intsAttr } from "../../ir/graph/ops/util.js";

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

/** The node writing `value` when it is read by that one node only and is not a graph output. */
function soleProducer(graph: Graph, value: string, { producer, readers }: Uses, steps: readonly Step[]): [number, Step] | undefined {
  const p = producer.get(value);
  const step = p === undefined ? undefined : steps[p];
  if (!step || step.node.domain || step.node.outputs.length !== 1 || graph.outputs.includes(value) || readers.get(value)?.length !== 1) return undefined;
  return [p!, step];
}

const gatherMatmul: Fusion = {
  name: "gather-matmul",
  match(graph, i, uses, steps) {
    const mm = steps[i]!;
    if (mm.node.op !== "MatMul" || mm.node.domain) return undefined;
    const a = mm.node.inputs[0]!, found = soleProducer(graph, a, uses, steps);
    if (!found || mm.node.inputs[1] === a) return undefined;
    const [g, gather] = found, nd = gather.node.op === "GatherND";
    if (nd ? intAttr(gather.node.attrs, "batch_dims", 0) !== 0 : gather.node.op !== "Gather" || intAttr(gather.node.attrs, "axis", 0) !== 0) return undefined;
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

const scaledSoftmax: Fusion = {
  name: "scaled-masked-softmax",
  match(graph, i, uses, steps) {
    const softmax = steps[i]!;
    if (softmax.node.op !== "Softmax" || softmax.node.domain) return undefined;
    const scaling = (value: string) => {
      const p = soleProducer(graph, value, uses, steps);
      return p && (p[1].node.op === "Mul" || p[1].node.op === "Div") ? p : undefined;
    };
    const before = soleProducer(graph, softmax.node.inputs[0]!, uses, steps);
    const add = before?.[1].node.op === "Add" ? before : undefined;
    // With an Add, the scaled scores are whichever of its operands a Mul or Div writes.
    const addInputs = add?.[1].node.inputs ?? [];
    const scaledAt = addInputs.findIndex((v) => scaling(v));
    const scaled = scaling(add ? addInputs[scaledAt] ?? "" : softmax.node.inputs[0]!);
    if (!scaled || (add && addInputs[0] === addInputs[1])) return undefined;
    const [sIndex, sStep] = scaled, op = sStep.node.op as "Mul" | "Div";
    const [a, b] = sStep.node.inputs as [string, string];
    if (a === b) return undefined;
    const mask = add ? addInputs[1 - scaledAt]! : undefined;
    // Mul's scale may come first (x * s = s * x, bit for bit); Div's is the divisor.
    const kernel: Kernel = (args, ctx) => {
      const [u, v, m] = args as [Tensor, Tensor, Tensor | undefined];
      const pairs: [Tensor, Tensor][] = op === "Mul" ? [[u, v], [v, u]] : [[u, v]];
      for (const [x, scale] of pairs) {
        const fused = scaledMaskedSoftmax(x, op, scale, m, softmax.ctx.attrs, softmax.ctx.opset);
        if (fused) return [fused];
      }
      let t = sStep.kernel([u, v], sStep.ctx)[0]!;
      if (add) t = add[1].kernel(scaledAt === 0 ? [t, m] : [m, t], add[1].ctx)[0]!;
      return softmax.kernel([t], ctx);
    };
    const inputs = mask === undefined ? [a, b] : [a, b, mask];
    return { absorbs: add ? [sIndex, add[0]] : [sIndex], step: { node: softmax.node, inputs, kernel, ctx: softmax.ctx } };
  },
};

const transposeMatmul: Fusion = {
  name: "transpose-matmul",
  match(graph, i, uses, steps) {
    const mm = steps[i]!;
    if (mm.node.op !== "MatMul" || mm.node.domain || mm.node.inputs[0] === mm.node.inputs[1]) return undefined;
    const transposes = mm.node.inputs.map((v) => {
      const p = soleProducer(graph, v, uses, steps);
      return p && p[1].node.op === "Transpose" ? p : undefined;
    });
    if (!transposes.some((t) => t)) return undefined;
    const kernel: Kernel = (args, ctx) => {
      const perms = args.map((x, k) => {
        const t = transposes[k], rank = x!.dims.length;
        return t ? intsAttr(t[1].ctx.attrs, "perm") ?? [...Array(rank).keys()].reverse() : [...Array(rank).keys()];
      });
      // A perm that is not one (an error the Transpose node reports) falls through to the nodes.
      const valid = perms.every((perm, k) => perm.length === args[k]!.dims.length && perm.every((p, j) => perm.indexOf(p) === j && p >= 0 && p < perm.length));
      const fused = valid ? matmulStrided(permutedView(args[0]!, perms[0]!), permutedView(args[1]!, perms[1]!)) : undefined;
      if (fused) return [fused];
      const materialised = args.map((x, k) => (transposes[k] ? transposes[k][1].kernel([x], transposes[k][1].ctx)[0] : x));
      return mm.kernel(materialised, ctx);
    };
    const inputs = mm.node.inputs.map((v, k) => transposes[k]?.[1].node.inputs[0] ?? v);
    return { absorbs: transposes.flatMap((t) => (t ? [t[0]] : [])), step: { node: mm.node, inputs, kernel, ctx: mm.ctx } };
  },
};

export const FUSIONS: readonly Fusion[] = [gatherMatmul, scaledSoftmax, transposeMatmul];

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
