// Scaled dot-product attention as the exporters write it:
//   MatMul(Softmax(MatMul(q, Transpose(k)) * scale + mask), v) -> tierflow.Attention(q, k, v, mask)
// Accepted around that core: the scale as Mul or Div by a scalar on the scores,
// or split over q and k^T (Mul on each); no mask; keys transposed from
// [b, h, d, s] ([0, 1, 3, 2]) or straight from [b, s, h, d] ([0, 2, 3, 1], GPT-2
// and BERT); grouped KV heads repeated with Unsqueeze/Expand/Reshape (repeat_kv);
// the f32 Casts around Softmax of f16/bf16 models. The additive mask stays an
// input whatever built it (causal, padding or both); the fused node says
// `causal = 1` when the mask's construction compares query positions with key
// positions (maskIsCausal), which is how a decoder hides later keys.

import type { Attrs, Node } from "../graph.js";
import { attrInt, attrInts } from "../graph.js";
import { dtypeFromOnnx } from "../../dtype.js";
import type { GraphView, Matcher } from "./pattern.js";
import { definePattern, fusedNode } from "./pattern.js";

interface AttentionBindings {
  q: string; k: string; v: string; mask: string | undefined; scale: number; groups: number; causal: boolean;
  /** Keys given as [b, s, h, d]: the build adds the Transpose to [b, h, s, d]. */
  keysBSHD: boolean;
}

const sameList = (a: readonly number[] | undefined, b: readonly number[]) => a?.length === b.length && a.every((v, i) => v === b[i]);

/** x or x * c (c a scalar); returns x and c. */
function optionallyScaled(m: Matcher, value: string): { value: string; scale: number } {
  return m.first(() => {
    const mul = m.def(value, "Mul");
    return mul && m.commute(mul, (x, c) => {
      const s = m.scalar(c);
      return s !== undefined && m.shape(x)?.length === 4 ? { value: x, scale: s } : undefined;
    });
  }) ?? { value, scale: 1 };
}

/** q @ k^T, scaled by a scalar or not; returns the MatMul and the scale. */
function scaledScores(m: Matcher, value: string): { matmul: Node; scale: number } | undefined {
  return m.first(
    () => {
      const mul = m.def(value, "Mul");
      return mul && m.commute(mul, (s, c) => {
        const scale = m.scalar(c), matmul = scale !== undefined ? m.def(s, "MatMul") : undefined;
        return matmul ? { matmul, scale: scale! } : undefined;
      });
    },
    () => {
      const div = m.def(value, "Div");
      const divisor = div ? m.scalar(div.inputs[1]) : undefined;
      const matmul = divisor ? m.def(div!.inputs[0], "MatMul") : undefined;
      return matmul ? { matmul, scale: 1 / divisor! } : undefined;
    },
    () => {
      const matmul = m.def(value, "MatMul");
      return matmul ? { matmul, scale: 1 } : undefined;
    },
  );
}

/** Scores plus an additive mask, or plain scores. */
function maskedScores(m: Matcher, value: string): { matmul: Node; scale: number; mask?: string | undefined } | undefined {
  return m.first(
    () => {
      const add = m.def(value, "Add");
      return add && m.commute(add, (scores, mask) => {
        const s = scaledScores(m, scores);
        const rank = m.shape(mask)?.length;
        return s && rank !== undefined && rank <= 4 && m.type(mask)?.dtype === m.type(value)?.dtype ? { ...s, mask } : undefined;
      });
    },
    () => scaledScores(m, value),
  );
}

/** Softmax(scores) over the last axis, with the f32 Casts of reduced-precision models; returns the scores. */
function softmaxOf(m: Matcher, value: string): string | undefined {
  const dtype = m.type(value)?.dtype;
  const castBack = m.first(() => {
    const cast = m.def(value, "Cast");
    return cast && !m.isNoOpCast(cast) ? cast : undefined;
  });
  const softmax = m.def(castBack ? castBack.inputs[0] : value, "Softmax");
  const input = softmax?.inputs[0];
  const rank = input !== undefined ? m.shape(input)?.length : undefined;
  const axis = softmax ? attrInt(softmax.attrs, "axis") ?? -1 : undefined;
  if (!softmax || rank !== 4 || (axis !== -1 && axis !== 3)) return undefined;
  if (!castBack) return input;
  const castIn = m.def(input, "Cast");
  const f32 = (n: Node) => dtypeFromOnnx(attrInt(n.attrs, "to") ?? -1);
  return castIn && f32(castIn) === "f32" && m.type(castIn.inputs[0]!)?.dtype === dtype ? castIn.inputs[0] : undefined;
}

/** repeat_kv: Reshape(Expand(Unsqueeze(kv, 2), [b, kvh, g, s, d]), [b, kvh * g, s, d]); returns kv and g. */
function repeatedHeads(m: Matcher, value: string): { kv: string; groups: number } {
  return m.first(() => {
    const reshape = m.def(value, "Reshape");
    const expand = reshape ? m.def(reshape.inputs[0], "Expand") : undefined;
    const unsqueeze = expand ? m.def(expand.inputs[0], "Unsqueeze") : undefined;
    if (!unsqueeze) return undefined;
    const axes = attrInts(unsqueeze.attrs, "axes") ?? m.ints(unsqueeze.inputs[1]);
    const kv = unsqueeze.inputs[0]!;
    const [src, wide, out] = [m.shape(kv), m.shape(expand!.outputs[0]!), m.shape(value)];
    if (!sameList(axes, [2]) || src?.length !== 4 || wide?.length !== 5 || out?.length !== 4) return undefined;
    const [b, kvh, s, d] = src as [unknown, unknown, unknown, unknown];
    const groups = wide[2];
    if (typeof groups !== "number" || typeof kvh !== "number" || wide[0] !== b || wide[1] !== kvh || wide[3] !== s || wide[4] !== d) return undefined;
    return out[0] === b && out[1] === kvh * groups && out[2] === s && out[3] === d ? { kv, groups } : undefined;
  }) ?? { kv: value, groups: 1 };
}

const COMPARISONS: ReadonlySet<string> = new Set(["Less", "LessOrEqual", "Greater", "GreaterOrEqual"]);

/** One operand of a comparison varies along the query axis only and the other along the key axis only: [.., n, 1] against [.., 1, m]. */
function comparesPositions(view: GraphView, a: string, b: string): boolean {
  const shapes = [a, b].map((x) => (view.literal(x) ? undefined : view.type(x)?.shape));
  const [sa, sb] = shapes;
  if (!sa || !sb || sa.length < 2 || sb.length < 2) return false;
  const tail = (s: typeof sa) => [s[s.length - 2], s[s.length - 1]];
  const [a2, a1] = tail(sa), [b2, b1] = tail(sb);
  return (a2 === 1 && a1 !== 1 && b2 !== 1 && b1 === 1) || (a2 !== 1 && a1 === 1 && b2 === 1 && b1 !== 1);
}

/**
 * A causal mask (a decoder's, sliding windows included) is built by comparing key
 * positions with query positions, or by a triangle (Trilu); a padding mask only
 * reads the attention mask. Walks what the mask is computed from, not through the
 * data of a Shape or Size (they read only dims). Known weakness: a bidirectional
 * model with a position-dependent mask (local attention) counts as causal.
 */
export function maskIsCausal(view: GraphView, mask: string): boolean {
  const seen = new Set<string>(), stack = [mask];
  while (stack.length > 0) {
    const value = stack.pop()!;
    if (seen.has(value)) continue;
    seen.add(value);
    const node = view.producer(value);
    if (!node) continue;
    if (node.domain === "" && node.op === "Trilu") return true;
    if (node.domain === "" && COMPARISONS.has(node.op) && comparesPositions(view, node.inputs[0]!, node.inputs[1]!)) return true;
    if (node.domain === "" && (node.op === "Shape" || node.op === "Size")) continue;
    for (const input of node.inputs) if (input !== "") stack.push(input);
  }
  return false;
}

export const ATTENTION = definePattern<AttentionBindings>({
  name: "Attention", root: "MatMul",
  match(root, m) {
    const scores = softmaxOf(m, root.inputs[0]!);
    const s = scores !== undefined ? maskedScores(m, scores) : undefined;
    if (!s) return undefined;
    const q = optionallyScaled(m, s.matmul.inputs[0]!);
    const kt = optionallyScaled(m, s.matmul.inputs[1]!);
    const transpose = m.def(kt.value, "Transpose");
    const perm = transpose ? attrInts(transpose.attrs, "perm") : undefined;
    const keysBSHD = sameList(perm, [0, 2, 3, 1]);
    if (!transpose || !(keysBSHD || sameList(perm, [0, 1, 3, 2]))) return undefined;
    const k = keysBSHD ? { kv: transpose.inputs[0]!, groups: 1 } : repeatedHeads(m, transpose.inputs[0]!);
    const v = repeatedHeads(m, root.inputs[1]!);
    const dtype = m.type(q.value)?.dtype;
    const typed = [q.value, k.kv, v.kv].every((x) => m.shape(x)?.length === 4 && m.type(x)?.dtype === dtype);
    if (!typed || k.groups !== v.groups) return undefined;
    const causal = s.mask !== undefined && maskIsCausal(m.view, s.mask);
    return { q: q.value, k: k.kv, v: v.kv, mask: s.mask, scale: s.scale * q.scale * kt.scale, groups: k.groups, keysBSHD, causal };
  },
  build({ q, k, v, mask, scale, groups, keysBSHD, causal }, root) {
    const keys = `${root.outputs[0]}/keys`;
    const transpose: Node[] = keysBSHD
      ? [{ op: "Transpose", domain: "", inputs: [k], outputs: [keys], attrs: { perm: { type: "ints", value: [0, 2, 1, 3] } }, name: `${root.name}/keys` }]
      : [];
    const attrs: Attrs = {
      scale: { type: "float", value: scale },
      ...(groups !== 1 ? { kv_groups: { type: "int", value: groups } } : {}),
      ...(causal ? { causal: { type: "int", value: 1 } } : {}),
    };
    return [...transpose, fusedNode(root, "Attention", mask ? [q, keysBSHD ? keys : k, v, mask] : [q, keysBSHD ? keys : k, v], attrs)];
  },
});

interface ImportedAttentionBindings { k: string; v: string; groups: number; causal: boolean }

/**
 * tierflow.Attention as an import writes it (ONNX Attention, the contrib attention ops;
 * ir/graph/ops/attention-expand.ts) over keys and values the exporter repeated per query
 * head before the op (repeat_kv), or with a causal mask it built itself and `is_causal` 0:
 * the repeat becomes kv_groups and the mask's construction says causal, as for the
 * MatMul-Softmax-MatMul form above.
 */
export const ATTENTION_OVER_REPEATED_HEADS = definePattern<ImportedAttentionBindings>({
  name: "Attention over repeated heads", root: "tierflow.Attention",
  match(root, m) {
    const [, kIn, vIn, mask] = root.inputs;
    const k = repeatedHeads(m, kIn!), v = repeatedHeads(m, vIn!);
    const wasCausal = attrInt(root.attrs, "causal") === 1;
    const causal = wasCausal || (mask !== undefined && mask !== "" && maskIsCausal(m.view, mask));
    if (k.groups !== v.groups || (k.groups === 1 && causal === wasCausal)) return undefined;
    return { k: k.kv, v: v.kv, groups: k.groups, causal };
  },
  build({ k, v, groups, causal }, root) {
    const kvGroups = groups * (attrInt(root.attrs, "kv_groups") ?? 1);
    const attrs: Attrs = {
      ...root.attrs,
      ...(kvGroups !== 1 ? { kv_groups: { type: "int", value: kvGroups } } : {}),
      ...(causal ? { causal: { type: "int", value: 1 } } : {}),
    };
    return [fusedNode(root, "Attention", [root.inputs[0]!, k, v, ...root.inputs.slice(3)], attrs)];
  },
});
