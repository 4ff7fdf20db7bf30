// The shape of one reference kernel and of the entries the kernel table is built
// from: a function from concrete input tensors to output tensors, keyed by the
// same (domain, op type) as the graph-level op table.

import type { Attrs } from "../../../ir/graph/graph.js";
import type { DType } from "../../../ir/dtype.js";
import type { Tensor } from "../../../ir/tensor.js";

/** What a kernel knows of the node it runs besides its inputs. */
export interface KernelContext {
  readonly attrs: Attrs;
  readonly opset: number;
  readonly outputCount: number;
  /** Declared output dtypes, when the caller knows them. */
  readonly outputDTypes?: readonly DType[];
}

/** Compute an op's outputs from concrete inputs (absent optional inputs are undefined). */
export type OpKernel = (inputs: readonly (Tensor | undefined)[], ctx: KernelContext) => Tensor[];

/** One row of the kernel table. */
export interface KernelEntry {
  readonly domain: string;
  readonly op: string;
  readonly kernel: OpKernel;
}

/** Entries of one domain from a record keyed by op type. */
export function kernelsOf(domain: string, kernels: Readonly<Record<string, OpKernel>>): KernelEntry[] {
  return Object.entries(kernels).map(([op, kernel]) => ({ domain, op, kernel }));
}
