// The Attention composite on the runtime. Fused (-O1, -O2) it is one kernel
// that runs whole-tensor with the composite's own reference kernel. Unfused
// (-O0) the plan has the five kernels a framework launches, whose
// intermediates (<node>/scores, scaled, masked, probs) exist only at the
// dataflow level; each is computed here as its stage of the composite's
// decomposition, with the same primitive kernels, tile by tile:
//   scores = q k^T     grouped heads: query head h reads key head floor(h / kv_groups)
//   scaled = scores * scale,  masked = scaled + mask,  probs = softmax(masked)
//   context = probs v
// Computing the stages (rather than the composite once) keeps every
// intermediate going through the tier and address the plan gives it.
//
// A causal attention kernel also writes its layer's KV cache, `<node>/k_cache`
// and `<node>/v_cache` ([batch, kv_heads, tokens, head_dim] each): in prefill
// the prompt's keys and values. Unfused, the scores stage writes the keys and
// the context stage the values, each the stage that reads them.

import type { Node } from "../../ir/graph/graph.js";
import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import { DECOMPOSITION_OPSET } from "../../ir/graph/ops/decompose.js";
import type { Tensor } from "../../ir/tensor.js";
import { scalarTensor } from "../../ir/tensor.js";
import { ResidencyError } from "./arena.js";
import { attentionInputsProblem, attentionStage, decodesOwnCache, isAttentionNode, message } from "../../ir/placement/legality.js";
import type { KernelEnv } from "./kernel-env.js";
import { readOperand, resultOf, tiledStep } from "./kernel-env.js";
import type { OpNode, Operand, TiledStep } from "./operands.js";
import { elemBytes, invoke, rowTile, writeRows } from "./operands.js";
import { checkTiling, runMatmul, runRows, streamOperand } from "./tiled.js";
import type { AttentionStep } from "../../ir/dataflow/stream-steps.js";
import { rowMapping } from "../../ir/dataflow/streaming.js";
import { streamSteps } from "../../ir/dataflow/stream-steps.js";
import { bytesToTensor, tensorToBytes } from "./bytes.js";

export const isAttention = isAttentionNode;

function stageOf(k: DfKernel, node: Node): NonNullable<ReturnType<typeof attentionStage>> {
  return attentionStage(k, node) ?? (() => { throw new ResidencyError(message.notAStage(k, node.name, k.outputs[0])); })();
}

const attrNumber = (node: Node, name: string, fallback: number) => {
  const a = node.attrs[name];
  return a && (a.type === "int" || a.type === "float") ? a.value : fallback;
};

/** Write the prompt's keys or values into the layer's cache of them. */
function writeCache(env: KernelEnv, who: string, cacheName: string, source: Operand): void {
  const dest = env.memory.destination(cacheName, who);
  if (source.bytes!.byteLength !== dest.data.byteLength || source.storage !== env.memory.info(cacheName).dtype) {
    throw new ResidencyError(message.cacheSize(who, cacheName, dest.data.byteLength, source.name, source.bytes!.byteLength));
  }
  dest.data.set(source.bytes!);
  dest.commit();
}

/**
 * Fused attention tile by tile: each step takes query rows of one (batch, head)
 * with that head's keys and values whole and the mask's rows, and runs the
 * composite's own kernel on them as a single head. Every score row depends only
 * on its query row and the keys, so the steps give the whole op's values.
 */
function runFusedAttention(step: TiledStep, node: Node): number {
  const [q, k, v, mask] = step.inputs as [Operand, Operand, Operand, Operand | undefined];
  const out = step.output;
  const [, heads, , d] = q.shape as [number, number, number, number];
  const [, kvHeads, kv] = k.shape as [number, number, number];
  const dv = v.shape[3]!, groups = attrNumber(node, "kv_groups", 1);
  if (heads !== kvHeads * groups) throw new ResidencyError(message.headGroups(step.who, heads, kvHeads, groups));
  checkTiling(step, "attention");
  const { kv_groups: _, ...attrs } = node.attrs;
  const single: OpNode = { ...node, attrs };
  const maskMap = mask ? rowMapping(mask.shape.slice(0, -1), out.shape.slice(0, -1)) : undefined;
  const ops = { inputs: [q, k, v, mask].map((o) => (o ? streamOperand(o) : undefined)), outputs: [streamOperand(out)] };
  let steps = 0;
  for (const s of streamSteps("attention", ops, step.tiling.tileShape, step.tiling.tiles) as Generator<AttentionStep>) {
    const { g0, nr, head } = s;
    const kvHead = Math.floor(head / heads) * kvHeads + Math.floor((head % heads) / groups);
    const slots = step.stage.reserve(s.items);
    const [qs, ks, vs] = slots as [Uint8Array, Uint8Array, Uint8Array];
    const eq = elemBytes(q), ek = elemBytes(k), ev = elemBytes(v);
    qs.set(q.bytes!.subarray(g0 * d * eq, (g0 + nr) * d * eq));
    ks.set(k.bytes!.subarray(kvHead * kv * d * ek, (kvHead + 1) * kv * d * ek));
    vs.set(v.bytes!.subarray(kvHead * kv * dv * ev, (kvHead + 1) * kv * dv * ev));
    const args: (Tensor | undefined)[] = [
      bytesToTensor(qs, q.storage, q.dtype, [1, 1, nr, d]), bytesToTensor(ks, k.storage, k.dtype, [1, 1, kv, d]),
      bytesToTensor(vs, v.storage, v.dtype, [1, 1, kv, dv]),
    ];
    if (mask && maskMap) {
      const tile = rowTile(mask, maskMap, g0, nr, undefined, 2, true);
      tile.fill(slots[3]!);
      args.push(bytesToTensor(tile.expand(slots[3]!), mask.storage, mask.dtype, [1, 1, nr, kv]));
    }
    const [context] = invoke(single, args, step.opset, [out.dtype]);
    const bytes = context ? tensorToBytes(context, out.storage) : undefined;
    const outSlot = slots[slots.length - 1]!;
    if (!bytes || bytes.byteLength !== outSlot.byteLength) throw new Error(`${step.who}: kernel gave ${bytes?.byteLength ?? 0} bytes for a tile of ${outSlot.byteLength}`);
    outSlot.set(bytes);
    writeRows(out.dest.data, outSlot, dv, elemBytes(out), g0, nr, 0, dv);
    steps++;
  }
  out.dest.commit();
  return steps;
}

export function runAttentionKernel(k: DfKernel, node: Node, env: KernelEnv, who: string): number {
  const stage = stageOf(k, node);
  const wrongInputs = attentionInputsProblem(k, node, stage, new Set([`${node.name}/k_cache`, `${node.name}/v_cache`]),
    decodesOwnCache(env.memory.dataflow.phase, env.memory.info(node.inputs[1]!).role));
  if (wrongInputs) throw new ResidencyError(wrongInputs);
  const [qName, kName, vName, maskName] = node.inputs;
  const kCache = `${node.name}/k_cache`, vCache = `${node.name}/v_cache`;
  const q = env.memory.info(qName!);
  const dtype = env.graphTypes.get(qName!)?.dtype ?? q.dtype;
  const operand = (name: string) => readOperand(env, name, who, dtype);
  const result = (name: string) => resultOf(env, name, who, dtype);
  if (stage === "fused") {
    const hasMask = maskName !== undefined && maskName !== "" && k.inputs.includes(maskName);
    const [qo, ko, vo] = [operand(qName!), operand(kName!), operand(vName!)];
    const mask = hasMask ? operand(maskName!) : undefined;
    const tiles = runFusedAttention(tiledStep(env, k, who, node, [qo, ko, vo, mask], result(node.outputs[0]!)), node);
    if (k.outputs.includes(kCache)) writeCache(env, who, kCache, ko);
    if (k.outputs.includes(vCache)) writeCache(env, who, vCache, vo);
    return tiles;
  }
  const [first, second] = k.inputs;
  const prim = (op: string, attrs: OpNode["attrs"] = {}): OpNode => ({ op, domain: "", attrs, name: node.name, outputs: [k.outputs[0]!] });
  if (stage === "scores" || stage === "context") {
    const a = operand(first!), b = operand(second!);
    const out = result(k.outputs[0]!);
    const heads = q.shape[1]!, kvHeads = b.shape[1]!, groups = attrNumber(node, "kv_groups", 1);
    if (heads !== kvHeads * groups) throw new ResidencyError(message.headGroups(who, heads, kvHeads, groups));
    const matmul = prim("MatMul"), transpose = prim("Transpose", { perm: { type: "ints", value: [1, 0] } });
    const tiles = runMatmul(tiledStep(env, k, who, matmul, [a, b], out, DECOMPOSITION_OPSET), {
      a, b, transB: stage === "scores",
      bIndex: (batch) => Math.floor(batch / heads) * kvHeads + Math.floor((batch % heads) / groups),
      multiply: (x: Tensor, y: Tensor) =>
        invoke(matmul, [x, stage === "scores" ? invoke(transpose, [y], DECOMPOSITION_OPSET)[0] : y], DECOMPOSITION_OPSET)[0],
    });
    const cache = stage === "scores" ? kCache : vCache;
    if (k.outputs.includes(cache)) writeCache(env, who, cache, b);
    return tiles;
  }
  const input = operand(first!);
  const out = result(k.outputs[0]!);
  if (stage === "scaled") {
    const scale: Operand = { name: "scale", shape: [], storage: input.storage, dtype, value: scalarTensor(dtype, attrNumber(node, "scale", 1)) };
    return runRows(tiledStep(env, k, who, prim("Mul"), [input, scale], out, DECOMPOSITION_OPSET), true);
  }
  if (stage === "masked") {
    const step = second !== undefined
      ? tiledStep(env, k, who, prim("Add"), [input, operand(second)], out, DECOMPOSITION_OPSET)
      : tiledStep(env, k, who, prim("Identity"), [input], out, DECOMPOSITION_OPSET);
    return runRows(step, true);
  }
  return runRows(tiledStep(env, k, who, prim("Softmax", { axis: { type: "int", value: -1 } }), [input], out, DECOMPOSITION_OPSET), false);
}
