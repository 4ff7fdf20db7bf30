// Fused steps from the pattern language (ir/graph/patterns): a match of a
// FusionPattern, found with the same Matcher the compiler's fusion pass uses,
// becomes one step that runs the nodes the pattern builds through their direct
// kernels (kernel-table.ts, directKernelFor). The step reads the match's
// outside inputs and writes the root's outputs; where a built node's kernel
// leaves the case, it runs the matched nodes' own kernels in graph order, so
// its values are the nodes' whether or not the kernel applied.

import type { Graph, Node } from "../../../ir/graph/graph.js";
import { inferGraph } from "../../../ir/graph/infer.js";
import type { FusionPattern, GraphView } from "../../../ir/graph/patterns/index.js";
import { Matcher } from "../../../ir/graph/patterns/index.js";
import { graphView, rootKey } from "../../../ir/graph/patterns/pattern.js";
import type { Tensor } from "../../../ir/tensor.js";
import { directKernelFor } from "../kernel-table.js";
import type { Fusion, Kernel, Step } from "./step.js";

/**
 * What the matcher reads of `graph`: producers, users, and the types and known values
 * inference gives (undefined where inference fails: then no pattern applies, and the
 * nodes run one by one as they would unfused).
 */
export function graphViewOf(graph: Graph, opset: number): GraphView | undefined {
  let state;
  try {
    state = inferGraph(graph, opset);
  } catch {
    return undefined;
  }
  return graphView(graph, state, (v) => state.types.get(v) ?? graph.types.get(v));
}

/** The values the nodes read that none of them writes, in the order they are first read. */
function outsideInputs(nodes: readonly Node[]): string[] {
  const written = new Set(nodes.flatMap((n) => n.outputs));
  const inputs: string[] = [];
  for (const n of nodes) for (const v of n.inputs) if (v !== "" && !written.has(v) && !inputs.includes(v)) inputs.push(v);
  return inputs;
}

/** Run `nodes` in order on `values` (which they extend) with `kernelOf`'s kernels; false where one leaves the case. */
function runNodes(nodes: readonly Node[], values: Map<string, Tensor | undefined>,
  kernelOf: (node: Node, k: number) => ((args: (Tensor | undefined)[]) => Tensor[] | undefined) | undefined): boolean {
  for (const [k, node] of nodes.entries()) {
    const kernel = kernelOf(node, k);
    const results = kernel?.(node.inputs.map((v) => (v === "" ? undefined : values.get(v))));
    if (!results) return false;
    node.outputs.forEach((out, j) => out !== "" && values.set(out, results[j]));
  }
  return true;
}

/** `pattern` as a fusion of the interpreter's steps, matched on `view`'s graph. */
export function patternFusion(pattern: FusionPattern, view: GraphView): Fusion {
  return {
    name: pattern.name,
    match(graph, i, uses, steps) {
      const root = steps[i]!.node;
      if (rootKey(root) !== pattern.root) return undefined;
      const m = new Matcher(view, root);
      const bindings = pattern.match(root, m);
      if (bindings === undefined || m.exposed.length > 0) return undefined;
      const indices = m.interior.map((n) => view.position(n)).sort((a, b) => a - b);
      const inside = new Set(indices);
      // Nothing the match computes but the root's outputs is read outside it or returned.
      const escapes = (j: number) => j !== i && steps[j]!.node.outputs.some((o) =>
        o !== "" && (graph.outputs.includes(o) || (uses.readers.get(o) ?? []).some((r) => !inside.has(r))));
      if (indices.some((j) => j < 0 || escapes(j))) return undefined;
      const matched = indices.map((j) => steps[j]!);
      const inputs = outsideInputs(matched.map((s) => s.node));
      const built = pattern.build(bindings, root);
      if (!outsideInputs(built).every((v) => inputs.includes(v))) return undefined;
      const { ctx } = steps[i]!;
      const contextOf = (node: Node) => ({ attrs: node.attrs, opset: ctx.opset, outputCount: node.outputs.length });
      const kernel: Kernel = (args) => {
        const read = () => new Map(inputs.map((v, k) => [v, args[k]]));
        let values = read();
        const direct = runNodes(built, values, (node) => {
          const k = directKernelFor(node);
          return k && ((xs) => k(xs, contextOf(node)));
        });
        if (!direct) {
          values = read();
          runNodes(matched.map((s) => s.node), values, (_, k) => (xs) => matched[k]!.kernel(xs, matched[k]!.ctx));
        }
        return root.outputs.map((o) => values.get(o)!);
      };
      const step: Step = { node: root, inputs, kernel, ctx, label: pattern.name };
      return { absorbs: indices.filter((j) => j !== i), step };
    },
  };
}
