// How a node-level plan's batch is spread: a node batch of dp x batch rows
// (axis 0 of every input), replica r taking the r-th block of `batch` rows,
// each replica's rows cut into micro-batches for its pipeline, and under
// expert parallelism without tensor parallelism (tp = 1, ep > 1) each
// micro-batch cut again into one share per group member. Outputs are joined
// back in the same order, so they line up with the inputs row for row.

import type { Plan } from "../../ir/placement/plan.js";
import { fail } from "../../ir/diagnostics.js";
import type { Tensor } from "../../ir/tensor.js";
import { allocate } from "../../ir/tensor.js";

/** How many pieces the node batch is cut into, and what each group member runs. */
export interface BatchSplit {
  readonly replicas: number;
  readonly microBatches: number;
  /** Batch shares per micro-batch: the group size with tp = 1 and ep > 1, else 1 (members share the rows). */
  readonly shares: number;
}

export function batchSplit(plan: Plan): BatchSplit {
  const l = plan.parallel!.layout;
  return { replicas: l.dp, microBatches: l.microBatches, shares: l.tp === 1 && l.ep > 1 ? l.ep : 1 };
}

export const pieceCount = (s: BatchSplit) => s.replicas * s.microBatches * s.shares;

/** Index of the piece of replica r, micro-batch u and share m (row-block order of the node batch). */
export const pieceIndex = (s: BatchSplit, r: number, u: number, m: number) => (r * s.microBatches + u) * s.shares + m;

function rowsOf(t: Tensor): number {
  return t.dims.length === 0 ? 1 : t.dims[0]!;
}

/** Rows [index * n, (index + 1) * n) of axis 0, where the tensor has `count * n` rows. */
export function batchPiece(t: Tensor, count: number, index: number): Tensor {
  const n = rowsOf(t) / count;
  const row = t.data.length / Math.max(1, rowsOf(t));
  return { dtype: t.dtype, dims: [n, ...t.dims.slice(1)], data: t.data.slice(index * n * row, (index + 1) * n * row) };
}

/** Pieces joined along axis 0, in order. */
export function joinBatch(pieces: readonly Tensor[]): Tensor {
  const first = pieces[0]!;
  const data = allocate(first.dtype, pieces.reduce((s, p) => s + p.data.length, 0));
  let at = 0;
  for (const p of pieces) {
    (data as { set(a: ArrayLike<number | bigint>, o: number): void }).set(p.data, at);
    at += p.data.length;
  }
  return { dtype: first.dtype, dims: [pieces.reduce((s, p) => s + rowsOf(p), 0), ...first.dims.slice(1)], data };
}

/** The node batch must be every piece's batch, stacked: checks each input against the per-socket program's shape. */
export function checkNodeBatch(plan: Plan, inputs: Readonly<Record<string, Tensor>>, split: BatchSplit): void {
  const count = pieceCount(split);
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t]));
  const l = plan.parallel!.layout;
  for (const name of plan.dataflow.inputs) {
    const want = tensors.get(name)?.shape, got = inputs[name]?.dims;
    if (!want || !got) continue;
    const whole = want.length === 0 ? want : [want[0]! * count, ...want.slice(1)];
    if (whole.length !== got.length || whole.some((d, i) => d !== got[i])) {
      const why = `dp=${l.dp} replicas x ${split.microBatches} micro-batches${split.shares > 1 ? ` x ${split.shares} expert-parallel shares` : ""} of [${want.join(", ")}] per socket`;
      fail(`input '${name}': the plan runs ${why}, so the node's input is [${whole.join(", ")}], got [${got.join(", ")}]`);
    }
  }
}
