// Reference kernels of the exact composites (domain "tierflow.exact",
// ir/graph/ops/composite-exact*.ts), the ops the interpreter's fused steps
// build: each direct kernel is one of the fast kernels under kernels/ and gives
// the bits of the op's decomposition (the exported nodes it replaced), or
// undefined for a case it leaves, where a fused step runs the matched nodes
// (fusion/pattern-step.ts) and the op's own kernel runs its decomposition.

import type { Attrs } from "../../../ir/graph/graph.js";
import type { Tensor } from "../../../ir/tensor.js";
import { intAttr, intsAttr } from "../../../ir/graph/ops/util.js";
import { DECOMPOSITION_OPSET } from "../../../ir/graph/ops/decompose.js";
import { EXACT_OPS } from "../../../ir/graph/ops/composite-exact.js";
import { ACTIVATIONS } from "../../../ir/graph/ops/activation-expressions.js";
import { runActivation } from "../kernels/activation.js";
import { fusedAttention } from "../kernels/attention.js";
import { gatherMatmulKernel } from "../kernels/gather-matmul.js";
import { matmulAndBias, matmulStrided, permutedView } from "../kernels/matmul.js";
import type { StridedOperand } from "../kernels/matmul.js";
import { scaledMaskedSoftmax } from "../kernels/scaled-softmax.js";
import type { KernelContext, KernelEntry } from "./op-kernel.js";
import type { DirectKernel } from "./decomposition.js";
import { compositeKernel } from "./decomposition.js";
import { PRIMITIVE_KERNELS } from "./primitives.js";

/** A primitive node's kernel run on `args` (the nodes the fast kernels leave). */
const primitive = (op: string, args: readonly (Tensor | undefined)[], attrs: Attrs = {}): Tensor =>
  PRIMITIVE_KERNELS.get(op)!(args, { attrs, opset: DECOMPOSITION_OPSET, outputCount: 1 })[0]!;

/** Operand `which` as a strided view: Transpose(x, perm_which) where transpose_which = 1; undefined for an invalid perm (the nodes report it). */
function view(x: Tensor, attrs: Attrs, which: string): StridedOperand | undefined {
  const rank = x.dims.length, identity = [...Array(rank).keys()];
  const perm = intAttr(attrs, `transpose_${which}`, 0) ? intsAttr(attrs, `perm_${which}`) ?? identity.reverse() : identity;
  const valid = perm.length === rank && perm.every((p, j) => perm.indexOf(p) === j && p >= 0 && p < rank);
  return valid ? permutedView(x, perm) : undefined;
}

const LAST_AXIS: Attrs = { axis: { type: "int", value: -1 } };
const scaleOp = (attrs: Attrs) => (intAttr(attrs, "divide", 0) ? "Div" : "Mul");

/** Softmax(x op scale + mask) over the last axis: one SIMD pass where it applies (for Mul, either operand the single value). */
function scaledSoftmax(u: Tensor, v: Tensor, mask: Tensor | undefined, op: "Mul" | "Div"): Tensor | undefined {
  const pairs: [Tensor, Tensor][] = op === "Mul" ? [[u, v], [v, u]] : [[u, v]];
  for (const [x, scale] of pairs) {
    const fused = scaledMaskedSoftmax(x, op, scale, mask, LAST_AXIS, DECOMPOSITION_OPSET);
    if (fused) return fused;
  }
  return undefined;
}

/** The attention block: fusedAttention, else its parts through the strided GEMM and the scaled softmax, else undefined. */
function attention([q, kt, v, s, mask]: readonly (Tensor | undefined)[], { attrs }: KernelContext): Tensor[] | undefined {
  if (!q || !kt || !v) return undefined;
  const op = scaleOp(attrs);
  const [vq, vk, vv] = [view(q, attrs, "q"), view(kt, attrs, "k"), view(v, attrs, "v")];
  if (!vq || !vk || !vv) return undefined;
  const fused = fusedAttention(vq, vk, vv, op, s, mask);
  if (fused) return [fused];
  const scores = matmulStrided(vq, vk);
  if (!scores) return undefined;
  let probs = s ? scaledSoftmax(scores, s, mask, op) : undefined;
  if (!probs) {
    let x = s ? primitive(op, [scores, s]) : scores;
    if (mask) x = primitive("Add", [x, mask]);
    probs = primitive("Softmax", [x], LAST_AXIS);
  }
  if (intAttr(attrs, "cast_probs", 0) && probs.dtype !== "f32") probs = primitive("Cast", [probs], { to: { type: "int", value: 1 } });
  const out = matmulStrided(permutedView(probs, [...probs.dims.keys()]), vv);
  return out ? [out] : undefined;
}

/** The exact composites' direct kernels. */
export const EXACT_DIRECT_KERNELS: Readonly<Record<string, DirectKernel>> = {
  MatMulAdd: ([a, b, c], { attrs }) => {
    if (!a || !b || !c) return undefined;
    const { out, added } = matmulAndBias(a, b, c);
    return [added ? out : primitive("Add", intAttr(attrs, "c_first", 0) ? [c, out] : [out, c])];
  },
  GatherMatMul: ([table, indices, b], { attrs }) => {
    const y = table && indices && b ? gatherMatmulKernel(table, indices, b, intAttr(attrs, "nd", 0) === 1) : undefined;
    return y ? [y] : undefined;
  },
  TransposeMatMul: ([a, b], { attrs }) => {
    const [va, vb] = a && b ? [view(a, attrs, "a"), view(b, attrs, "b")] : [];
    const y = va && vb ? matmulStrided(va, vb) : undefined;
    return y ? [y] : undefined;
  },
  ScaledSoftmax: ([x, scale, mask], { attrs }) => {
    const y = x && scale ? scaledSoftmax(x, scale, mask, scaleOp(attrs)) : undefined;
    return y ? [y] : undefined;
  },
  Attention: attention,
  ...Object.fromEntries(ACTIVATIONS.map((pattern): [string, DirectKernel] => [pattern.op, (args) => {
    const inputs = args.slice(0, pattern.inputs.length), constants = args.slice(pattern.inputs.length);
    if (![...inputs, ...constants].every((t) => t)) return undefined;
    const y = runActivation(pattern, inputs as Tensor[], constants as Tensor[]);
    return y ? [y] : undefined;
  }])),
};

export const EXACT_KERNELS: readonly KernelEntry[] = EXACT_OPS.map((def) => ({ domain: def.domain, op: def.op, kernel: compositeKernel(def, EXACT_DIRECT_KERNELS[def.op]) }));
