// Composite ops of a mixture-of-experts block: the router (softmax, top-k,
// renormalisation) and the routed SwiGLU experts. See composite.ts.

import type { OpDef } from "../op-def.js";
import { addDims, mulDims } from "../../symbolic.js";
import { fail } from "../../diagnostics.js";
import { FLOATS, checkDType, checkSameDType, inputType, intAttr, numel } from "./util.js";
import { Decomposition, attr, checkDim, defineComposite } from "./decompose.js";

const MOE_GATE = defineComposite({
  op: "MoEGate", inputs: [1, 1], outputs: [2, 2],
  doc: `MoEGate(logits) -> (weights, indices): top-k routing over the experts on the last axis.
  p = softmax(logits); weights, indices = topk(p, k) (largest first); with normalize = 1 the
  weights are divided by their sum, so each token's k weights add up to 1.
  %w, %e = "tierflow".MoEGate(%router_logits) {k = 2, normalize = 1} : f32[tokens, 2], i64[tokens, 2]`,
  attrs: { k: { type: "int", required: true }, normalize: { type: "int", default: 1 } },
  infer(ctx) {
    const logits = inputType(ctx, 0, "logits");
    checkDType(logits.dtype, FLOATS, "logits");
    const k = intAttr(ctx.attrs, "k", 1);
    if (!logits.shape) return { types: [{ dtype: logits.dtype, shape: null }, { dtype: "i64", shape: null }] };
    const experts = logits.shape[logits.shape.length - 1];
    if (experts === undefined) fail("logits must have rank >= 1");
    if (k < 1 || (typeof experts === "number" && k > experts)) fail(`k = ${k} must be between 1 and the ${experts} experts`);
    const shape = [...logits.shape.slice(0, -1), k];
    return { types: [{ dtype: logits.dtype, shape }, { dtype: "i64", shape }] };
  },
  cost: ([logits]) => ({ flops: logits?.shape ? mulDims(7, numel(logits.shape)) : 0 }),
  decompose(node) {
    const d = new Decomposition(node);
    const probs = d.one("Softmax", [node.inputs[0]!], { axis: attr.int(-1) });
    const k = d.ints([intAttr(node.attrs, "k", 1)]);
    const topk = { axis: attr.int(-1), largest: attr.int(1), sorted: attr.int(1) };
    if (intAttr(node.attrs, "normalize", 1) === 1) {
      const [values] = d.op("TopK", [probs, k], topk, [undefined, node.outputs[1]!]) as [string];
      d.result(0, "Div", [values, d.one("ReduceSum", [values, d.ints([-1])], { keepdims: attr.int(1) })]);
    } else {
      d.op("TopK", [probs, k], topk, node.outputs);
    }
    return d.nodes;
  },
});

const MOE_EXPERTS = defineComposite({
  op: "MoEExperts", inputs: [5, 5],
  doc: `MoEExperts(x, weights, indices, gate_up, down): the routed SwiGLU experts of a mixture-of-experts block.
  x [tokens, hidden]; weights, indices [tokens, k] (from MoEGate); gate_up [experts, 2 * inter, hidden]
  (gate rows, then up rows); down [experts, hidden, inter]. With e = clamp(indices[t, j], 0, experts - 1):
  y[t] = sum_j weights[t, j] * down[e] @ swiglu(gate_up[e][:inter] @ x[t], gate_up[e][inter:] @ x[t])
  %y = "tierflow".MoEExperts(%x, %w, %e, %gate_up, %down) : f32[tokens, 64]`,
  infer(ctx) {
    const x = inputType(ctx, 0, "X");
    checkDType(x.dtype, FLOATS, "X");
    checkSameDType(ctx, [0, 1, 3, 4]);
    checkDType(inputType(ctx, 2, "indices").dtype, ["i64"], "indices");
    const [xs, ws, is, gu, dn] = [0, 1, 2, 3, 4].map((i) => inputType(ctx, i).shape);
    const ranks: [typeof xs, number, string][] = [[xs, 2, "X"], [ws, 2, "weights"], [is, 2, "indices"], [gu, 3, "gate_up"], [dn, 3, "down"]];
    for (const [s, r, what] of ranks) if (s && s.length !== r) fail(`${what} must have rank ${r}, got ${s.length}`);
    if (!xs || !ws || !is || !gu || !dn) return { types: [{ dtype: x.dtype, shape: null }] };
    checkDim(ws[1]!, is[1]!, "weights k");
    checkDim(gu[2]!, xs[1]!, "gate_up hidden size");
    checkDim(dn[1]!, xs[1]!, "down hidden size");
    checkDim(gu[1]!, mulDims(2, dn[2]!), "gate_up rows (2 x the down inner size)");
    checkDim(dn[0]!, gu[0]!, "down experts");
    return { types: [{ dtype: x.dtype, shape: [xs[0]!, xs[1]!] }] };
  },
  cost: ([x, w, , gu], [out]) => {
    if (!x?.shape || !w?.shape || !gu?.shape || !out?.shape) return { flops: 0 };
    // Per routed token: the gate/up and down matrix-vector products (6 * inter * hidden) and the activation.
    const routed = mulDims(x.shape[0]!, w.shape[1]!);
    const perToken = addDims(mulDims(3, numel(gu.shape.slice(1))), mulDims(5, gu.shape[1]!));
    return { flops: mulDims(routed, perToken) };
  },
  decompose(node) {
    const d = new Decomposition(node);
    const [x, weights, indices, gateUp, down] = node.inputs as [string, string, string, string, string];
    const flat = d.ints([-1]);
    const lastExpert = d.one("Squeeze", [d.one("Sub", [d.one("Shape", [gateUp], { start: attr.int(0), end: attr.int(1) }), d.ints([1])])]);
    const expert = d.one("Clip", [d.one("Reshape", [indices, flat]), d.one("Constant", [], { value_int: attr.int(0) }), lastExpert]);
    // Every token once per routed slot: [tokens, hidden] -> [tokens * k, hidden].
    const k = d.one("Shape", [indices], { start: attr.int(1), end: attr.int(2) });
    const hidden = d.one("Shape", [x], { start: attr.int(1), end: attr.int(2) });
    const tiled = d.one("Expand", [d.one("Unsqueeze", [x, d.ints([1])]), d.one("Concat", [d.ints([1]), k, d.ints([1])], { axis: attr.int(0) })]);
    const routed = d.one("Reshape", [tiled, d.one("Concat", [flat, hidden], { axis: attr.int(0) })]);
    const matvec = (w: string, v: string) =>
      d.one("Squeeze", [d.one("MatMul", [d.one("Gather", [w, expert], { axis: attr.int(0) }), d.one("Unsqueeze", [v, flat])]), flat]);
    const [gate, up] = d.op("Split", [matvec(gateUp, routed)], { axis: attr.int(-1), num_outputs: attr.int(2) }, 2) as [string, string];
    const act = d.one("Mul", [d.one("Mul", [gate, d.one("Sigmoid", [gate])]), up]);
    const weighted = d.one("Mul", [matvec(down, act), d.one("Unsqueeze", [d.one("Reshape", [weights, flat]), flat])]);
    const perSlot = d.one("Reshape", [weighted, d.one("Concat", [d.one("Shape", [indices]), hidden], { axis: attr.int(0) })]);
    d.result(0, "ReduceSum", [perSlot, d.ints([1])], { keepdims: attr.int(0) });
    return d.nodes;
  },
});

export const MOE_OPS: readonly OpDef[] = [MOE_GATE, MOE_EXPERTS];
