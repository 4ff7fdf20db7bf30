// The attention-family ops deployed ONNX language models carry: ONNX's Attention
// (opset 23, and 24 without nonpad_kv_seqlen) and RotaryEmbedding (opset 23),
// and onnxruntime's RotaryEmbedding, MultiHeadAttention and GroupQueryAttention
// (domain com.microsoft, following its contrib-op documentation and its CPU
// kernels). Each op's reference kernel is a direct one (in the reference backend)
// that computes what onnxruntime 1.30 does; its `expand` (attention-expand.ts) is
// what `expand-ops` writes on import: one tierflow.Attention or Rotary with the
// head reshapes, the KV cache concatenation and the mask around it. Attribute
// values and input forms neither computes are refused here, by name, when the
// graph is verified.

import type { Attrs, TensorType } from "../graph.js";
import type { InferContext, InferResult, OpDef } from "../op-def.js";
import type { Dim } from "../../symbolic.js";
import { addDims, divDimsExact, mulDims } from "../../symbolic.js";
import { fail } from "../../diagnostics.js";
import { FLOATS, broadcastShapes, checkDType, defineOp, floatAttr, hasInput, inputType, intAttr, knownDims, numel, stringAttr } from "./util.js";
import type { Shape } from "./util.js";
import { checkDim } from "./decompose.js";
import { CONTRIB_DOMAIN } from "./util.js";
import { expandAttention, expandContribRotary, expandGroupQueryAttention, expandMultiHeadAttention, expandRotaryEmbedding } from "./attention-expand.js";

type Types = readonly (TensorType | undefined)[];

/** The sizes of one attention: heads, query and key lengths (past included) and head sizes. */
export interface AttentionGeometry {
  readonly batch: Dim;
  readonly heads: Dim;
  readonly kvHeads: Dim;
  readonly queries: Dim;
  /** Keys of this step (K's sequence length). */
  readonly newKeys: Dim;
  /** Keys attended: past + new (GroupQueryAttention: the present buffer's length). */
  readonly keys: Dim;
  readonly headSize: Dim;
  readonly valueSize: Dim;
}

/** FLOPs as tierflow.Attention counts them: both matmuls, and six per score (scale, mask, softmax). */
function attentionCost(g: AttentionGeometry | undefined): { flops: Dim } {
  if (!g) return { flops: 0 };
  const scores = mulDims(mulDims(mulDims(g.batch, g.heads), g.queries), g.keys);
  return { flops: addDims(mulDims(2, mulDims(scores, addDims(g.headSize, g.valueSize))), mulDims(6, scores)) };
}

/** a / parts, checked when both are numbers; a symbol that does not divide gets a fresh one. */
function split(a: Dim, parts: Dim, what: string, fresh: (hint: string) => string): Dim {
  if (typeof a === "number" && typeof parts === "number") {
    if (parts <= 0 || a % parts !== 0) fail(`${what} (${a}) is not a multiple of ${parts}`);
    return a / parts;
  }
  return divDimsExact(a, parts) ?? fresh("head_size");
}

function rank(shape: Shape, ranks: readonly number[], what: string, form: string): void {
  if (!ranks.includes(shape.length)) fail(`${what} must be ${form}, got rank ${shape.length}`);
}

function checkHeadsDivide(heads: Dim, kvHeads: Dim, qName: string, kvName: string): void {
  if (typeof heads === "number" && typeof kvHeads === "number" && (kvHeads <= 0 || heads % kvHeads !== 0)) {
    fail(`${qName} (${heads}) must be a multiple of ${kvName} (${kvHeads})`);
  }
}

/** [batch, heads, length, size] of a past or present cache input, checked against the attention. */
function checkCache(shape: Shape | null, what: string, batch: Dim, heads: Dim, size: Dim): Dim | undefined {
  if (!shape) return undefined;
  rank(shape, [4], what, "4-D [batch, kv_heads, past_sequence_length, head_size]");
  checkDim(shape[0]!, batch, `${what}'s batch size`);
  checkDim(shape[1]!, heads, `${what}'s head count`);
  checkDim(shape[3]!, size, `${what}'s head size`);
  return shape[2]!;
}

function sameDType(ctx: InferContext, dtype: string, indices: readonly number[], names: readonly string[]): void {
  indices.forEach((i, k) => {
    const t = hasInput(ctx, i) ? inputType(ctx, i, names[k]) : undefined;
    if (t && t.dtype !== dtype) fail(`${names[k]} has dtype ${t.dtype} but the query has ${dtype}`);
  });
}

const unknownTypes = (ctx: InferContext, dtype: TensorType["dtype"]): InferResult =>
  ({ types: Array.from({ length: ctx.outputCount }, () => ({ dtype, shape: null })) });

const optionalInt = (attrs: Attrs, name: string) => (attrs[name] ? intAttr(attrs, name, 0) : undefined);

// ---------------------------------------------------------------- ONNX Attention

/** Attention's sizes from its inputs' types; undefined where a shape is unknown. */
function onnxGeometry(types: Types, attrs: Attrs, fresh: (hint: string) => string): AttentionGeometry | undefined {
  const [q, k, v] = [types[0]?.shape, types[1]?.shape, types[2]?.shape];
  if (!q || !k || !v) return undefined;
  rank(q, [3, 4], "Q", "3-D [batch, seq, hidden] or 4-D [batch, heads, seq, head_size]");
  if (k.length !== q.length || v.length !== q.length) fail(`K and V must have Q's rank ${q.length}, got ${k.length} and ${v.length}`);
  const qh = optionalInt(attrs, "q_num_heads"), kvh = optionalInt(attrs, "kv_num_heads");
  let g: Omit<AttentionGeometry, "keys">;
  if (q.length === 3) {
    if (qh === undefined || kvh === undefined) fail("Attention with 3-D inputs needs the attributes q_num_heads and kv_num_heads");
    const headSize = split(q[2]!, qh, "Q's hidden size", fresh);
    checkDim(split(k[2]!, kvh, "K's hidden size", fresh), headSize, "K's head size");
    g = { batch: q[0]!, heads: qh, kvHeads: kvh, queries: q[1]!, newKeys: k[1]!, headSize, valueSize: split(v[2]!, kvh, "V's hidden size", fresh) };
    checkDim(v[1]!, k[1]!, "V's sequence length");
  } else {
    if (qh !== undefined) checkDim(q[1]!, qh, "Q's head count (q_num_heads)");
    if (kvh !== undefined) checkDim(k[1]!, kvh, "K's head count (kv_num_heads)");
    g = { batch: q[0]!, heads: q[1]!, kvHeads: k[1]!, queries: q[2]!, newKeys: k[2]!, headSize: q[3]!, valueSize: v[3]! };
    checkDim(k[3]!, q[3]!, "K's head size");
    checkDim(v[1]!, k[1]!, "V's head count");
    checkDim(v[2]!, k[2]!, "V's sequence length");
  }
  checkDim(k[0]!, g.batch, "K's batch size");
  checkDim(v[0]!, g.batch, "V's batch size");
  checkHeadsDivide(g.heads, g.kvHeads, "the query head count", "the key/value head count");
  const past = checkCache(types[4]?.shape ?? null, "past_key", g.batch, g.kvHeads, g.headSize);
  const pastV = checkCache(types[5]?.shape ?? null, "past_value", g.batch, g.kvHeads, g.valueSize);
  if (past !== undefined && pastV !== undefined) checkDim(pastV, past, "past_value's length");
  return { ...g, keys: past === undefined ? g.newKeys : addDims(past, g.newKeys) };
}

const ATTENTION = defineOp({
  op: "Attention",
  doc: `Attention(Q, K, V, attn_mask?, past_key?, past_value?) (ONNX opset 23; 24 without nonpad_kv_seqlen): scaled dot-product
  attention with grouped key/value heads, 3-D [batch, seq, heads * head_size] inputs (with q_num_heads and kv_num_heads) or 4-D
  [batch, heads, seq, head_size]; present_key/value = Concat(past, new) on the sequence axis. Masked scores (a bool mask's false
  entries, with is_causal the keys after past_length + the query's index) take the dtype's lowest value; as onnxruntime, a single
  query after a past sees every key, and a row with every key so masked is zero. softcap caps the scaled scores before the mask.
  Refused: nonpad_kv_seqlen, a mask shorter than the keys, qk_matmul_output (and its modes), softmax_precision other than 1.
  %y, %present_key, %present_value = Attention(%q, %k, %v, none, %past_key, %past_value) {is_causal = 1, kv_num_heads = 2, q_num_heads = 4} : f32[batch, seq, 64], f32[batch, 2, past+seq, 16], f32[batch, 2, past+seq, 16]`,
  inputs: [3, 7], outputs: [1, 4],
  attrs: {
    is_causal: { type: "int", default: 0 }, kv_num_heads: { type: "int" }, q_num_heads: { type: "int" },
    qk_matmul_output_mode: { type: "int", default: 0 }, scale: { type: "float" }, softcap: { type: "float", default: 0 },
    softmax_precision: { type: "int" },
  },
  infer(ctx) {
    if (ctx.opset > 24) fail(`Attention of opset ${ctx.opset} is not supported (opsets 23 and 24 are)`);
    if (hasInput(ctx, 6)) fail("Attention's input nonpad_kv_seqlen (opset 24) is not supported");
    const mode = intAttr(ctx.attrs, "qk_matmul_output_mode", 0);
    if (mode !== 0) fail(`Attention with qk_matmul_output_mode ${mode} is not supported: it chooses what the output qk_matmul_output holds, which tierflow does not compute`);
    const precision = optionalInt(ctx.attrs, "softmax_precision");
    if (precision !== undefined && precision !== 1) fail(`Attention with softmax_precision ${precision} is not supported (tierflow computes softmax in float32, softmax_precision 1)`);
    if (floatAttr(ctx.attrs, "softcap", 0) < 0) fail(`Attention's softcap must be >= 0, got ${floatAttr(ctx.attrs, "softcap", 0)}`);
    if (ctx.attrs.scale && !(floatAttr(ctx.attrs, "scale", 1) > 0)) fail(`Attention's scale must be > 0, got ${floatAttr(ctx.attrs, "scale", 1)}`);
    const causal = intAttr(ctx.attrs, "is_causal", 0);
    if (causal !== 0 && causal !== 1) fail(`Attention's is_causal must be 0 or 1, got ${causal}`);
    const q = inputType(ctx, 0, "Q");
    checkDType(q.dtype, FLOATS, "Q");
    sameDType(ctx, q.dtype, [1, 2, 4, 5], ["K", "V", "past_key", "past_value"]);
    if (hasInput(ctx, 4) !== hasInput(ctx, 5)) fail("Attention's past_key and past_value must be given together");
    const g = onnxGeometry(ctx.inputs.map((i) => i?.type), ctx.attrs, ctx.fresh);
    if (!g) return unknownTypes(ctx, q.dtype);
    if (hasInput(ctx, 3)) {
      const mask = inputType(ctx, 3, "attn_mask");
      if (mask.dtype !== "bool" && mask.dtype !== q.dtype) fail(`attn_mask has dtype ${mask.dtype}: tierflow takes a bool mask or an additive mask of the query's dtype (${q.dtype})`);
      if (mask.shape) {
        if (mask.shape.length > 4) fail(`attn_mask must have rank <= 4, got ${mask.shape.length}`);
        const last = mask.shape[mask.shape.length - 1];
        if (typeof last === "number" && typeof g.keys === "number" && last !== 1 && last < g.keys) {
          fail(`attn_mask's last axis (${last}) is shorter than the total sequence length (${g.keys}): padding it (opset 24) is not supported`);
        }
        broadcastShapes([g.batch, g.heads, g.queries, g.keys], mask.shape);
      }
    }
    const y: Dim[] = q.shape!.length === 3 ? [g.batch, g.queries, mulDims(g.heads, g.valueSize)] : [g.batch, g.heads, g.queries, g.valueSize];
    const all: Dim[][] = [y, [g.batch, g.kvHeads, g.keys, g.headSize], [g.batch, g.kvHeads, g.keys, g.valueSize], [g.batch, g.heads, g.queries, g.keys]];
    return { types: all.slice(0, ctx.outputCount).map((shape) => ({ dtype: q.dtype, shape })) };
  },
  cost: (inputs, _, attrs) => attentionCost(onnxGeometry(inputs, attrs, () => "unk")),
});

// ---------------------------------------------------------------- RotaryEmbedding (both domains)

/** x's heads and head size: 4-D [batch, heads, seq, head], or 3-D [batch, seq, heads * head] with `heads`. */
function rotaryHeads(x: Shape, heads: number | undefined, fresh: (hint: string) => string, op: string): { heads: Dim; size: Dim; seq: Dim } {
  rank(x, [3, 4], `${op}'s input`, "3-D [batch, seq, hidden] or 4-D [batch, heads, seq, head_size]");
  if (x.length === 4) return { heads: x[1]!, size: x[3]!, seq: x[2]! };
  if (!heads) fail(`${op} with a 3-D input needs the attribute num_heads`);
  return { heads, size: split(x[2]!, heads, "the input's hidden size", fresh), seq: x[1]! };
}

function checkRotaryDim(rotaryDim: number, size: Dim, op: string): void {
  if (rotaryDim < 0 || rotaryDim % 2 !== 0) fail(`${op}'s rotary_embedding_dim must be even and >= 0, got ${rotaryDim}`);
  if (typeof size === "number" && (size % 2 !== 0 || rotaryDim > size)) fail(`${op} rotates ${rotaryDim || size} of a head of ${size} channels: it must be even and at most the head size`);
}

const ROTARY_COST = (inputs: Types) => ({ flops: inputs[0]?.shape ? mulDims(4, numel(inputs[0].shape)) : 0 });

const ROTARY_EMBEDDING = defineOp({
  op: "RotaryEmbedding",
  doc: `RotaryEmbedding(X, cos_cache, sin_cache, position_ids?) (ONNX opset 23): rotary position embedding of the first
  rotary_embedding_dim channels of each head (all when 0), in halves or, with interleaved, in adjacent pairs. X is [batch, heads,
  seq, head_size] or [batch, seq, hidden] with num_heads; the caches are [max_position, rotary_dim / 2] read at position_ids
  [batch, seq], or [batch, seq, rotary_dim / 2] without position_ids.
  %q_rot = RotaryEmbedding(%q, %cos, %sin, %position_ids) {num_heads = 4} : f32[batch, seq, 64]`,
  inputs: [3, 4],
  attrs: { interleaved: { type: "int", default: 0 }, num_heads: { type: "int" }, rotary_embedding_dim: { type: "int", default: 0 } },
  infer(ctx) {
    const x = inputType(ctx, 0, "X");
    checkDType(x.dtype, FLOATS, "X");
    sameDType(ctx, x.dtype, [1, 2], ["cos_cache", "sin_cache"]);
    if (hasInput(ctx, 3)) checkDType(inputType(ctx, 3, "position_ids").dtype, ["i64"], "position_ids");
    if (!x.shape) return { types: [x] };
    const { size, seq } = rotaryHeads(x.shape, optionalInt(ctx.attrs, "num_heads"), ctx.fresh, "RotaryEmbedding");
    const rotaryDim = intAttr(ctx.attrs, "rotary_embedding_dim", 0);
    checkRotaryDim(rotaryDim, size, "RotaryEmbedding");
    const half = rotaryDim ? rotaryDim / 2 : typeof size === "number" ? size / 2 : undefined;
    for (const [i, what] of [[1, "cos_cache"], [2, "sin_cache"]] as const) {
      const c = inputType(ctx, i, what).shape;
      if (!c) continue;
      if (hasInput(ctx, 3)) rank(c, [2], what, "2-D [max_position, rotary_dim / 2] with position_ids");
      else {
        rank(c, [3], what, "3-D [batch, seq, rotary_dim / 2] without position_ids");
        checkDim(c[0]!, x.shape[0]!, `${what}'s batch size`);
        checkDim(c[1]!, seq, `${what}'s sequence length`);
      }
      if (half !== undefined) checkDim(c[c.length - 1]!, half, `${what}'s last axis (rotary_dim / 2)`);
    }
    const ids = hasInput(ctx, 3) ? inputType(ctx, 3, "position_ids").shape : null;
    if (ids) {
      rank(ids, [2], "position_ids", "2-D [batch, seq]");
      checkDim(ids[0]!, x.shape[0]!, "position_ids' batch size");
      checkDim(ids[1]!, seq, "position_ids' sequence length");
    }
    return { types: [x] };
  },
  cost: ROTARY_COST,
});

const CONTRIB_ROTARY_EMBEDDING = defineOp({
  op: "RotaryEmbedding", domain: CONTRIB_DOMAIN,
  doc: `RotaryEmbedding(input, position_ids, cos_cache, sin_cache) (onnxruntime): rotary position embedding of the first
  rotary_embedding_dim channels of each head (all when 0, the head size then being twice the caches' width), in halves or, with
  interleaved, in adjacent pairs. input is [batch, seq, hidden] or [batch, heads, seq, head_size]; position_ids [batch, seq], or one
  start position (positions start, start + 1, ...); the caches [max_position, rotary_dim / 2]. Refused: is_packed_batching, a
  scale other than 1 (onnxruntime's CPU kernel ignores it).
  %q_rot = "com.microsoft".RotaryEmbedding(%q, %position_ids, %cos, %sin) : f32[batch, seq, 64]`,
  inputs: [4, 4],
  attrs: {
    interleaved: { type: "int", default: 0 }, num_heads: { type: "int", default: 0 }, rotary_embedding_dim: { type: "int", default: 0 },
    scale: { type: "float", default: 1 }, is_packed_batching: { type: "int", default: 0 },
  },
  infer(ctx) {
    if (intAttr(ctx.attrs, "is_packed_batching", 0) !== 0) fail("RotaryEmbedding with is_packed_batching (ragged batches) is not supported");
    const scale = floatAttr(ctx.attrs, "scale", 1);
    if (scale !== 1) fail(`RotaryEmbedding with scale ${scale} is not supported (onnxruntime's CPU kernel ignores scale, other providers may not)`);
    const rotaryDim = intAttr(ctx.attrs, "rotary_embedding_dim", 0), numHeads = intAttr(ctx.attrs, "num_heads", 0);
    if (rotaryDim > 0 && numHeads <= 0) fail("RotaryEmbedding with rotary_embedding_dim needs num_heads");
    const x = inputType(ctx, 0, "input");
    checkDType(x.dtype, FLOATS, "input");
    sameDType(ctx, x.dtype, [2, 3], ["cos_cache", "sin_cache"]);
    const ids = inputType(ctx, 1, "position_ids");
    checkDType(ids.dtype, ["i64"], "position_ids");
    const cos = inputType(ctx, 2, "cos_cache").shape, sin = inputType(ctx, 3, "sin_cache").shape;
    if (cos) rank(cos, [2], "cos_cache", "2-D [max_position, rotary_dim / 2]");
    if (sin) rank(sin, [2], "sin_cache", "2-D [max_position, rotary_dim / 2]");
    if (cos && sin) checkDim(sin[1]!, cos[1]!, "sin_cache's width");
    if (!x.shape || !cos) return { types: [x] };
    rank(x.shape, [3, 4], "RotaryEmbedding's input", "3-D [batch, seq, hidden] or 4-D [batch, heads, seq, head_size]");
    const half = cos[1]!;
    let size: Dim;
    if (x.shape.length === 4) size = x.shape[3]!;
    else if (rotaryDim > 0) size = split(x.shape[2]!, numHeads, "the input's hidden size", ctx.fresh);
    else {
      size = mulDims(2, half);
      if (numHeads > 0) checkDim(x.shape[2]!, mulDims(numHeads, size), "the input's hidden size (num_heads x twice the caches' width)");
    }
    checkRotaryDim(rotaryDim, size, "RotaryEmbedding");
    checkDim(mulDims(2, half), rotaryDim || size, "twice the caches' width (the rotated channels)");
    if (ids.shape && ids.shape.length === 2) {
      checkDim(ids.shape[0]!, x.shape[0]!, "position_ids' batch size");
      checkDim(ids.shape[1]!, x.shape.length === 4 ? x.shape[2]! : x.shape[1]!, "position_ids' sequence length");
    }
    else if (ids.shape && !(ids.shape.length <= 1 && (ids.shape.length === 0 || ids.shape[0] === 1))) {
      fail(`position_ids must be [batch, seq] or hold one start position, got shape [${ids.shape.join(", ")}]`);
    }
    return { types: [x] };
  },
  cost: ROTARY_COST,
});

// ---------------------------------------------------------------- MultiHeadAttention

function mhaGeometry(types: Types, attrs: Attrs, fresh: (hint: string) => string): AttentionGeometry | undefined {
  const heads = intAttr(attrs, "num_heads", 0);
  const [q, k, v] = [types[0]?.shape, types[1]?.shape, types[2]?.shape];
  if (!q || !k || !v) return undefined;
  rank(q, [3], "query", "3-D [batch, seq, hidden] (packed QKV [batch, seq, heads, 3, head_size] is not supported)");
  rank(k, [3, 4], "key", "3-D [batch, kv_seq, hidden] or 4-D [batch, heads, kv_seq, head_size] (packed KV is not supported)");
  if (v.length !== k.length) fail(`value must have key's rank ${k.length}, got ${v.length}`);
  const headSize = split(q[2]!, heads, "query's hidden size", fresh);
  let newKeys: Dim, valueSize: Dim;
  if (k.length === 3) {
    checkDim(k[2]!, q[2]!, "key's hidden size");
    valueSize = split(v[2]!, heads, "value's hidden size", fresh);
    newKeys = k[1]!;
    checkDim(v[1]!, newKeys, "value's sequence length");
  } else {
    checkDim(k[1]!, heads, "key's head count");
    checkDim(v[1]!, heads, "value's head count");
    checkDim(k[3]!, headSize, "key's head size");
    newKeys = k[2]!;
    checkDim(v[2]!, newKeys, "value's sequence length");
    valueSize = v[3]!;
  }
  checkDim(k[0]!, q[0]!, "key's batch size");
  checkDim(v[0]!, q[0]!, "value's batch size");
  const past = checkCache(types[6]?.shape ?? null, "past_key", q[0]!, heads, headSize);
  checkCache(types[7]?.shape ?? null, "past_value", q[0]!, heads, valueSize);
  return { batch: q[0]!, heads, kvHeads: heads, queries: q[1]!, newKeys, keys: past === undefined ? newKeys : addDims(past, newKeys), headSize, valueSize };
}

const MULTI_HEAD_ATTENTION = defineOp({
  op: "MultiHeadAttention", domain: CONTRIB_DOMAIN,
  doc: `MultiHeadAttention(query, key, value, bias?, key_padding_mask?, attention_bias?, past_key?, past_value?) (onnxruntime):
  attention of num_heads heads over query [batch, seq, hidden] and key/value [batch, kv_seq, hidden] (bias [3 * hidden] added to
  them) or already [batch, heads, kv_seq, head_size]; present = Concat(past, new) on the sequence axis. key_padding_mask (int32
  [batch] lengths, [batch, total] or [batch, seq, total], 0 = padding) adds mask_filter_value; unidirectional hides later keys (with
  more than one query); attention_bias [batch or 1, heads or 1, seq, total] is added. Refused: packed QKV/KV, the 2 * batch and
  3 * batch + 2 mask forms, past_sequence_length, cache_indirection, the qk output, a past without the present outputs.
  %y, %present_key, %present_value = "com.microsoft".MultiHeadAttention(%q, %k, %v, %bias, none, none, %past_key, %past_value) {num_heads = 4, unidirectional = 1} : f32[batch, seq, 64], f32[batch, 4, past+seq, 16], f32[batch, 4, past+seq, 16]`,
  inputs: [1, 10], outputs: [1, 4],
  attrs: {
    num_heads: { type: "int", required: true }, scale: { type: "float", default: 0 }, unidirectional: { type: "int", default: 0 },
    mask_filter_value: { type: "float", default: -10000 },
  },
  infer(ctx) {
    const heads = intAttr(ctx.attrs, "num_heads", 0);
    if (heads <= 0) fail(`MultiHeadAttention's num_heads must be > 0, got ${heads}`);
    if (hasInput(ctx, 8)) fail("MultiHeadAttention's input past_sequence_length (a shared past/present buffer) is not supported");
    if (hasInput(ctx, 9)) fail("MultiHeadAttention's input cache_indirection (beam search) is not supported");
    const q = inputType(ctx, 0, "query");
    checkDType(q.dtype, FLOATS, "query");
    if (!hasInput(ctx, 1) || !hasInput(ctx, 2)) fail("MultiHeadAttention without key and value (packed QKV in query) is not supported");
    sameDType(ctx, q.dtype, [1, 2, 3, 5, 6, 7], ["key", "value", "bias", "attention_bias", "past_key", "past_value"]);
    if (hasInput(ctx, 6) !== hasInput(ctx, 7)) fail("MultiHeadAttention's past_key and past_value must be given together");
    if (hasInput(ctx, 6) && ctx.outputCount < 3) fail("MultiHeadAttention with past_key and past_value needs the present_key and present_value outputs");
    const g = mhaGeometry(ctx.inputs.map((i) => i?.type), ctx.attrs, ctx.fresh);
    if (!g) return unknownTypes(ctx, q.dtype);
    const perHead = inputType(ctx, 1, "key").shape!.length === 4;
    if (perHead && (hasInput(ctx, 3) || hasInput(ctx, 6))) fail("MultiHeadAttention's key and value given per head [batch, heads, kv_seq, head_size] take no bias and no past");
    if (hasInput(ctx, 3)) {
      const bias = inputType(ctx, 3, "bias").shape;
      if (bias) {
        rank(bias, [1], "bias", "1-D [3 * hidden]");
        checkDim(bias[0]!, addDims(mulDims(2, mulDims(heads, g.headSize)), mulDims(heads, g.valueSize)), "bias's length (query + key + value hidden sizes)");
      }
    }
    if (hasInput(ctx, 4)) {
      const mask = inputType(ctx, 4, "key_padding_mask");
      checkDType(mask.dtype, ["i32"], "key_padding_mask");
      const m = mask.shape;
      if (m) {
        if (m.length === 1) {
          if (typeof m[0] === "number" && typeof g.batch === "number" && m[0] !== g.batch) {
            fail(`key_padding_mask of shape [${m[0]}] is not supported: only [batch] lengths (not the 2 * batch or 3 * batch + 2 forms)`);
          }
        } else if (m.length === 2 || m.length === 3) {
          checkDim(m[0]!, g.batch, "key_padding_mask's batch size");
          checkDim(m[m.length - 1]!, g.keys, "key_padding_mask's last axis (the total sequence length)");
          if (m.length === 3) checkDim(m[1]!, g.queries, "key_padding_mask's query axis");
        } else fail(`key_padding_mask of rank ${m.length} is not supported (ranks 1, 2 and 3 are)`);
      }
    }
    if (hasInput(ctx, 5)) {
      const b = inputType(ctx, 5, "attention_bias").shape;
      if (b) {
        rank(b, [4], "attention_bias", "4-D [batch or 1, heads or 1, seq, total_seq]");
        broadcastShapes([g.batch, g.heads, g.queries, g.keys], b);
      }
    }
    const all: Dim[][] = [[g.batch, g.queries, mulDims(g.heads, g.valueSize)], [g.batch, g.heads, g.keys, g.headSize], [g.batch, g.heads, g.keys, g.valueSize], [g.batch, g.heads, g.queries, g.keys]];
    return { types: all.slice(0, ctx.outputCount).map((shape) => ({ dtype: q.dtype, shape })) };
  },
  cost: (inputs, _, attrs) => attentionCost(mhaGeometry(inputs, attrs, () => "unk")),
});

// ---------------------------------------------------------------- GroupQueryAttention

const GQA_INPUT_NAMES = ["query", "key", "value", "past_key", "past_value", "seqlens_k", "total_sequence_length", "cos_cache", "sin_cache",
  "position_ids", "attention_bias", "head_sink", "k_scale", "v_scale", "q_norm_weight", "k_norm_weight"];

/** The present buffer's length: max(total_sequence_length, past length), when both are known or one decides. */
function presentLength(total: Dim | undefined, past: Dim | undefined, fresh: (hint: string) => string): Dim {
  if (past === undefined || past === 0) return total ?? fresh("present_sequence_length");
  if (total === undefined) return fresh("present_sequence_length");
  if (typeof total === "number" && typeof past === "number") return Math.max(total, past);
  return total === past ? total : fresh("present_sequence_length");
}

function gqaGeometry(ctx: Pick<InferContext, "attrs" | "fresh"> & { types: Types; total?: Dim | undefined }): AttentionGeometry | undefined {
  const heads = intAttr(ctx.attrs, "num_heads", 0), kvHeads = intAttr(ctx.attrs, "kv_num_heads", 0);
  const q = ctx.types[0]?.shape;
  if (!q) return undefined;
  rank(q, [3], "query", "3-D [batch, seq, hidden] or packed QKV [batch, seq, (num_heads + 2 * kv_num_heads) * head_size]");
  const packed = !ctx.types[1];
  const headSize = split(q[2]!, packed ? heads + 2 * kvHeads : heads, packed ? "the packed query's hidden size" : "query's hidden size", ctx.fresh);
  for (const [i, what] of [[1, "key"], [2, "value"]] as const) {
    const s = ctx.types[i]?.shape;
    if (!s) continue;
    rank(s, [3], what, "3-D [batch, seq, kv_num_heads * head_size]");
    checkDim(s[0]!, q[0]!, `${what}'s batch size`);
    checkDim(s[1]!, q[1]!, `${what}'s sequence length (the query's)`);
    checkDim(s[2]!, mulDims(kvHeads, headSize), `${what}'s hidden size (kv_num_heads x head size)`);
  }
  const past = checkCache(ctx.types[3]?.shape ?? null, "past_key", q[0]!, kvHeads, headSize);
  const pastV = checkCache(ctx.types[4]?.shape ?? null, "past_value", q[0]!, kvHeads, headSize);
  if (past !== undefined && pastV !== undefined) checkDim(pastV, past, "past_value's length");
  const keys = presentLength(ctx.total, past, ctx.fresh);
  return { batch: q[0]!, heads, kvHeads, queries: q[1]!, newKeys: q[1]!, keys, headSize, valueSize: headSize };
}

const GROUP_QUERY_ATTENTION = defineOp({
  op: "GroupQueryAttention", domain: CONTRIB_DOMAIN,
  doc: `GroupQueryAttention(query, key?, value?, past_key?, past_value?, seqlens_k, total_sequence_length, cos_cache?, sin_cache?)
  (onnxruntime): causal attention with num_heads query and kv_num_heads key/value heads over query [batch, seq, hidden] (or packed
  QKV), past/present [batch, kv_heads, length, head_size]. Batch entry b holds seqlens_k[b] + 1 tokens after this step; its new
  keys go to position seqlens_k[b] + 1 - seq of a present buffer max(total_sequence_length, past length) long (0 on the first
  prompt), the past's first entries before them. local_window_size bounds the keys a query sees; softcap caps the scaled
  scores; do_rotary rotates q and k at their positions. Refused: inputs after sin_cache, smooth_softmax, qk_output, causal = 0,
  quantized caches, sliding_window_cache. expand-ops writes Concat(past, new) for the present, which is exact when the past buffer
  holds exactly the valid tokens (seqlens_k + 1 = total_sequence_length = past length + seq), checked in the graph.
  %y, %present_key, %present_value = "com.microsoft".GroupQueryAttention(%q, %k, %v, %past_key, %past_value, %seqlens_k, %total) {kv_num_heads = 2, num_heads = 4} : f32[batch, seq, 64], f32[batch, 2, total, 16], f32[batch, 2, total, 16]`,
  inputs: [7, 16], outputs: [1, 4],
  attrs: {
    num_heads: { type: "int", required: true }, kv_num_heads: { type: "int", required: true }, scale: { type: "float", default: 0 },
    softcap: { type: "float", default: 0 }, local_window_size: { type: "int", default: -1 }, do_rotary: { type: "int", default: 0 },
    rotary_interleaved: { type: "int", default: 0 }, smooth_softmax: { type: "int", default: 0 }, qk_output: { type: "int", default: 0 },
    causal: { type: "int", default: 1 }, k_quant_type: { type: "string", default: "NONE" }, v_quant_type: { type: "string", default: "NONE" },
    kv_cache_bit_width: { type: "int" }, sliding_window_cache: { type: "int", default: 0 }, qk_norm_epsilon: { type: "float" },
  },
  infer(ctx) {
    const heads = intAttr(ctx.attrs, "num_heads", 0), kvHeads = intAttr(ctx.attrs, "kv_num_heads", 0);
    if (heads <= 0 || kvHeads <= 0) fail(`GroupQueryAttention's num_heads and kv_num_heads must be > 0, got ${heads} and ${kvHeads}`);
    checkHeadsDivide(heads, kvHeads, "num_heads", "kv_num_heads");
    for (let i = 9; i < ctx.inputs.length; i++) if (hasInput(ctx, i)) fail(`GroupQueryAttention's input ${i} (${GQA_INPUT_NAMES[i] ?? "?"}) is not supported`);
    for (const [name, what] of [["smooth_softmax", "smooth softmax"], ["qk_output", "the output_qk output"], ["sliding_window_cache", "window-sized KV buffers"]] as const) {
      const value = intAttr(ctx.attrs, name, 0);
      if (value !== 0) fail(`GroupQueryAttention with ${name} ${value} (${what}) is not supported`);
    }
    if (intAttr(ctx.attrs, "causal", 1) !== 1) fail(`GroupQueryAttention with causal ${intAttr(ctx.attrs, "causal", 1)} (bidirectional attention) is not supported`);
    for (const name of ["k_quant_type", "v_quant_type"]) {
      const value = stringAttr(ctx.attrs, name, "NONE");
      if (value !== "NONE") fail(`GroupQueryAttention with ${name} '${value}' (a quantized KV cache) is not supported`);
    }
    const q = inputType(ctx, 0, "query");
    checkDType(q.dtype, FLOATS, "query");
    sameDType(ctx, q.dtype, [1, 2, 3, 4, 7, 8], ["key", "value", "past_key", "past_value", "cos_cache", "sin_cache"]);
    if (hasInput(ctx, 1) !== hasInput(ctx, 2)) fail("GroupQueryAttention's key and value must be given together (or both left out for packed QKV)");
    if (hasInput(ctx, 3) !== hasInput(ctx, 4)) fail("GroupQueryAttention's past_key and past_value must be given together");
    if (hasInput(ctx, 7) !== hasInput(ctx, 8)) fail("GroupQueryAttention's cos_cache and sin_cache must be given together");
    if (intAttr(ctx.attrs, "do_rotary", 0) === 1 && !hasInput(ctx, 7)) fail("GroupQueryAttention with do_rotary needs cos_cache and sin_cache");
    const seqlens = inputType(ctx, 5, "seqlens_k"), total = inputType(ctx, 6, "total_sequence_length");
    checkDType(seqlens.dtype, ["i32"], "seqlens_k");
    checkDType(total.dtype, ["i32"], "total_sequence_length");
    if (total.shape && !(total.shape.length === 0 || (total.shape.length === 1 && total.shape[0] === 1))) fail(`total_sequence_length must hold one value, got shape [${total.shape.join(", ")}]`);
    const g = gqaGeometry({ attrs: ctx.attrs, fresh: ctx.fresh, types: ctx.inputs.map((i) => i?.type), total: knownDims(ctx.inputs[6])?.[0] });
    if (!g) return unknownTypes(ctx, q.dtype);
    if (seqlens.shape) {
      rank(seqlens.shape, [1], "seqlens_k", "1-D [batch]");
      checkDim(seqlens.shape[0]!, g.batch, "seqlens_k's length (the batch size)");
    }
    const cos = hasInput(ctx, 7) ? inputType(ctx, 7, "cos_cache").shape : null;
    if (cos) {
      rank(cos, [2], "cos_cache", "2-D [max_position, rotary_dim / 2]");
      if (typeof cos[1] === "number" && typeof g.headSize === "number" && 2 * cos[1] > g.headSize) fail(`cos_cache rotates ${2 * cos[1]} channels of a head of ${g.headSize}`);
    }
    const all: Dim[][] = [[g.batch, g.queries, mulDims(heads, g.headSize)], [g.batch, kvHeads, g.keys, g.headSize], [g.batch, kvHeads, g.keys, g.headSize], [g.batch, heads, g.queries, g.keys]];
    return { types: all.slice(0, ctx.outputCount).map((shape) => ({ dtype: q.dtype, shape })) };
  },
  cost: (inputs, outputs, attrs) => attentionCost(gqaGeometry({ attrs, fresh: () => "unk", types: inputs, total: outputs[1]?.shape?.[2] })),
});

const withExpansion = (def: OpDef, expand: NonNullable<OpDef["expand"]>): OpDef => ({ ...def, expand });

export const IMPORTED_ATTENTION_OPS: readonly OpDef[] = [
  withExpansion(ATTENTION, expandAttention), withExpansion(ROTARY_EMBEDDING, expandRotaryEmbedding),
  withExpansion(CONTRIB_ROTARY_EMBEDDING, expandContribRotary), withExpansion(MULTI_HEAD_ATTENTION, expandMultiHeadAttention),
  withExpansion(GROUP_QUERY_ATTENTION, expandGroupQueryAttention),
];
