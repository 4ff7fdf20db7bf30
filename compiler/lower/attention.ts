// Lowering of the fused Attention op, which owns the KV cache. In prefill the
// keys and values of the prompt are written to the cache; in decode each new
// token reads the whole cache (kvLength tokens) and appends one row. Unfused
// (-O0) it becomes the five kernels a framework launches: scores, scale, mask,
// softmax, context, with the score matrix going through memory in between.

import type { Node } from "../../ir/graph/graph.js";
import { dtypeBytes } from "../../ir/dtype.js";
import { fail } from "../../ir/diagnostics.js";
import type { DfTensor } from "../../ir/dataflow/dataflow.js";
import type { LowerContext } from "./to-dataflow.js";
import { tileKernel } from "./to-dataflow.js";
import type { LowerContext as Ctx, RightOperand } from "./to-dataflow.js";

const budget = (ctx: Ctx) => (ctx.options.kernelBufferBudget !== undefined ? { budget: ctx.options.kernelBufferBudget } : {});

export interface AttentionShape {
  readonly batch: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly queryLength: number;
  readonly kvLength: number;
  readonly headDim: number;
}

/** Read the attention geometry from q [b, h, Sq, d] and k [b, kvh, Sk, d]. */
export function attentionShape(q: DfTensor, k: DfTensor, kvLength: number): AttentionShape {
  if (q.shape.length !== 4 || k.shape.length !== 4) fail(`Attention expects 4-D q and k, got [${q.shape.join(", ")}] and [${k.shape.join(", ")}]`);
  const [batch, heads, queryLength, headDim] = q.shape as [number, number, number, number];
  return { batch, heads, kvHeads: k.shape[1]!, queryLength, kvLength, headDim };
}

export function attentionFlops(s: AttentionShape): { matmul: number; pointwise: number } {
  const scores = s.batch * s.heads * s.queryLength * s.kvLength;
  return { matmul: 4 * scores * s.headDim, pointwise: 7 * scores };
}

export function lowerAttention(node: Node, ctx: LowerContext, unfused = false): void {
  const [qName, kName, vName, maskName] = node.inputs;
  if (!qName || !kName || !vName) fail("Attention needs q, k and v");
  const q = ctx.tensor(qName), k = ctx.tensor(kName), v = ctx.tensor(vName);
  const out = ctx.tensor(node.outputs[0]!);
  const s = attentionShape(q, k, ctx.options.bindings.kvLength);
  const elem = dtypeBytes(q.dtype);
  // One cache per attention layer: keys and values of every token so far.
  const cache: DfTensor = {
    name: `${node.name}/kv_cache`, dtype: q.dtype, shape: [2, s.batch, s.kvHeads, s.kvLength, s.headDim],
    bytes: 2 * s.batch * s.kvHeads * s.kvLength * s.headDim * elem, role: "kv-cache",
  };
  ctx.addTensor(cache);
  const decode = ctx.options.phase === "decode";
  const newRows = 2 * s.batch * s.kvHeads * s.queryLength * s.headDim * elem;
  const flops = attentionFlops(s);
  const mask = maskName ? ctx.tensor(maskName) : undefined;
  const base = { nodes: [node.name], dtype: q.dtype };
  if (!unfused) {
    const reads: Record<string, number> = { [q.name]: q.bytes, [k.name]: k.bytes, [v.name]: v.bytes };
    // Decode reads the cached tokens; prefill reads its own keys and values.
    reads[cache.name] = decode ? cache.bytes - newRows : 0;
    if (mask && !decode) reads[mask.name] = mask.bytes;
    const inputs = [q, k, v, cache, ...(mask && !decode ? [mask] : [])];
    ctx.kernels.push({
      ...base, name: ctx.nextKernelName(), kind: "attention", ops: ["tierflow.Attention"],
      inputs: inputs.map((t) => t.name), outputs: [out.name, cache.name], flops: flops.matmul + flops.pointwise, reads,
      ...tileKernel([q, out], [out], budget(ctx)),
    });
    return;
  }
  const scoreShape = [s.batch, s.heads, s.queryLength, s.kvLength];
  const scoreBytes = scoreShape.reduce((p, d) => p * d, 1) * elem;
  const tmp = (suffix: string): DfTensor => {
    const t: DfTensor = { name: `${node.name}/${suffix}`, dtype: q.dtype, shape: scoreShape, bytes: scoreBytes, role: "activation" };
    ctx.addTensor(t);
    return t;
  };
  const scores = tmp("scores"), scaled = tmp("scaled"), masked = tmp("masked"), probs = tmp("probs");
  const kvRead = decode ? cache.bytes - newRows : 0;
  const stage = (kind: string, op: string, inputs: DfTensor[], output: DfTensor, f: number, cacheRead?: number, right?: RightOperand) => {
    const reads: Record<string, number> = {};
    for (const t of inputs) reads[t.name] = (reads[t.name] ?? 0) + t.bytes;
    if (cacheRead !== undefined) reads[cache.name] = cacheRead;
    const names = [...inputs.map((t) => t.name), ...(cacheRead !== undefined ? [cache.name] : [])];
    ctx.kernels.push({
      ...base, name: ctx.nextKernelName(), kind, ops: [op], inputs: names, outputs: [output.name], flops: f, reads,
      ...tileKernel(inputs, [output], { ...budget(ctx), ...(right ? { right } : {}) }),
    });
  };
  const scoresCount = s.batch * s.heads * s.queryLength * s.kvLength;
  // Keys and values are the right operands: streamed in [head_dim x columns] and [kv x columns] blocks.
  stage("matmul", "MatMul", [q, k], scores, flops.matmul / 2, kvRead / 2, { tensor: k.name, k: s.headDim, n: s.kvLength });
  stage("elementwise", "Mul", [scores], scaled, scoresCount);
  stage("elementwise", "Add", mask && !decode ? [scaled, mask] : [scaled], masked, scoresCount);
  stage("softmax", "Softmax", [masked], probs, 5 * scoresCount);
  stage("matmul", "MatMul", [probs, v], out, flops.matmul / 2, kvRead / 2, { tensor: v.name, k: s.kvLength, n: s.headDim });
  // The new token's keys and values are appended to the cache.
  ctx.kernels[ctx.kernels.length - 1] = { ...ctx.kernels[ctx.kernels.length - 1]!, outputs: [out.name, cache.name] };
}
