// Rotary position embedding, rotate-half form (Llama, Mistral, Mixtral):
//   x * cos + concat(-x[..., d/2:], x[..., :d/2]) * sin  -> tierflow.Rotary(x, cos, sin)
// Only a rotation of the whole last axis matches: partial rotary (a slice of
// the head rotated, the rest passed through) and the interleaved GPT-J form are
// left as they are.

import type { Node } from "../graph.js";
import { attrInt } from "../graph.js";
import type { Matcher } from "./pattern.js";
import { definePattern, fusedNode } from "./pattern.js";

/** [start, end) of a unit-step Slice over the last axis of a tensor whose last dim is `size`. */
export function lastAxisSlice(m: Matcher, slice: Node, size: number): [number, number] | undefined {
  const rank = m.shape(slice.inputs[0]!)?.length;
  const [starts, ends, axes, steps] = [1, 2, 3, 4].map((i) => m.ints(slice.inputs[i]));
  if (rank === undefined || starts?.length !== 1 || ends?.length !== 1) return undefined;
  const axis = axes ? axes[0] : rank === 1 ? 0 : undefined;
  if (axis === undefined || (axes && axes.length !== 1) || (axis !== -1 && axis !== rank - 1)) return undefined;
  if ((slice.inputs[4] && steps === undefined) || (steps && (steps.length !== 1 || steps[0] !== 1))) return undefined;
  const clamp = (v: number) => Math.min(Math.max(v < 0 ? v + size : v, 0), size);
  return [clamp(starts[0]!), clamp(ends[0]!)];
}

/** concat(-x2, x1) over the last axis, x1/x2 the halves of x; returns x. */
function rotatedHalf(m: Matcher, value: string): string | undefined {
  const concat = m.def(value, "Concat");
  if (!concat || concat.inputs.length !== 2) return undefined;
  const neg = m.def(concat.inputs[0], "Neg");
  const second = neg ? m.def(neg.inputs[0], "Slice") : undefined;
  const first = m.def(concat.inputs[1], "Slice");
  const x = first?.inputs[0];
  const shape = x !== undefined ? m.shape(x) : undefined;
  const size = shape?.[shape.length - 1];
  if (!second || !first || second.inputs[0] !== x || typeof size !== "number" || size % 2 !== 0) return undefined;
  const axis = attrInt(concat.attrs, "axis");
  if (axis !== -1 && axis !== shape!.length - 1) return undefined;
  const [a, b] = [lastAxisSlice(m, first, size), lastAxisSlice(m, second, size)];
  const half = size / 2;
  return a?.[0] === 0 && a[1] === half && b?.[0] === half && b[1] === size ? x : undefined;
}

export const ROTARY = definePattern<{ x: string; cos: string; sin: string }>({
  name: "Rotary", root: "Add",
  match(root, m) {
    return m.commute(root, (direct, rotated) => {
      const withSin = m.def(rotated, "Mul");
      return withSin && m.commute(withSin, (half, sin) => {
        const x = rotatedHalf(m, half);
        const withCos = x !== undefined ? m.def(direct, "Mul") : undefined;
        if (!withCos) return undefined;
        const [a, b] = withCos.inputs as [string, string];
        const cos = a === x ? b : b === x ? a : undefined;
        const dtype = m.type(x!)?.dtype;
        return cos !== undefined && m.type(cos)?.dtype === dtype && m.type(sin)?.dtype === dtype ? { x: x!, cos, sin } : undefined;
      });
    });
  },
  build: ({ x, cos, sin }, root) => [fusedNode(root, "Rotary", [x, cos, sin])],
});
