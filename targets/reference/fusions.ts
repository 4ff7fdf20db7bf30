// Steps the reference backend runs: one per node, except where a pattern of
// nodes has a kernel that computes the same values in one pass. Each fusion
// is a (match, kernel) pair in FUSIONS; a fused step reads the pattern's
// outside inputs, writes the last node's outputs and falls back to the
// nodes' own kernels, in order, for cases its kernel does not cover, so the
// result never differs from running the nodes one by one. The values inside
// a pattern are never stored (trace shows no store or free for them).
//
// Attention: MatMul(Q, K^T) -> Mul/Div by one value -> Add(mask) -> Softmax
// -> Casts to float32 -> MatMul(., V), the Mul/Div, Add and Casts optional and
// Transposes of Q, K^T and V read through: fusedAttention runs it per batch
// and head without materialising the scores; where it does not apply, the
// steps run separately, each through the kernel its own fusion below would use.
//
// Rotary embedding (rotate-half: two Slices, Neg, Concat, two Muls, Add):
// rotateHalf runs it as one loop over x.
//
// MatMul -> Add(bias): a linear layer's bias, a row along the last axis, added
// by the GEMM kernel as it writes each tile (matmulAndBias), where it can.
//
// Gather -> MatMul: a table gathered by index (Gather on axis 0, or GatherND
// with one index per row) and used once, as MatMul's A (a mixture of experts'
// per-token weights): gatherMatmulKernel groups tokens by expert instead of
// materialising the gathered weights.
//
// Mul/Div -> Add -> Softmax: attention scores scaled by one value, a mask added
// (the Add is optional) and normalised along the last axis:
// scaledMaskedSoftmax keeps the scaled and masked scores inside the SIMD
// module's memory instead of writing and reading them back twice.
//
// Transpose -> MatMul: an operand transposed only to be multiplied (attention's
// keys, queries and values moving heads ahead of positions) is read through
// strides by the GEMM's packing instead of being copied into the new order.

import type { Graph, Node } from "../../ir/graph/graph.js";
import type { KernelContext } from "../../ir/graph/op-def.js";
import type { Tensor } from "../../ir/tensor.js";
import { intAttr, normalizeAxis } from "../../ir/graph/ops/util.js";
import { gatherMatmulKernel } from "../../ir/graph/kernels/gather-matmul.js";
import { scaledMaskedSoftmax } from "../../ir/graph/kernels/scaled-softmax.js";
import { matmulAndBias, matmulStrided, permutedView } from "../../ir/graph/kernels/matmul.js";
import type { StridedOperand } from "../../ir/graph/kernels/matmul.js";
import { fusedAttention } from "../../ir/graph/kernels/attention.js";
import { rmsNorm as rmsNormKernel } from "../../ir/graph/kernels/rms-norm.js";
import { ACTIVATIONS, COMMUTATIVE } from "../../ir/graph/kernels/activation-patterns.js";
import type { Expr } from "../../ir/graph/kernels/activation-patterns.js";
import { runActivation } from "../../ir/graph/kernels/activation.js";
import { rotateHalf } from "../../ir/graph/kernels/rotary.js";
import { intsAttr } from "../../ir/graph/ops/util.js";

export type Kernel = (inputs: readonly (Tensor | undefined)[], ctx: KernelContext) => Tensor[];

export interface Step {
  /** The node whose outputs the step writes (its name and op label profiles and errors). */
  readonly node: Node;
  readonly inputs: readonly string[];
  readonly kernel: Kernel;
  readonly ctx: KernelContext;
  /** What profiles call a fused step whose work is more than its node's op (Attention); else the node's op. */
  readonly label?: string;
  /** For a fused step, the names of all the nodes it runs, in graph order (profiles report them). */
  readonly covers?: readonly string[];
}

/** Which node writes each value, and which nodes read it. */
interface Uses {
  readonly producer: ReadonlyMap<string, number>;
  readonly readers: ReadonlyMap<string, readonly number[]>;
}

interface Fusion {
  readonly name: string;
  /** For node i: the indices of the nodes it absorbs (run before it, used only by it), its inputs and kernel; or undefined. */
  readonly match: (graph: Graph, i: number, uses: Uses, steps: readonly Step[]) => { absorbs: number[]; step: Step } | undefined;
}

/** The node writing `value` when it is read by that one node only and is not a graph output. */
function soleProducer(graph: Graph, value: string, { producer, readers }: Uses, steps: readonly Step[]): [number, Step] | undefined {
  const p = producer.get(value);
  const step = p === undefined ? undefined : steps[p];
  if (!step || step.node.domain || step.node.outputs.length !== 1 || graph.outputs.includes(value) || readers.get(value)?.length !== 1) return undefined;
  return [p!, step];
}

const gatherMatmul: Fusion = {
  name: "gather-matmul",
  match(graph, i, uses, steps) {
    const mm = steps[i]!;
    if (mm.node.op !== "MatMul" || mm.node.domain) return undefined;
    const a = mm.node.inputs[0]!, found = soleProducer(graph, a, uses, steps);
    if (!found || mm.node.inputs[1] === a) return undefined;
    const [g, gather] = found, nd = gather.node.op === "GatherND";
    if (nd ? intAttr(gather.node.attrs, "batch_dims", 0) !== 0 : gather.node.op !== "Gather" || intAttr(gather.node.attrs, "axis", 0) !== 0) return undefined;
    const [table, indices] = gather.node.inputs as [string, string];
    const kernel: Kernel = (args, ctx) => {
      const [t, idx, b] = args as [Tensor, Tensor, Tensor];
      const fused = gatherMatmulKernel(t, idx, b, nd);
      if (fused) return [fused];
      return mm.kernel([gather.kernel([t, idx], gather.ctx)[0], b], ctx);
    };
    return { absorbs: [g], step: { node: mm.node, inputs: [table, indices, mm.node.inputs[1]!], kernel, ctx: mm.ctx } };
  },
};

const scaledSoftmax: Fusion = {
  name: "scaled-masked-softmax",
  match(graph, i, uses, steps) {
    const softmax = steps[i]!;
    if (softmax.node.op !== "Softmax" || softmax.node.domain) return undefined;
    const scaling = (value: string) => {
      const p = soleProducer(graph, value, uses, steps);
      return p && (p[1].node.op === "Mul" || p[1].node.op === "Div") ? p : undefined;
    };
    const before = soleProducer(graph, softmax.node.inputs[0]!, uses, steps);
    const add = before?.[1].node.op === "Add" ? before : undefined;
    // With an Add, the scaled scores are whichever of its operands a Mul or Div writes.
    const addInputs = add?.[1].node.inputs ?? [];
    const scaledAt = addInputs.findIndex((v) => scaling(v));
    const scaled = scaling(add ? addInputs[scaledAt] ?? "" : softmax.node.inputs[0]!);
    if (!scaled || (add && addInputs[0] === addInputs[1])) return undefined;
    const [sIndex, sStep] = scaled, op = sStep.node.op as "Mul" | "Div";
    const [a, b] = sStep.node.inputs as [string, string];
    if (a === b) return undefined;
    const mask = add ? addInputs[1 - scaledAt]! : undefined;
    // Mul's scale may come first (x * s = s * x, bit for bit); Div's is the divisor.
    const kernel: Kernel = (args, ctx) => {
      const [u, v, m] = args as [Tensor, Tensor, Tensor | undefined];
      const pairs: [Tensor, Tensor][] = op === "Mul" ? [[u, v], [v, u]] : [[u, v]];
      for (const [x, scale] of pairs) {
        const fused = scaledMaskedSoftmax(x, op, scale, m, softmax.ctx.attrs, softmax.ctx.opset);
        if (fused) return [fused];
      }
      let t = sStep.kernel([u, v], sStep.ctx)[0]!;
      if (add) t = add[1].kernel(scaledAt === 0 ? [t, m] : [m, t], add[1].ctx)[0]!;
      return softmax.kernel([t], ctx);
    };
    const inputs = mask === undefined ? [a, b] : [a, b, mask];
    return { absorbs: add ? [sIndex, add[0]] : [sIndex], step: { node: softmax.node, inputs, kernel, ctx: softmax.ctx } };
  },
};

/** x as `transpose` (a Transpose step, or none) would write it, as a strided view; undefined for an invalid perm (the node reports it). */
function transposedView(x: Tensor, transpose: Step | undefined): StridedOperand | undefined {
  const rank = x.dims.length;
  const perm = transpose ? intsAttr(transpose.ctx.attrs, "perm") ?? [...Array(rank).keys()].reverse() : [...Array(rank).keys()];
  const valid = perm.length === rank && perm.every((p, j) => perm.indexOf(p) === j && p >= 0 && p < rank);
  return valid ? permutedView(x, perm) : undefined;
}

/** x transposed by its step (when it has one), materialised. */
const materialised = (x: Tensor, transpose: Step | undefined): Tensor => (transpose ? transpose.kernel([x], transpose.ctx)[0]! : x);

/** MatMul of two operands, each perhaps transposed first, as transpose-matmul runs it. */
function matmulOfViews(mm: Step, args: readonly Tensor[], transposes: readonly (Step | undefined)[]): Tensor {
  const [a, b] = args.map((x, k) => transposedView(x, transposes[k]));
  const fused = a && b ? matmulStrided(a, b) : undefined;
  return fused ?? mm.kernel(args.map((x, k) => materialised(x, transposes[k])), mm.ctx)[0]!;
}

const transposeMatmul: Fusion = {
  name: "transpose-matmul",
  match(graph, i, uses, steps) {
    const mm = steps[i]!;
    if (mm.node.op !== "MatMul" || mm.node.domain || mm.node.inputs[0] === mm.node.inputs[1]) return undefined;
    const transposes = mm.node.inputs.map((v) => {
      const p = soleProducer(graph, v, uses, steps);
      return p && p[1].node.op === "Transpose" ? p : undefined;
    });
    if (!transposes.some((t) => t)) return undefined;
    const transposeSteps = transposes.map((t) => t?.[1]);
    const kernel: Kernel = (args) => [matmulOfViews(mm, args as Tensor[], transposeSteps)];
    const inputs = mm.node.inputs.map((v, k) => transposes[k]?.[1].node.inputs[0] ?? v);
    return { absorbs: transposes.flatMap((t) => (t ? [t[0]] : [])), step: { node: mm.node, inputs, kernel, ctx: mm.ctx } };
  },
};

/** The node writing `value`, read by that one node only, when its op is `op`. */
function soleOp(graph: Graph, value: string, op: string, uses: Uses, steps: readonly Step[]): [number, Step] | undefined {
  const p = soleProducer(graph, value, uses, steps);
  return p && p[1].node.op === op ? p : undefined;
}

/** Attention scores: MatMul(Q, K^T), perhaps then Mul or Div by a value (scores first for Div). */
function scoresOf(graph: Graph, value: string, uses: Uses, steps: readonly Step[]) {
  const direct = soleOp(graph, value, "MatMul", uses, steps);
  if (direct) return { matmul: direct };
  const scaled = soleOp(graph, value, "Mul", uses, steps) ?? soleOp(graph, value, "Div", uses, steps);
  if (!scaled || scaled[1].node.inputs[0] === scaled[1].node.inputs[1]) return undefined;
  for (const at of scaled[1].node.op === "Mul" ? [0, 1] : [0]) {
    const matmul = soleOp(graph, scaled[1].node.inputs[at]!, "MatMul", uses, steps);
    if (matmul) return { matmul, scale: scaled, scoresAt: at };
  }
  return undefined;
}

const FLOAT = 1; // TensorProto.FLOAT, Cast's `to`

const attention: Fusion = {
  name: "attention",
  match(graph, i, uses, steps) {
    const pv = steps[i]!;
    if (pv.node.op !== "MatMul" || pv.node.domain || pv.node.inputs[0] === pv.node.inputs[1]) return undefined;
    // Casts to float32: exporters write Softmax(dtype=float32).to(float32) as two.
    const probsCasts = floatCasts(graph, pv.node.inputs[0]!, uses, steps);
    if (!probsCasts) return undefined;
    const casts = probsCasts.casts;
    const softmax = soleOp(graph, probsCasts.from, "Softmax", uses, steps);
    if (!softmax || softmax[1].node.domain) return undefined;
    const add = soleOp(graph, softmax[1].node.inputs[0]!, "Add", uses, steps);
    const addInputs = add?.[1].node.inputs ?? [];
    const scoresAt = addInputs.findIndex((v) => scoresOf(graph, v, uses, steps));
    if (add && (scoresAt < 0 || addInputs[0] === addInputs[1])) return undefined;
    const found = scoresOf(graph, add ? addInputs[scoresAt]! : softmax[1].node.inputs[0]!, uses, steps);
    if (!found) return undefined;
    const qk = found.matmul[1], scale = found.scale?.[1];
    if (qk.node.domain || qk.node.inputs[0] === qk.node.inputs[1]) return undefined;
    const transposed = (v: string) => soleOp(graph, v, "Transpose", uses, steps);
    const [tq, tk, tv] = [transposed(qk.node.inputs[0]!), transposed(qk.node.inputs[1]!), transposed(pv.node.inputs[1]!)];
    const source = (v: string, t: [number, Step] | undefined) => (t ? t[1].node.inputs[0]! : v);
    const op = (scale?.node.op ?? "Mul") as "Mul" | "Div";
    const scaleAt = found.scoresAt === undefined ? -1 : 1 - found.scoresAt;
    const inputs = [
      source(qk.node.inputs[0]!, tq), source(qk.node.inputs[1]!, tk), source(pv.node.inputs[1]!, tv),
      scale ? scale.node.inputs[scaleAt]! : "", add ? addInputs[1 - scoresAt]! : "",
    ];
    const [sq, sk, sv] = [tq?.[1], tk?.[1], tv?.[1]];
    const kernel: Kernel = (args) => {
      const [q, kt, v, s, mask] = args as [Tensor, Tensor, Tensor, Tensor | undefined, Tensor | undefined];
      const views = [transposedView(q, sq), transposedView(kt, sk), transposedView(v, sv)];
      const { attrs, opset } = softmax[1].ctx;
      const rank = Math.max(q.dims.length, kt.dims.length); // the scores'
      const lastAxis = normalizeAxis(intAttr(attrs, "axis", opset < 13 ? 1 : -1), rank) === rank - 1;
      if (lastAxis && views.every((x) => x)) {
        const fused = fusedAttention(views[0]!, views[1]!, views[2]!, op, s, mask);
        if (fused) return [fused];
      }
      // Step by step: the scores, scaled, masked and normalised, then the context.
      const scores = matmulOfViews(qk, [q, kt], [sq, sk]);
      let probs = scale && s ? scaledMaskedSoftmax(scores, op, s, mask, attrs, opset) : undefined;
      if (!probs) {
        let x = scale ? scale.kernel(scaleAt === 1 ? [scores, s] : [s, scores], scale.ctx)[0]! : scores;
        if (add) x = add[1].kernel(scoresAt === 0 ? [x, mask] : [mask, x], add[1].ctx)[0]!;
        probs = softmax[1].kernel([x], softmax[1].ctx)[0]!;
      }
      for (const [, cast] of casts) probs = cast.kernel([probs], cast.ctx)[0]!;
      return [matmulOfViews(pv, [probs, v], [undefined, sv])];
    };
    const absorbs = [tq, tk, tv, found.matmul, found.scale, add, softmax, ...casts].flatMap((p) => (p ? [p[0]] : []));
    return { absorbs, step: { node: pv.node, inputs, kernel, ctx: pv.ctx, label: "Attention" } };
  },
};

/** Casts to float32 that end at `value`, in reading order, and the value they start from; undefined if a Cast is to another type. */
function floatCasts(graph: Graph, value: string, uses: Uses, steps: readonly Step[]): { casts: [number, Step][]; from: string } | undefined {
  const casts: [number, Step][] = [];
  for (let c = soleOp(graph, value, "Cast", uses, steps); c; c = soleOp(graph, value, "Cast", uses, steps)) {
    if (intAttr(c[1].node.attrs, "to", 0) !== FLOAT) return undefined;
    casts.unshift(c);
    value = c[1].node.inputs[0]!;
  }
  return { casts, from: value };
}

/** ReduceMean over the last axis only, keeping it: its axes attribute (before opset 18) or input (from 18), checked when run. */
function lastAxisMean(mean: Step, axes: Tensor | undefined, rank: number): boolean {
  if (intAttr(mean.ctx.attrs, "keepdims", 1) !== 1) return false;
  const list = axes ? Array.from(axes.data, Number) : intsAttr(mean.ctx.attrs, "axes");
  return list !== undefined && list.length === 1 && normalizeAxis(list[0]!, rank) === rank - 1;
}

const rmsNorm: Fusion = {
  name: "rms-norm",
  match(graph, i, uses, steps) {
    const last = steps[i]!;
    if (last.node.op !== "Mul" || last.node.domain || last.node.inputs[0] === last.node.inputs[1]) return undefined;
    for (const at of [0, 1]) {
      const cast = floatCasts(graph, last.node.inputs[at]!, uses, steps);
      const scaled = cast && soleOp(graph, cast.from, "Mul", uses, steps);
      if (!scaled) continue;
      for (const xAt of [0, 1]) {
        const x = scaled[1].node.inputs[xAt]!, rValue = scaled[1].node.inputs[1 - xAt]!;
        const recip = soleOp(graph, rValue, "Reciprocal", uses, steps) ?? soleOp(graph, rValue, "Div", uses, steps);
        const isDiv = recip?.[1].node.op === "Div";
        const sqrt = recip && soleOp(graph, recip[1].node.inputs[isDiv ? 1 : 0]!, "Sqrt", uses, steps);
        const add = sqrt && soleOp(graph, sqrt[1].node.inputs[0]!, "Add", uses, steps);
        if (!add || (isDiv && recip[1].node.inputs[0] === recip[1].node.inputs[1])) continue;
        const meanAt = add[1].node.inputs.findIndex((v) => soleOp(graph, v, "ReduceMean", uses, steps));
        const mean = meanAt < 0 ? undefined : soleOp(graph, add[1].node.inputs[meanAt]!, "ReduceMean", uses, steps);
        const pow = mean && soleOp(graph, mean[1].node.inputs[0]!, "Pow", uses, steps);
        if (!pow || pow[1].node.inputs[0] !== x || add[1].node.inputs[0] === add[1].node.inputs[1]) continue;
        const parts = [pow, mean!, add, sqrt, recip, scaled, ...cast.casts];
        const inputs = [x, pow[1].node.inputs[1]!, mean![1].node.inputs[1] ?? "", add[1].node.inputs[1 - meanAt]!, isDiv ? recip[1].node.inputs[0]! : "", last.node.inputs[1 - at]!];
        const kernel: Kernel = (args) => {
          const [xs, exponent, axes, eps, one, weight] = args as [Tensor, Tensor, Tensor | undefined, Tensor, Tensor | undefined, Tensor];
          const fused = lastAxisMean(mean![1], axes, xs.dims.length) ? rmsNormKernel(xs, exponent, eps, one, weight) : undefined;
          if (fused) return [fused];
          const one1 = (step: Step, operands: (Tensor | undefined)[]) => step.kernel(operands, step.ctx)[0]!;
          const squares = one1(pow[1], [xs, exponent]);
          const m = one1(mean![1], mean![1].node.inputs.length > 1 ? [squares, axes] : [squares]);
          const a = one1(add[1], meanAt === 0 ? [m, eps] : [eps, m]);
          const sq = one1(sqrt[1], [a]);
          const r = one1(recip[1], isDiv ? [one, sq] : [sq]);
          let y = one1(scaled[1], xAt === 0 ? [xs, r] : [r, xs]);
          for (const [, c] of cast.casts) y = one1(c, [y]);
          return [one1(last, at === 0 ? [y, weight] : [weight, y])];
        };
        return { absorbs: parts.map((p) => p[0]), step: { node: last.node, inputs, kernel, ctx: last.ctx, label: "RMSNorm" } };
      }
    }
    return undefined;
  },
};

/** An activation's nodes as matched: each op of the expression with its step and operands in the node's input order. */
type Matched = { readonly leaf: string } | { readonly index: number; readonly step: Step; readonly operands: readonly Matched[] };

/**
 * Every way `expr` matches the node writing `value` (the anchor at the root, else a sole
 * producer), names bound consistently; Add and Mul may have their operands either way round.
 */
function* matchExpr(graph: Graph, expr: Expr, value: string, root: number | undefined, uses: Uses, steps: readonly Step[],
  bound: ReadonlyMap<string, string>): Generator<{ matched: Matched; bound: ReadonlyMap<string, string> }> {
  if (typeof expr === "string") {
    const seen = bound.get(expr);
    if (seen === undefined) yield { matched: { leaf: expr }, bound: new Map([...bound, [expr, value]]) };
    else if (seen === value) yield { matched: { leaf: expr }, bound };
    return;
  }
  const op = expr[0], operands = expr.slice(1);
  const found = root === undefined ? soleOp(graph, value, op, uses, steps) : steps[root]!.node.op === op ? [root, steps[root]!] as const : undefined;
  if (!found || found[1].node.domain || found[1].node.inputs.length !== operands.length || found[1].node.outputs.length !== 1) return;
  const [index, step] = found;
  const orders = COMMUTATIVE.has(op) && operands.length === 2 ? [[0, 1], [1, 0]] : [operands.map((_, k) => k)];
  for (const order of orders) {
    // Operand k is the node's input order[k]; subs are kept in the node's input order.
    function* from(k: number, state: ReadonlyMap<string, string>, subs: readonly Matched[]): Generator<{ matched: Matched; bound: ReadonlyMap<string, string> }> {
      if (k === operands.length) {
        yield { matched: { index, step, operands: order.map((_, j) => subs[order.indexOf(j)]!) }, bound: state };
        return;
      }
      for (const m of matchExpr(graph, operands[k]!, step.node.inputs[order[k]!]!, undefined, uses, steps, state)) yield* from(k + 1, m.bound, [...subs, m.matched]);
    }
    yield* from(0, bound, []);
  }
}

const indicesOf = (m: Matched): number[] => ("leaf" in m ? [] : [m.index, ...m.operands.flatMap(indicesOf)]);

/** The nodes of a match run one by one, leaves from `args`. */
function evaluate(m: Matched, args: ReadonlyMap<string, Tensor>): Tensor {
  if ("leaf" in m) return args.get(m.leaf)!;
  return m.step.kernel(m.operands.map((o) => evaluate(o, args)), m.step.ctx)[0]!;
}

/** Steps of a matched expression, from the root down. */
const stepsOf = (m: Matched): Step[] => ("leaf" in m ? [] : [m.step, ...m.operands.flatMap(stepsOf)]);

/**
 * A fusion that matches `expr` at its root and runs `kernel` on the values its names bound
 * (in `names` order), or where that gives undefined, the matched nodes one by one.
 */
function expressionFusion(name: string, expr: Expr, names: readonly string[], label: string,
  kernel: (byName: ReadonlyMap<string, Tensor>, steps: readonly Step[]) => Tensor | undefined): Fusion {
  return {
    name,
    match(graph, i, uses, steps) {
      const m = matchExpr(graph, expr, steps[i]!.node.outputs[0] ?? "", i, uses, steps, new Map()).next().value;
      if (!m) return undefined;
      const inputs = names.map((n) => m.bound.get(n)!);
      const absorbs = indicesOf(m.matched).filter((j) => j !== i);
      // A value the pattern writes cannot also be one it reads (a node reading it twice).
      if (absorbs.some((j) => steps[j]!.node.outputs.some((o) => inputs.includes(o)))) return undefined;
      const matchedSteps = stepsOf(m.matched);
      const run: Kernel = (args) => {
        const byName = new Map(names.map((n, k) => [n, args[k] as Tensor]));
        return [kernel(byName, matchedSteps) ?? evaluate(m.matched, byName)];
      };
      return { absorbs, step: { node: steps[i]!.node, inputs, kernel: run, ctx: steps[i]!.ctx, label } };
    },
  };
}

const activations: Fusion[] = ACTIVATIONS.map((pattern) => expressionFusion(`activation-${pattern.name}`, pattern.expr,
  [...pattern.inputs, ...pattern.constants], pattern.name,
  (byName) => runActivation(pattern, pattern.inputs.map((n) => byName.get(n)!), pattern.constants.map((n) => byName.get(n)!))));

/**
 * Rotary position embedding, rotate-half form, as Llama-family exports write it: x * cos +
 * concat(-x2, x1) * sin, x2 and x1 Slices of x's last axis (their bounds, and Concat's axis,
 * checked when run).
 */
const ROTARY: Expr = ["Add", ["Mul", "x", "cos"], ["Mul", ["Concat",
  ["Neg", ["Slice", "x", "x2Start", "x2End", "x2Axes", "x2Steps"]], ["Slice", "x", "x1Start", "x1End", "x1Axes", "x1Steps"]], "sin"]];
const ROTARY_NAMES = ["x", "cos", "sin", "x2Start", "x2End", "x2Axes", "x2Steps", "x1Start", "x1End", "x1Axes", "x1Steps"];

/** [start, end) of a step-1 Slice of the last axis of `dims`, from its one-value parameter tensors; undefined otherwise. */
function lastAxisSlice(dims: readonly number[], starts: Tensor, ends: Tensor, axes: Tensor, steps: Tensor): [number, number] | undefined {
  const one = (t: Tensor) => (t.data.length === 1 ? Number(t.data[0]) : NaN);
  const rank = dims.length, d = dims[rank - 1]!;
  if (one(steps) !== 1 || !(one(axes) === -1 || one(axes) === rank - 1)) return undefined;
  const at = (v: number) => Math.min(d, Math.max(0, v < 0 ? v + d : v));
  return [at(one(starts)), at(one(ends))];
}

const rotary = expressionFusion("rotary", ROTARY, ROTARY_NAMES, "Rotary", (v, steps) => {
  const x = v.get("x")!, rank = x.dims.length, half = (x.dims[rank - 1] ?? 0) / 2;
  const concat = steps.find((s) => s.node.op === "Concat")!;
  if (rank === 0 || normalizeAxis(intAttr(concat.ctx.attrs, "axis", 0), rank) !== rank - 1) return undefined;
  const x2 = lastAxisSlice(x.dims, v.get("x2Start")!, v.get("x2End")!, v.get("x2Axes")!, v.get("x2Steps")!);
  const x1 = lastAxisSlice(x.dims, v.get("x1Start")!, v.get("x1End")!, v.get("x1Axes")!, v.get("x1Steps")!);
  if (x2?.[0] !== half || x2[1] !== 2 * half || x1?.[0] !== 0 || x1[1] !== half) return undefined;
  return rotateHalf(x, v.get("cos")!, v.get("sin")!);
});

const matmulBias: Fusion = {
  name: "matmul-bias",
  match(graph, i, uses, steps) {
    const add = steps[i]!;
    if (add.node.op !== "Add" || add.node.domain || add.node.inputs[0] === add.node.inputs[1]) return undefined;
    const at = add.node.inputs.findIndex((v) => soleOp(graph, v, "MatMul", uses, steps));
    const mm = at < 0 ? undefined : soleOp(graph, add.node.inputs[at]!, "MatMul", uses, steps);
    if (!mm || mm[1].node.domain || !graph.constants.has(add.node.inputs[1 - at]!)) return undefined; // a layer's bias is a weight
    const kernel: Kernel = (args) => {
      const [a, b, bias] = args as [Tensor, Tensor, Tensor];
      const { out, added } = matmulAndBias(a, b, bias);
      return added ? [out] : add.kernel(at === 0 ? [out, bias] : [bias, out], add.ctx);
    };
    return { absorbs: [mm[0]], step: { node: add.node, inputs: [...mm[1].node.inputs, add.node.inputs[1 - at]!], kernel, ctx: add.ctx, label: "MatMul" } };
  },
};

/** In priority order: each fusion takes its matches over the whole graph before the next looks. */
export const FUSIONS: readonly Fusion[] = [attention, rmsNorm, ...activations, rotary, gatherMatmul, matmulBias, scaledSoftmax, transposeMatmul];

/** The steps for a graph's nodes (one per node, in order), with FUSIONS applied. */
export function fuseSteps(graph: Graph, steps: readonly Step[]): Step[] {
  const readers = new Map<string, number[]>(), producer = new Map<string, number>();
  graph.nodes.forEach((node, i) => {
    for (const input of new Set(node.inputs)) if (input !== "") readers.set(input, [...(readers.get(input) ?? []), i]);
    for (const output of node.outputs) if (output !== "") producer.set(output, i);
  });
  const uses: Uses = { producer, readers };
  const replaced = new Map<number, Step>(), absorbed = new Set<number>();
  for (const fusion of FUSIONS) {
    steps.forEach((_, i) => {
      if (absorbed.has(i) || replaced.has(i)) return;
      const m = fusion.match(graph, i, uses, steps);
      if (!m || m.absorbs.some((j) => absorbed.has(j) || replaced.has(j) || j >= i)) return;
      m.absorbs.forEach((j) => absorbed.add(j));
      const covers = [...m.absorbs, i].sort((x, y) => x - y).map((j) => steps[j]!.node.name);
      replaced.set(i, { ...m.step, covers });
    });
  }
  return steps.flatMap((s, i) => (absorbed.has(i) ? [] : [replaced.get(i) ?? s]));
}
