// Mixture-of-experts blocks (Mixtral), as both exporters write Hugging Face's
// gather-based experts:
//   router:  TopK(Softmax(logits), k) [, then weights / sum(weights)] -> tierflow.MoEGate
//   experts: every token repeated k times, its experts' gate/up and down weights
//            gathered (Gather, or GatherND of the indices unsqueezed), two batched
//            matrix-vector MatMuls around a SwiGLU, weighted and summed over the
//            k slots                                                 -> tierflow.MoEExperts
// The unnormalised gate fuses first; a later sweep absorbs the renormalisation.

import type { Node } from "../graph.js";
import { attrInt, attrInts } from "../graph.js";
import type { Matcher } from "./pattern.js";
import { definePattern, fusedNode, isLastAxis, reduceAxes } from "./pattern.js";
import { lastAxisSlice } from "./rotary.js";

const sameList = (a: readonly number[] | undefined, b: readonly number[]) => a?.length === b.length && a.every((v, i) => v === b[i]);

interface GateBindings { logits: string; k: number; indices?: string }

export const MOE_GATE = definePattern<GateBindings>({
  name: "MoEGate", root: "TopK",
  match(root, m) {
    const softmax = m.def(root.inputs[0], "Softmax");
    const k = m.ints(root.inputs[1]);
    const logits = softmax?.inputs[0];
    const rank = logits !== undefined ? m.shape(logits)?.length : undefined;
    const lastAxis = (n: Node) => isLastAxis([attrInt(n.attrs, "axis") ?? -1], rank);
    if (!softmax || k?.length !== 1 || !lastAxis(softmax) || !lastAxis(root)) return undefined;
    if (attrInt(root.attrs, "largest") === 0 || attrInt(root.attrs, "sorted") === 0) return undefined;
    return { logits: logits!, k: k[0]! };
  },
  build: ({ logits, k }, root) => [fusedNode(root, "MoEGate", [logits], { k: { type: "int", value: k }, normalize: { type: "int", value: 0 } })],
});

export const MOE_GATE_NORMALIZE = definePattern<GateBindings>({
  name: "MoEGate", root: "Div",
  match(root, m) {
    const gate = m.defAt(root.inputs[0], "tierflow.MoEGate", 0);
    const sum = m.def(root.inputs[1], "ReduceSum");
    if (!gate || attrInt(gate.attrs, "normalize") !== 0 || !sum || m.throughCasts(sum.inputs[0]!) !== gate.outputs[0]) return undefined;
    if (attrInt(sum.attrs, "keepdims") === 0 || !isLastAxis(reduceAxes(sum, m), m.shape(gate.outputs[0]!)?.length)) return undefined;
    m.expose(gate.outputs[1]!);
    return { logits: gate.inputs[0]!, k: attrInt(gate.attrs, "k")!, indices: gate.outputs[1]! };
  },
  build: ({ logits, k, indices }, root) => [fusedNode(root, "MoEGate", [logits],
    { k: { type: "int", value: k }, normalize: { type: "int", value: 1 } }, { outputs: [root.outputs[0]!, indices!] })],
});

/** Unsqueeze (axes attribute or input) of `value` at exactly `axes`; returns its input. */
function unsqueezed(m: Matcher, value: string, ...axesChoices: number[][]): string | undefined {
  const u = m.def(value, "Unsqueeze");
  const axes = u ? attrInts(u.attrs, "axes") ?? m.ints(u.inputs[1]) : undefined;
  return u && axesChoices.some((a) => sameList(axes, a)) ? u.inputs[0] : undefined;
}

/** Reshape of `value` to [-1]; returns its input. */
function flattened(m: Matcher, value: string): string | undefined {
  const r = m.def(value, "Reshape");
  return r && sameList(m.ints(r.inputs[1]), [-1]) ? r.inputs[0] : undefined;
}

/** Squeeze(MatMul(gather(W, e), Unsqueeze(v, -1)), -1): each routed row times its expert's matrix. */
function expertMatvec(m: Matcher, value: string): { weight: string; expert: string; vector: string } | undefined {
  const squeeze = m.def(value, "Squeeze");
  const axes = squeeze ? attrInts(squeeze.attrs, "axes") ?? m.ints(squeeze.inputs[1]) : undefined;
  const matmul = squeeze && (sameList(axes, [-1]) || sameList(axes, [2])) ? m.def(squeeze.inputs[0], "MatMul") : undefined;
  const vector = matmul ? unsqueezed(m, matmul.inputs[1]!, [-1], [2]) : undefined;
  if (!matmul || vector === undefined) return undefined;
  const gathered = matmul.inputs[0]!;
  const picked = m.first(
    () => {
      const g = m.def(gathered, "Gather");
      return g && (attrInt(g.attrs, "axis") ?? 0) === 0 ? { weight: g.inputs[0]!, expert: g.inputs[1]! } : undefined;
    },
    () => {
      const g = m.def(gathered, "GatherND");
      const expert = g && (attrInt(g.attrs, "batch_dims") ?? 0) === 0 ? unsqueezed(m, g.inputs[1]!, [-1], [1]) : undefined;
      return expert !== undefined ? { weight: g!.inputs[0]!, expert } : undefined;
    },
  );
  return picked && m.shape(picked.weight)?.length === 3 ? { ...picked, vector } : undefined;
}

/** The first and second half of `value`'s last axis, as Split outputs or two Slices; returns value. */
function halvesOf(m: Matcher, first: string, second: string): string | undefined {
  return m.first(
    () => {
      const split = m.defAt(first, "Split", 0);
      if (!split || m.defAt(second, "Split", 1) !== split || split.outputs.length !== 2) return undefined;
      const sizes = attrInts(split.attrs, "split") ?? m.ints(split.inputs[1]);
      const rank = m.shape(split.inputs[0]!)?.length;
      const even = sizes === undefined ? !split.inputs[1] : sizes.length === 2 && sizes[0] === sizes[1];
      return even && isLastAxis([attrInt(split.attrs, "axis") ?? 0], rank) ? split.inputs[0] : undefined;
    },
    () => {
      const a = m.def(first, "Slice"), b = m.def(second, "Slice");
      const whole = a?.inputs[0], shape = whole !== undefined ? m.shape(whole) : undefined;
      const size = shape?.[shape.length - 1];
      if (!a || !b || b.inputs[0] !== whole || typeof size !== "number") return undefined;
      const [ra, rb] = [lastAxisSlice(m, a, size), lastAxisSlice(m, b, size)];
      return ra?.[0] === 0 && ra[1] === size / 2 && rb?.[0] === size / 2 && rb[1] === size ? whole : undefined;
    },
  );
}

/** Every token k times, token-major: Unsqueeze(x, 1) tiled or expanded to [T, k, H], flattened to [T * k, H]. */
function repeatedTokens(m: Matcher, value: string, k: number): string | undefined {
  return m.first(
    () => {
      const flatten = m.def(value, "Flatten");
      const tile = flatten && attrInt(flatten.attrs, "axis") === 2 ? m.def(flatten.inputs[0], "Tile") : undefined;
      return tile && sameList(m.ints(tile.inputs[1]), [1, k, 1]) ? unsqueezed(m, tile.inputs[0]!, [1]) : undefined;
    },
    () => {
      const reshape = m.def(value, "Reshape");
      const expand = reshape && m.shape(value)?.length === 2 ? m.def(reshape.inputs[0], "Expand") : undefined;
      return expand && sameList(m.ints(expand.inputs[1]), [1, k, 1]) ? unsqueezed(m, expand.inputs[0]!, [1]) : undefined;
    },
  );
}

interface ExpertsBindings { x: string; weights: string; indices: string; gateUp: string; down: string }

export const MOE_EXPERTS = definePattern<ExpertsBindings>({
  name: "MoEExperts", root: "ReduceSum",
  match(root, m) {
    const perSlot = m.def(root.inputs[0], "Reshape");
    const slots = perSlot ? m.shape(perSlot.outputs[0]!) : undefined;
    const axes = reduceAxes(root, m);
    if (!perSlot || slots?.length !== 3 || attrInt(root.attrs, "keepdims") !== 0 || !(sameList(axes, [1]) || sameList(axes, [-2]))) return undefined;
    const weighted = m.def(perSlot.inputs[0], "Mul");
    return weighted && m.commute(weighted, (expertOut, column) => {
      const flatWeights = unsqueezed(m, column, [-1], [1]);
      const weights = flatWeights !== undefined ? flattened(m, flatWeights) : undefined;
      const k = weights !== undefined ? m.shape(weights)?.[1] : undefined;
      if (typeof k !== "number" || slots[1] !== k) return undefined;
      const down = expertMatvec(m, expertOut);
      const act = down ? m.def(down.vector, "tierflow.SwiGLU") : undefined;
      const hidden = act ? halvesOf(m, act.inputs[0]!, act.inputs[1]!) : undefined;
      const gateUp = hidden !== undefined ? expertMatvec(m, hidden) : undefined;
      if (!down || !gateUp || gateUp.expert !== down.expert) return undefined;
      const experts = m.shape(gateUp.weight)?.[0];
      const clip = m.def(down.expert, "Clip");
      const clamped = clip && m.scalar(clip.inputs[1]) === 0 && typeof experts === "number" && m.scalar(clip.inputs[2]) === experts - 1;
      const indices = clamped ? flattened(m, clip.inputs[0]!) : flattened(m, down.expert);
      const x = repeatedTokens(m, gateUp.vector, k);
      const rank2 = [x, weights, indices].every((v) => v !== undefined && m.shape(v)?.length === 2);
      if (!rank2 || m.type(indices!)?.dtype !== "i64") return undefined;
      return { x: x!, weights: weights!, indices: indices!, gateUp: gateUp.weight, down: down.weight };
    });
  },
  build: ({ x, weights, indices, gateUp, down }, root) => [fusedNode(root, "MoEExperts", [x, weights, indices, gateUp, down])],
});
