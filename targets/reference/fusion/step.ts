// What a fused step of the reference backend is (fusions.ts applies them): the
// step that replaces a pattern's nodes, which nodes read and write each value,
// and a fusion as the driver sees it (pattern-step.ts makes one of each
// pattern of the pattern language).

import type { Graph, Node } from "../../../ir/graph/graph.js";
import type { KernelContext } from "../op-kernels/op-kernel.js";
import type { Tensor } from "../../../ir/tensor.js";

export type Kernel = (inputs: readonly (Tensor | undefined)[], ctx: KernelContext) => Tensor[];

export interface Step {
  /** The node whose outputs the step writes (its name and op label profiles and errors). */
  readonly node: Node;
  readonly inputs: readonly string[];
  readonly kernel: Kernel;
  readonly ctx: KernelContext;
  /** What profiles call a fused step (its pattern's name); else the node's op. */
  readonly label?: string;
  /** For a fused step, the names of all the nodes it runs, in graph order (profiles report them). */
  readonly covers?: readonly string[];
}

/** Which node writes each value, and which nodes read it. */
export interface Uses {
  readonly producer: ReadonlyMap<string, number>;
  readonly readers: ReadonlyMap<string, readonly number[]>;
}

export interface Fusion {
  readonly name: string;
  /** For node i: the indices of the nodes it absorbs (run before it, used only by it), its inputs and kernel; or undefined. */
  readonly match: (graph: Graph, i: number, uses: Uses, steps: readonly Step[]) => { absorbs: number[]; step: Step } | undefined;
}
