// A product over quantized weights (onnxruntime's MatMulNBits, tierflow's
// DequantMatMul) run as its matmul steps say (ir/dataflow/stream-steps.ts,
// productOperands): per tile of A's rows and block of output columns, the
// block's weights are staged at their stored bytes (packed rows of B for
// MatMulNBits; the [K, columns] slice of the quantized weight, repacked, for
// DequantMatMul), and the op's reference kernel runs on the block with its slice
// of the scales, zero points and bias (read from their tier), as a product
// with that many output columns. Each output column depends only on its own
// weights, scales and zero points, so the blocks give the whole op's values.

import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";
import { matmulSteps, productOperands, tileGrid } from "../../ir/dataflow/stream-steps.js";
import type { MatmulStep } from "../../ir/dataflow/stream-steps.js";
import { lastOf, product, rowMapping } from "../../ir/dataflow/streaming.js";
import { normalizeAxis, intAttr } from "../../ir/graph/ops/util.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";
import type { Operand, TiledStep } from "./operands.js";
import { invoke, leadingOf, rowTile } from "./operands.js";
import { checkTiling, emit, resultBytes, stagedTensor, streamOperand } from "./tiled.js";

const NBITS = "com.microsoft.MatMulNBits";

/** Elements [from, to) of a tensor's flat data, as a tensor of `dims`. */
function sliceFlat(t: Tensor, from: number, to: number, dims: readonly number[]): Tensor {
  return makeTensor(t.dtype, dims, t.data.slice(from, to) as Tensor["data"]);
}

/** Columns [c0, c1) of a [rows, n] tensor. */
function sliceColumns(t: Tensor, c0: number, c1: number): Tensor {
  const [rows, n] = t.dims as [number, number];
  const out = makeTensor(t.dtype, [rows, c1 - c0]);
  for (let r = 0; r < rows; r++) (out.data as Tensor["data"] & { set(a: ArrayLike<unknown>, o: number): void }).set(t.data.slice(r * n + c0, r * n + c1) as never, r * (c1 - c0));
  return out;
}

const whole = (o: Operand | undefined): Tensor | undefined => (o?.bytes ? bytesToTensor(o.bytes, o.storage, o.dtype, o.shape) : o?.value);

export function runQuantizedMatmul(step: TiledStep, key: string): number {
  checkTiling(step, "matmul");
  const out = step.output;
  const raw = { inputs: step.inputs.map((o) => (o ? streamOperand(o) : undefined)), outputs: [streamOperand(out)] };
  const [aOp, bOp, biasOp] = productOperands(key, raw).inputs;
  const nbits = key === NBITS;
  const [a, w] = step.inputs as [Operand, Operand];
  const bias = nbits ? step.inputs[5] : undefined;
  const n = lastOf(out.shape), k = lastOf(a.shape);
  const aMap = rowMapping(leadingOf(a.shape), leadingOf(out.shape))!;
  const biasMap = bias?.bytes ? rowMapping(leadingOf(bias.shape), leadingOf(out.shape)) : undefined;
  // Parameters read from their tier: scales and zero points (and, for DequantMatMul, the weight decoded once to slice columns from).
  const scales = whole(step.inputs[2]), zeroPoints = whole(step.inputs[3]);
  const weight = nbits ? undefined : whole(w);
  const biasAll = whole(bias);
  const axis = nbits ? 0 : normalizeAxis(intAttr(step.node.attrs, "axis", 1), 2);
  /** A DequantMatMul parameter's slice for columns [c0, c1): its columns where it has one per output column, else whole. */
  const columnsOf = (p: Tensor | undefined, c0: number, c1: number): Tensor | undefined => {
    if (!p) return undefined;
    if (p.dims.length === 2 && p.dims[1] === n) return sliceColumns(p, c0, c1);
    if (p.dims.length === 1 && p.dims[0] === n && axis === 1) return sliceFlat(p, c0, c1, [c1 - c0]);
    return p;
  };
  /** A MatMulNBits parameter laid out [N, per column]: the rows of columns [c0, c1). */
  const rowsOf = (p: Tensor | undefined, c0: number, c1: number): Tensor | undefined => {
    if (!p) return undefined;
    const per = p.data.length / n;
    return sliceFlat(p, c0 * per, c1 * per, p.dims.length === 2 ? [c1 - c0, per] : [(c1 - c0) * per]);
  };
  let steps = 0;
  for (const s of matmulSteps(aOp!, bOp!, biasOp, streamOperand(out), tileGrid(out.shape, step.tiling.tileShape)!, step.tiling.tiles) as Generator<MatmulStep>) {
    const { g0, nr, cb0, cb1 } = s, nb = cb1 - cb0;
    const aTile = rowTile(a, aMap, g0, nr, undefined, 2, true);
    const biasTile = bias?.bytes && biasMap ? rowTile(bias, biasMap, g0, nr, [cb0, cb1], 2) : undefined;
    const slots = step.stage.reserve(s.items);
    aTile.fill(slots[0]!);
    const aTensor = stagedTensor(aTile.expand(slots[0]!), a, aTile.dims);
    let args: (Tensor | undefined)[];
    let node = step.node;
    if (nbits) {
      const rowBytes = product(w.shape.slice(1)) * (w.bytes!.length / product(w.shape));
      const block = slots[1]!.subarray(0, nb * rowBytes);
      block.set(w.bytes!.subarray(cb0 * rowBytes, cb1 * rowBytes));
      // The bias block is staged like a MatMulBias's; the kernel takes its [columns] slice.
      if (biasTile) biasTile.fill(slots[2]!);
      const biasBlock = biasAll ? sliceFlat(biasAll, cb0, cb1, [nb]) : undefined;
      args = [aTensor, stagedTensor(block, w, [nb, ...w.shape.slice(1)]), rowsOf(scales, cb0, cb1), rowsOf(zeroPoints, cb0, cb1), undefined, biasBlock];
      node = { ...node, attrs: { ...node.attrs, N: { type: "int", value: nb } } };
    } else {
      const packed = tensorToBytes(sliceColumns(weight!, cb0, cb1), w.storage);
      const block = slots[1]!.subarray(0, packed.length);
      block.set(packed);
      args = [aTensor, stagedTensor(block, w, [k, nb]), columnsOf(scales, cb0, cb1), columnsOf(zeroPoints, cb0, cb1)];
    }
    const [result] = invoke(node, args, step.opset, [out.dtype]);
    emit(step, out, resultBytes(out, result), slots[slots.length - 1]!, g0, nr, cb0, nb);
    steps++;
  }
  out.dest.commit();
  return steps;
}
