// What one socket of a node-level plan needs beyond the single-socket runtime,
// in bytes: its part of every sharded tensor, and the few operands that differ
// between members of a group (ir/placement/socket-scope.ts has the socket's
// share of the memory, its rebound graph nodes and the operands' shapes). A
// row-parallel product's bias is added once, by member 0, since the all-reduce
// sums every member's partial product (and a column-parallel product whose bias
// stays whole, because a norm reads it too, adds its own columns of it); and a
// socket holding experts [base, base + n) of an MoE layer computes only the
// routed slots that pick one of them (indices shifted by base, other slots
// weighted 0), so the sum over the group is the whole layer.

import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import type { Plan } from "../../ir/placement/plan.js";
import { biasColumns, memberOperands as memberShapes, partOf } from "../../ir/placement/socket-scope.js";
import { fail } from "../../ir/diagnostics.js";
import type { Tensor } from "../../ir/tensor.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";
import type { Operand } from "./operands.js";
import { elemBytes } from "./operands.js";
import { product } from "./tiles.js";

export { partOf, socketNodes } from "../../ir/placement/socket-scope.js";

/** Bytes of part `part` of `parts` along `axis` of a row-major tensor of `dims` with `elem`-byte elements. */
export function slicePart(bytes: Uint8Array, dims: readonly number[], elem: number, axis: number, parts: number, part: number, what: string): Uint8Array {
  const length = dims[axis];
  if (length === undefined || length % parts !== 0) {
    fail(`shard of '${what}' splits axis ${axis} of [${dims.join(", ")}] into ${parts} parts, which do not divide it`);
  }
  const outer = product(dims.slice(0, axis)), inner = product(dims.slice(axis + 1)) * elem, chunk = (length / parts) * inner;
  if (bytes.byteLength !== outer * length * inner) fail(`'${what}' has ${bytes.byteLength} bytes, its shape [${dims.join(", ")}] needs ${outer * length * inner}`);
  const out = new Uint8Array(outer * chunk);
  for (let r = 0; r < outer; r++) out.set(bytes.subarray(r * length * inner + part * chunk, r * length * inner + (part + 1) * chunk), r * chunk);
  return out;
}

/** Replace an operand's bytes (the residency checks already ran on the real ones). */
function withBytes(o: Operand, bytes: Uint8Array): Operand {
  return { ...o, bytes };
}

/** Routing of the slots that pick experts [base, base + count): indices shifted to local experts, other slots weighted 0. */
function localRouting(weights: Operand, indices: Operand, base: number, count: number): [Operand, Operand] {
  const w = bytesToTensor(weights.bytes!.slice(), weights.storage, weights.dtype, weights.shape);
  const e = bytesToTensor(indices.bytes!.slice(), indices.storage, indices.dtype, indices.shape);
  const wd = w.data as Float32Array | Float64Array, ed = e.data as BigInt64Array;
  for (let i = 0; i < ed.length; i++) {
    const local = Number(ed[i]!) - base;
    const mine = local >= 0 && local < count;
    ed[i] = BigInt(mine ? local : 0);
    if (!mine) wd[i] = 0;
  }
  return [withBytes(weights, tensorToBytes(w as Tensor, weights.storage)), withBytes(indices, tensorToBytes(e as Tensor, indices.storage))];
}

export type OperandAdjuster = (k: DfKernel, inputs: readonly (Operand | undefined)[]) => (Operand | undefined)[];

/** The operands member `member` of a group of `group` computes with, where they differ from what its memory holds. */
export function memberOperands(plan: Plan, member: number, group: number): OperandAdjuster {
  const m = memberShapes(plan);
  return (k, inputs) => {
    const out = [...inputs];
    if (k.ops[0] === "tierflow.MoEExperts") {
      const shard = m.shards.get(k.inputs[3] ?? "");
      const [, weights, indices, gateUp] = inputs;
      if (shard && shard.axis === 0 && weights?.bytes && indices?.bytes && gateUp) {
        const count = gateUp.shape[0]!;
        [out[1], out[2]] = localRouting(weights, indices, partOf(member, shard.parts, group) * count, count);
      }
      return out;
    }
    const bias = inputs[2];
    if (k.kind !== "matmul" || !bias?.bytes || m.shards.has(bias.name)) return out;
    // A row-parallel product: every member's partial sum is all-reduced, so the bias goes in once.
    if (m.partialSum.has(k.outputs[0] ?? "")) {
      if (member !== 0) out[2] = withBytes(bias, new Uint8Array(bias.bytes.byteLength));
      return out;
    }
    // A column-parallel product whose bias other kernels read whole: this member's columns of it.
    const columns = biasColumns(m, k, bias);
    if (columns) {
      const split = m.shards.get(k.outputs[0] ?? "")!, last = bias.shape.length - 1;
      const part = partOf(member, split.parts, group);
      out[2] = { ...bias, shape: columns, bytes: slicePart(bias.bytes, bias.shape, elemBytes(bias), last, split.parts, part, bias.name) };
    }
    return out;
  };
}
