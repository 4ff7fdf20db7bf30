// Lowering of the fused Attention op. A causal one (a decoder's self-attention)
// owns its layer's KV cache, keys and values apart ([batch, kv_heads, tokens,
// head_dim] each, as frameworks keep them): in prefill the keys and values of
// the prompt are written to it; in decode each new token reads the whole cache
// (kvLength tokens) and appends one row. Other attention (an encoder's, over
// patches or audio frames) keeps nothing. Attention over a cache the graph
// itself takes and returns (a with-past export: its keys are a CacheAppend's
// output, a kv-cache tensor) keeps no cache of its own either: it reads the
// graph's, whole, with the graph's mask, in prefill and in decode alike. Unfused (-O0) it becomes the five
// kernels a framework launches: scores, scale, mask, softmax, context, with
// the score matrix going through memory in between.

import type { Node } from "../../ir/graph/graph.js";
import { dtypeBytes } from "../../ir/dtype.js";
import { fail } from "../../ir/diagnostics.js";
import type { DfTensor, StreamKind } from "../../ir/dataflow/dataflow.js";
import type { LowerContext } from "./tiles.js";
import { tileKernel } from "./tiles.js";
import type { LowerContext as Ctx } from "./tiles.js";
import { recordOf } from "../../ir/name-record.js";

const budget = (ctx: Ctx) => (ctx.options.kernelBufferBudget !== undefined ? { budget: ctx.options.kernelBufferBudget } : {});

export interface AttentionShape {
  readonly batch: number;
  readonly heads: number;
  readonly kvHeads: number;
  readonly queryLength: number;
  readonly kvLength: number;
  readonly headDim: number;
  /** Head size of the values (multi-head latent attention's differs from the keys'). */
  readonly valueDim: number;
}

/** Read the attention geometry from q [b, h, Sq, d], k [b, kvh, Sk, d] and v [b, kvh, Sk, dv]. */
export function attentionShape(q: DfTensor, k: DfTensor, v: DfTensor, kvLength: number): AttentionShape {
  if (q.shape.length !== 4 || k.shape.length !== 4 || v.shape.length !== 4) {
    fail(`Attention expects 4-D q, k and v, got [${q.shape.join(", ")}], [${k.shape.join(", ")}] and [${v.shape.join(", ")}]`);
  }
  const [batch, heads, queryLength, headDim] = q.shape as [number, number, number, number];
  return { batch, heads, kvHeads: k.shape[1]!, queryLength, kvLength, headDim, valueDim: v.shape[3]! };
}

export function attentionFlops(s: AttentionShape): { matmul: number; pointwise: number } {
  const scores = s.batch * s.heads * s.queryLength * s.kvLength;
  return { matmul: 2 * scores * (s.headDim + s.valueDim), pointwise: 7 * scores };
}

/** The caches of a causal attention layer: keys and values of every token so far, each [batch, kv_heads, tokens, head_dim]. */
export function kvCacheTensors(node: Node, k: DfTensor, v: DfTensor, s: AttentionShape): [DfTensor, DfTensor] {
  const cache = (name: string, of: DfTensor): DfTensor => {
    const headDim = of.shape[3]!;
    const elem = dtypeBytes(of.dtype);
    return { name: `${node.name}/${name}`, dtype: of.dtype, shape: [s.batch, s.kvHeads, s.kvLength, headDim], bytes: s.batch * s.kvHeads * s.kvLength * headDim * elem, role: "kv-cache" };
  };
  return [cache("k_cache", k), cache("v_cache", v)];
}

const isCausal = (node: Node) => node.attrs.causal?.type === "int" && node.attrs.causal.value === 1;

export function lowerAttention(node: Node, ctx: LowerContext, unfused = false): void {
  const [qName, kName, vName, maskName] = node.inputs;
  if (!qName || !kName || !vName) fail("Attention needs q, k and v");
  const q = ctx.tensor(qName), k = ctx.tensor(kName), v = ctx.tensor(vName);
  const out = ctx.tensor(node.outputs[0]!);
  const graphCache = k.role === "kv-cache";
  // `decode`: a step over this attention's own cache; over the graph's cache a step is the graph as it is.
  const decode = ctx.options.phase === "decode" && !graphCache;
  const causal = isCausal(node) && !graphCache;
  if (decode && !isCausal(node)) {
    fail("--phase decode: this attention is not causal (its mask does not hide later keys from each query), so a decode step has no earlier tokens' keys to reuse: compile it for prefill");
  }
  // Prefill attends to the keys it is given; a decode step to the cache and its own token.
  const s = attentionShape(q, k, v, decode ? ctx.options.bindings.kvLength : k.shape[2]!);
  // Only a causal layer keeps its keys and values for the tokens after it (a decoder's KV cache).
  const caches = causal ? kvCacheTensors(node, k, v, s) : [];
  for (const c of caches) ctx.addTensor(c);
  const [kCache, vCache] = caches;
  // Bytes of the cached tokens a decode step reads (all but the new token's row, which it appends).
  const cachedBytes = (c: DfTensor | undefined) => (c && decode ? c.bytes - c.bytes / s.kvLength * s.queryLength : 0);
  const flops = attentionFlops(s);
  const mask = maskName ? ctx.tensor(maskName) : undefined;
  const base = { nodes: [node.name], dtype: q.dtype };
  if (!unfused) {
    const reads = new Map([[q.name, q.bytes], [k.name, k.bytes], [v.name, v.bytes]]);
    for (const c of caches) reads.set(c.name, cachedBytes(c));
    if (mask && !decode) reads.set(mask.name, mask.bytes);
    const inputs = [q, k, v, ...caches, ...(mask && !decode ? [mask] : [])];
    // Each (batch, head)'s keys and values stay on chip while its query rows stream; a decode step's are the cache's.
    const attended = (t: DfTensor, dim: number): DfTensor => (decode ? { ...t, shape: [s.batch, s.kvHeads, s.kvLength, dim] } : t);
    ctx.kernels.push({
      ...base, name: ctx.nextKernelName(), kind: "attention", ops: ["tierflow.Attention"],
      inputs: inputs.map((t) => t.name), outputs: [out.name, ...caches.map((c) => c.name)], flops: flops.matmul + flops.pointwise, reads: recordOf(reads),
      ...tileKernel("attention", [q, attended(k, s.headDim), attended(v, s.valueDim), mask && !decode ? mask : undefined], [out], budget(ctx)),
    });
    return;
  }
  const scoreShape = [s.batch, s.heads, s.queryLength, s.kvLength];
  const elem = dtypeBytes(q.dtype);
  const scoreBytes = scoreShape.reduce((p, d) => p * d, 1) * elem;
  const tmp = (suffix: string): DfTensor => {
    const t: DfTensor = { name: `${node.name}/${suffix}`, dtype: q.dtype, shape: scoreShape, bytes: scoreBytes, role: "activation" };
    ctx.addTensor(t);
    return t;
  };
  const scores = tmp("scores"), scaled = tmp("scaled"), masked = tmp("masked"), probs = tmp("probs");
  const stage = (kind: string, streaming: StreamKind, op: string, inputs: DfTensor[], output: DfTensor, f: number, cache?: DfTensor) => {
    const reads = new Map<string, number>();
    for (const t of inputs) reads.set(t.name, (reads.get(t.name) ?? 0) + t.bytes);
    if (cache) reads.set(cache.name, cachedBytes(cache));
    ctx.kernels.push({
      ...base, name: ctx.nextKernelName(), kind, ops: [op], inputs: [...inputs.map((t) => t.name), ...(cache ? [cache.name] : [])],
      outputs: [output.name, ...(cache ? [cache.name] : [])], flops: f, reads: recordOf(reads),
      ...tileKernel(streaming, inputs, [output], budget(ctx)),
    });
  };
  const scoresCount = s.batch * s.heads * s.queryLength * s.kvLength;
  // Keys and values are the right operands, streamed in [head_dim x columns] and [kv x columns] blocks.
  // The scores stage reads the cached keys and appends the new ones; the context stage does so for values.
  stage("matmul", "matmul", "MatMul", [q, k], scores, 2 * scoresCount * s.headDim, kCache);
  stage("elementwise", "columns", "Mul", [scores], scaled, scoresCount);
  stage("elementwise", "columns", "Add", mask && !decode ? [scaled, mask] : [scaled], masked, scoresCount);
  stage("softmax", "rows", "Softmax", [masked], probs, 5 * scoresCount);
  stage("matmul", "matmul", "MatMul", [probs, v], out, 2 * scoresCount * s.valueDim, vCache);
}
