// Sliding-window geometry shared by Conv and the pooling kernels: output size
// and the padding actually applied on each spatial axis, from the ONNX
// attributes (kernel_shape, strides, dilations, pads, auto_pad, ceil_mode).

import type { Attrs } from "../../../ir/graph/graph.js";
import { fail } from "../../../ir/diagnostics.js";
import { intAttr, intsAttr, stringAttr } from "../../../ir/graph/ops/util.js";

export interface WindowAxis {
  readonly size: number;
  readonly kernel: number;
  readonly stride: number;
  readonly dilation: number;
  /** Padding before the first element (after auto_pad is resolved). */
  readonly padBegin: number;
  readonly padEnd: number;
  readonly out: number;
}

function listAttr(attrs: Attrs, name: string, length: number, fallback: number, op: string): readonly number[] {
  const v = intsAttr(attrs, name) ?? new Array<number>(length).fill(fallback);
  if (v.length !== length) fail(`${op} ${name} has ${v.length} values, expected ${length}`);
  return v;
}

/**
 * Per spatial axis geometry. Mirrors shape inference in ops/nn.ts: SAME_* gives ceil(size / stride)
 * with the odd pad at the end (UPPER) or start (LOWER); otherwise floor (or ceil with ceil_mode).
 */
export function windowGeometry(op: string, spatial: readonly number[], kernel: readonly number[], attrs: Attrs,
  withCeil: boolean): WindowAxis[] {
  const n = spatial.length;
  if (kernel.length !== n) fail(`${op} kernel_shape has ${kernel.length} dims for ${n} spatial dims`);
  const strides = listAttr(attrs, "strides", n, 1, op), dilations = listAttr(attrs, "dilations", n, 1, op);
  const autoPad = stringAttr(attrs, "auto_pad", "NOTSET");
  const pads = autoPad === "NOTSET" ? listAttr(attrs, "pads", 2 * n, 0, op) : new Array<number>(2 * n).fill(0);
  const ceil = withCeil && intAttr(attrs, "ceil_mode", 0) === 1;
  return spatial.map((size, i) => {
    const k = kernel[i]!, stride = strides[i]!, dilation = dilations[i]!;
    if (k < 1 || stride < 1 || dilation < 1) fail(`${op} kernel, strides and dilations must be positive`);
    if (pads[i]! < 0 || pads[i + n]! < 0) fail(`${op} pads must be non-negative`);
    const effective = dilation * (k - 1) + 1;
    if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
      const out = Math.ceil(size / stride);
      const total = Math.max(0, (out - 1) * stride + effective - size);
      const small = Math.floor(total / 2), big = total - small;
      const [padBegin, padEnd] = autoPad === "SAME_UPPER" ? [small, big] : [big, small];
      return { size, kernel: k, stride, dilation, padBegin, padEnd, out };
    }
    const span = size + pads[i]! + pads[i + n]! - effective;
    if (span < 0) fail(`${op} window of ${effective} is larger than the padded input ${size + pads[i]! + pads[i + n]!}`);
    let out = Math[ceil ? "ceil" : "floor"](span / stride) + 1;
    // ceil_mode never starts a window in the end padding (ONNX spec, onnxruntime).
    if (ceil && (out - 1) * stride >= size + pads[i]!) out--;
    return { size, kernel: k, stride, dilation, padBegin: pads[i]!, padEnd: pads[i + n]!, out };
  });
}

/**
 * For each (kernel offset j, output position o) of one axis, the input coordinate
 * o * stride - padBegin + j * dilation, or -1 when it falls in the padding.
 */
export function inputCoords(w: WindowAxis): Int32Array {
  const coords = new Int32Array(w.kernel * w.out);
  for (let j = 0; j < w.kernel; j++) {
    for (let o = 0; o < w.out; o++) {
      const x = o * w.stride - w.padBegin + j * w.dilation;
      coords[j * w.out + o] = x >= 0 && x < w.size ? x : -1;
    }
  }
  return coords;
}
