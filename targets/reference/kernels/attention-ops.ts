// Direct reference kernels of the attention-family ops deployed language models
// carry (ir/graph/ops/attention-ops.ts): ONNX's Attention and RotaryEmbedding
// (opset 23) and onnxruntime's RotaryEmbedding, MultiHeadAttention and
// GroupQueryAttention (domain com.microsoft). Each computes what onnxruntime
// 1.30's CPU kernel computes, masks and KV cache layout included; the tests
// hold them to it (test/kernels/attention-ops.test.ts). Type inference has
// refused the attribute values and input forms they do not cover; what depends
// on runtime values (sequence lengths, positions) is checked here.

import type { KernelContext } from "../op-kernels/op-kernel.js";
import { lowestOf } from "../../../ir/dtype.js";
import type { DType } from "../../../ir/dtype.js";
import { fail } from "../../../ir/diagnostics.js";
import type { Tensor } from "../../../ir/tensor.js";
import { makeTensor, valuesAsNumbers } from "../../../ir/tensor.js";
import { floatAttr, intAttr } from "../../../ir/graph/ops/util.js";
import { roundToDType } from "./common.js";
import type { Heads } from "./sdpa.js";
import { concatSeq, denseStrides, headsOf, mergeHeads, scaledDotProductAttention, scoreBias, splitHeads } from "./sdpa.js";
import type { RotaryLayout, RotaryTables } from "./rotary-embedding.js";
import { rotaryEmbedding } from "./rotary-embedding.js";

type Inputs = readonly (Tensor | undefined)[];

const tensorOf = (dtype: DType, dims: readonly number[], data: Float32Array) => roundToDType(makeTensor(dtype, dims, data));
const heads4 = (dtype: DType, x: Heads) => tensorOf(dtype, [x.batch, x.heads, x.seq, x.size], x.data);
const merged = (dtype: DType, x: Heads) => tensorOf(dtype, [x.batch, x.seq, x.heads * x.size], mergeHeads(x));

/** The default score scale 1/sqrt(head size), as onnxruntime computes it (in double, then float32). */
const defaultScale = (headSize: number) => Math.fround(1 / Math.sqrt(headSize));

function refuseQkOutput(ctx: KernelContext, op: string, name: string): void {
  if (ctx.outputCount > 3) fail(`${op}'s output 3 (${name}) is not computed`);
}

/**
 * ONNX Attention (opset 23/24). Masked scores take the dtype's lowest value: a bool mask's false
 * entries and, with is_causal, keys after the query's position (past_sequence_length + its index),
 * which overwrite a float mask there. As onnxruntime, a single query after a past sees every key
 * (the causal mask is skipped), and a row whose every key is so masked is zero.
 */
export function onnxAttention(inputs: Inputs, ctx: KernelContext): Tensor[] {
  const [q, k, v, mask, pastK, pastV] = inputs;
  if (!q || !k || !v) fail("Attention needs Q, K and V");
  if (inputs[6]) fail("Attention's input nonpad_kv_seqlen is not supported");
  refuseQkOutput(ctx, "Attention", "qk_matmul_output");
  const threeD = q.dims.length === 3;
  const q4 = threeD ? splitHeads(q, intAttr(ctx.attrs, "q_num_heads", 0)) : headsOf(q);
  const kNew = threeD ? splitHeads(k, intAttr(ctx.attrs, "kv_num_heads", 0)) : headsOf(k);
  const vNew = threeD ? splitHeads(v, intAttr(ctx.attrs, "kv_num_heads", 0)) : headsOf(v);
  const presentK = concatSeq(pastK && headsOf(pastK), kNew), presentV = concatSeq(pastV && headsOf(pastV), vNew);
  const past = pastK?.dims[2] ?? 0, queries = q4.seq, keys = presentK.seq, lowest = lowestOf(q.dtype);
  const dims = [q4.batch, q4.heads, queries, keys] as const;
  const causal = intAttr(ctx.attrs, "is_causal", 0) === 1 && !(queries === 1 && past > 0);
  let bias: Float32Array | undefined;
  if (mask || causal) {
    bias = scoreBias(dims, mask, lowest);
    if (causal) {
      for (let bh = 0; bh < dims[0] * dims[1]; bh++) {
        for (let s = 0; s < queries; s++) bias.fill(lowest, (bh * queries + s) * keys + past + s + 1, (bh * queries + s + 1) * keys);
      }
    }
  }
  const y = scaledDotProductAttention({
    q: q4, k: presentK, v: presentV, scale: floatAttr(ctx.attrs, "scale", defaultScale(q4.size)),
    softcap: floatAttr(ctx.attrs, "softcap", 0), zeroRowsAtOrBelow: lowest,
    ...(bias ? { bias: { data: bias, strides: denseStrides(dims) } } : {}),
  });
  const outs = [threeD ? merged(q.dtype, y) : heads4(q.dtype, y), heads4(k.dtype, presentK), heads4(v.dtype, presentV)];
  return outs.slice(0, Math.max(1, ctx.outputCount));
}

/** Table rows of [batch, seq] position ids (int64), checked against the table. */
function positionRows(ids: Tensor, seq: number): (b: number, s: number) => number {
  const values = valuesAsNumbers(ids);
  if (values.length === 1) return (_b, s) => values[0]! + s;
  return (b, s) => values[b * seq + s]!;
}

/** ONNX RotaryEmbedding (opset 23): X [batch, heads, seq, head] or [batch, seq, heads * head] with num_heads. */
export function onnxRotaryEmbedding(inputs: Inputs, ctx: KernelContext): Tensor[] {
  const [x, cos, sin, ids] = inputs;
  if (!x || !cos || !sin) fail("RotaryEmbedding needs X, cos_cache and sin_cache");
  const fourD = x.dims.length === 4;
  const heads = fourD ? x.dims[1]! : intAttr(ctx.attrs, "num_heads", 0);
  const seq = fourD ? x.dims[2]! : x.dims[1]!, size = fourD ? x.dims[3]! : x.dims[2]! / heads;
  const layout: RotaryLayout = { batch: x.dims[0]!, heads, seq, size, headsFirst: fourD };
  const rotaryDim = intAttr(ctx.attrs, "rotary_embedding_dim", 0) || size;
  const tables: RotaryTables = ids
    ? { cos: cos.data as Float32Array, sin: sin.data as Float32Array, rows: cos.dims[0]!, row: positionRows(ids, seq) }
    : { cos: cos.data as Float32Array, sin: sin.data as Float32Array, rows: cos.dims[0]! * cos.dims[1]!, row: (b, s) => b * seq + s };
  const out = rotaryEmbedding(x.data as Float32Array, layout, rotaryDim, intAttr(ctx.attrs, "interleaved", 0) === 1, tables);
  return [tensorOf(x.dtype, x.dims, out)];
}

/**
 * onnxruntime's RotaryEmbedding (com.microsoft): input [batch, seq, hidden] or [batch, heads, seq,
 * head], position_ids [batch, seq] or one start position, cos/sin [max_position, rotary_dim / 2].
 * Without rotary_embedding_dim the head size is twice the cache's width.
 */
export function contribRotaryEmbedding(inputs: Inputs, ctx: KernelContext): Tensor[] {
  const [x, ids, cos, sin] = inputs;
  if (!x || !ids || !cos || !sin) fail("RotaryEmbedding needs input, position_ids, cos_cache and sin_cache");
  const fourD = x.dims.length === 4, half = cos.dims[1]!;
  const rotaryAttr = intAttr(ctx.attrs, "rotary_embedding_dim", 0), numHeads = intAttr(ctx.attrs, "num_heads", 0);
  const seq = fourD ? x.dims[2]! : x.dims[1]!;
  const size = fourD ? x.dims[3]! : rotaryAttr > 0 ? x.dims[2]! / numHeads : 2 * half;
  const heads = fourD ? x.dims[1]! : x.dims[2]! / size;
  const layout: RotaryLayout = { batch: x.dims[0]!, heads, seq, size, headsFirst: fourD };
  const tables: RotaryTables = { cos: cos.data as Float32Array, sin: sin.data as Float32Array, rows: cos.dims[0]!, row: positionRows(ids, seq) };
  const out = rotaryEmbedding(x.data as Float32Array, layout, rotaryAttr || size, intAttr(ctx.attrs, "interleaved", 0) === 1, tables);
  return [tensorOf(x.dtype, x.dims, out)];
}

/** One of the layouts of onnxruntime's key_padding_mask, as an additive [batch, 1, queries, keys] bias. */
function keyPaddingBias(mask: Tensor, batch: number, queries: number, keys: number, filter: number): Float32Array {
  const m = valuesAsNumbers(mask), out = new Float32Array(batch * queries * keys), dims = mask.dims;
  const want = [[batch], [batch, keys], [batch, queries, keys]][dims.length - 1];
  if (!want || want.some((d, i) => dims[i] !== d)) fail(`key_padding_mask of shape [${dims.join(", ")}] is not supported: [batch] lengths, [batch, ${keys}] or [batch, ${queries}, ${keys}] are`);
  for (let b = 0; b < batch; b++) {
    for (let s = 0; s < queries; s++) {
      for (let t = 0; t < keys; t++) {
        const keep = dims.length === 1 ? t < m[b]! : dims.length === 2 ? m[b * keys + t] !== 0 : m[(b * queries + s) * keys + t] !== 0;
        if (!keep) out[(b * queries + s) * keys + t] = filter;
      }
    }
  }
  return out;
}

/**
 * onnxruntime's MultiHeadAttention: query [batch, seq, hidden], key and value [batch, kv_seq,
 * hidden] (plus the bias's slices) or already [batch, heads, kv_seq, head]; past and present
 * [batch, heads, len, head]. key_padding_mask's zeros (or the keys after a length) add
 * mask_filter_value to their scores; with unidirectional and more than one query, the keys after
 * each query's position (past length + its index) are set to the dtype's lowest value instead;
 * attention_bias is added on top.
 */
export function multiHeadAttention(inputs: Inputs, ctx: KernelContext): Tensor[] {
  const [query, key, value, bias, padding, attnBias, pastK, pastV] = inputs;
  if (!query || !key || !value) fail("MultiHeadAttention needs query, key and value");
  if (inputs[8] || inputs[9]) fail("MultiHeadAttention's inputs past_sequence_length and cache_indirection are not supported");
  refuseQkOutput(ctx, "MultiHeadAttention", "qk");
  if (pastK && ctx.outputCount < 3) fail("MultiHeadAttention with past_key and past_value needs the present_key and present_value outputs");
  const heads = intAttr(ctx.attrs, "num_heads", 0), hidden = query.dims[2]!;
  const b = bias?.data as Float32Array | undefined;
  const q4 = splitHeads(query, heads, b?.subarray(0, hidden));
  const kvHeadsFirst = key.dims.length === 4;
  const kNew = kvHeadsFirst ? headsOf(key) : splitHeads(key, heads, b?.subarray(hidden, 2 * hidden));
  const vNew = kvHeadsFirst ? headsOf(value) : splitHeads(value, heads, b?.subarray(2 * hidden));
  const presentK = concatSeq(pastK && headsOf(pastK), kNew), presentV = concatSeq(pastV && headsOf(pastV), vNew);
  const batch = q4.batch, queries = q4.seq, keys = presentK.seq, past = pastK?.dims[2] ?? 0;
  const filter = floatAttr(ctx.attrs, "mask_filter_value", -10000), lowest = lowestOf(query.dtype);
  const causal = intAttr(ctx.attrs, "unidirectional", 0) === 1 && queries > 1;
  let added: Float32Array | undefined;
  if (padding || causal) {
    added = padding ? keyPaddingBias(padding, batch, queries, keys, filter) : new Float32Array(batch * queries * keys);
    if (causal) {
      for (let i = 0; i < batch * queries; i++) added.fill(lowest, i * keys + past + (i % queries) + 1, (i + 1) * keys);
    }
  }
  const dims = [batch, heads, queries, keys] as const;
  let scoreBiasData: Float32Array | undefined, strides = denseStrides(dims);
  if (attnBias) {
    scoreBiasData = scoreBias(dims, attnBias, 0);
    if (added) {
      // attention_bias + mask, the mask's [batch, queries, keys] repeated over the heads.
      const plane = queries * keys;
      for (let i = 0; i < scoreBiasData.length; i++) scoreBiasData[i] = Math.fround(scoreBiasData[i]! + added[Math.floor(i / (heads * plane)) * plane + (i % plane)]!);
    }
  } else if (added) {
    scoreBiasData = added;
    strides = [queries * keys, 0, keys, 1];
  }
  const scale = floatAttr(ctx.attrs, "scale", 0) || defaultScale(q4.size);
  const y = scaledDotProductAttention({
    q: q4, k: presentK, v: presentV, scale, softcap: 0, ...(scoreBiasData ? { bias: { data: scoreBiasData, strides } } : {}),
  });
  return [merged(query.dtype, y), heads4(key.dtype, presentK), heads4(value.dtype, presentV)].slice(0, Math.max(1, ctx.outputCount));
}

/** Channels [from, to) of a [batch, seq, hidden] tensor (packed QKV). */
function channels(t: Tensor, from: number, to: number): Tensor {
  const [batch, seq, hidden] = t.dims as [number, number, number], width = to - from;
  const src = t.data as Float32Array, data = new Float32Array(batch * seq * width);
  for (let r = 0; r < batch * seq; r++) data.set(src.subarray(r * hidden + from, r * hidden + to), r * width);
  return makeTensor(t.dtype, [batch, seq, width], data);
}

const GQA_EXTRA_INPUTS = ["position_ids", "attention_bias", "head_sink", "k_scale", "v_scale", "q_norm_weight", "k_norm_weight"];

/**
 * onnxruntime's GroupQueryAttention, as its CPU kernel computes it. Batch entry b holds
 * seqlens_k[b] + 1 tokens after this step; its new keys and values go to positions
 * past_b = seqlens_k[b] + 1 - seq of the present buffer (0 on the first prompt, when seq equals
 * total_sequence_length), after the first past_b entries of the past buffer; the present buffer
 * is max(total_sequence_length, past length) long and zero elsewhere. Query s sees keys from
 * past_b + s + 1 - local_window_size (with a window) to past_b + s, and none past the entry's
 * tokens (a padded prompt's padding rows see the whole entry; a row left with no key is zero).
 * With do_rotary, q and k rotate at positions past_b + s.
 */
export function groupQueryAttention(inputs: Inputs, ctx: KernelContext): Tensor[] {
  const [query, key, value, pastK, pastV, seqlensK, totalLength, cos, sin] = inputs;
  if (!query || !seqlensK || !totalLength) fail("GroupQueryAttention needs query, seqlens_k and total_sequence_length");
  inputs.slice(9).forEach((t, i) => t && fail(`GroupQueryAttention's input ${i + 9} (${GQA_EXTRA_INPUTS[i] ?? "?"}) is not supported`));
  refuseQkOutput(ctx, "GroupQueryAttention", "output_qk");
  const heads = intAttr(ctx.attrs, "num_heads", 0), kvHeads = intAttr(ctx.attrs, "kv_num_heads", 0);
  const [batch, seq, width] = query.dims as [number, number, number];
  const size = key ? width / heads : width / (heads + 2 * kvHeads);
  const qIn = key ? query : channels(query, 0, heads * size);
  const kIn = key ?? channels(query, heads * size, (heads + kvHeads) * size);
  const vIn = value ?? channels(query, (heads + kvHeads) * size, width);
  let q4 = splitHeads(qIn, heads), k4 = splitHeads(kIn, kvHeads);
  const v4 = splitHeads(vIn, kvHeads);
  const total = Number(totalLength.data[0]), lengths = valuesAsNumbers(seqlensK).map((n) => n + 1);
  if (lengths.length !== batch) fail(`GroupQueryAttention's seqlens_k holds ${lengths.length} lengths for a batch of ${batch}`);
  const firstPrompt = seq === total;
  if (!firstPrompt && seq > 1 && batch !== 1) fail(`GroupQueryAttention with ${seq} new tokens after a past (total_sequence_length ${total}) needs batch size 1, got ${batch}`);
  const pastLength = pastK?.dims[2] ?? 0, presentLength = Math.max(total, pastLength);
  const pastOf = lengths.map((n, b) => {
    const p = firstPrompt ? 0 : n - seq;
    if (p < 0 || p > pastLength || p + seq > presentLength || n > presentLength) {
      fail(`GroupQueryAttention: seqlens_k[${b}] = ${n - 1} does not fit ${seq} new tokens after a past buffer of ${pastLength} (present length ${presentLength})`);
    }
    return p;
  });
  if (intAttr(ctx.attrs, "do_rotary", 0) === 1) {
    if (!cos || !sin) fail("GroupQueryAttention with do_rotary needs cos_cache and sin_cache");
    const tables: RotaryTables = { cos: cos.data as Float32Array, sin: sin.data as Float32Array, rows: cos.dims[0]!, row: (b, s) => pastOf[b]! + s };
    const interleaved = intAttr(ctx.attrs, "rotary_interleaved", 0) === 1, rotaryDim = 2 * cos.dims[1]!;
    q4 = { ...q4, data: rotaryEmbedding(q4.data, { ...q4, headsFirst: true }, rotaryDim, interleaved, tables) };
    k4 = { ...k4, data: rotaryEmbedding(k4.data, { ...k4, headsFirst: true }, rotaryDim, interleaved, tables) };
  }
  const place = (past: Tensor | undefined, added: Heads): Heads => {
    const data = new Float32Array(batch * kvHeads * presentLength * size), src = past?.data as Float32Array | undefined;
    for (let b = 0; b < batch; b++) {
      for (let h = 0; h < kvHeads; h++) {
        const to = (b * kvHeads + h) * presentLength * size;
        if (src) data.set(src.subarray((b * kvHeads + h) * pastLength * size, ((b * kvHeads + h) * pastLength + pastOf[b]!) * size), to);
        data.set(added.data.subarray((b * kvHeads + h) * seq * size, (b * kvHeads + h + 1) * seq * size), to + pastOf[b]! * size);
      }
    }
    return { data, batch, heads: kvHeads, seq: presentLength, size };
  };
  const presentK = place(pastK, k4), presentV = place(pastV, v4);
  const window = intAttr(ctx.attrs, "local_window_size", -1);
  const y = scaledDotProductAttention({
    q: q4, k: presentK, v: presentV, scale: floatAttr(ctx.attrs, "scale", 0) || defaultScale(size), softcap: floatAttr(ctx.attrs, "softcap", 0),
    keyRange: (b, s) => {
      const causalEnd = pastOf[b]! + s + 1;
      return [window > 0 ? Math.max(0, causalEnd - window) : 0, Math.min(causalEnd, lengths[b]!)];
    },
  });
  return [merged(query.dtype, y), heads4(query.dtype, presentK), heads4(query.dtype, presentV)].slice(0, Math.max(1, ctx.outputCount));
}
