// Expansions of the attention-family ops (attention-ops.ts) into tierflow's own
// ops, written by `expand-ops` on import. Each attention op becomes ONE
// tierflow.Attention (grouped heads as kv_groups, causal = 1 when the op is
// causal, every mask folded into one additive input in the query's dtype,
// masked scores at the dtype's lowest value) with around it: the head
// reshapes, present_key/value = Concat(past, new) on axis 2 (the KV cache
// convention the compiler relies on: that Concat's output IS the present
// output and the Attention reads it), the mask arithmetic, and tierflow.Rotary
// for rotary embeddings. A soft cap, which tierflow.Attention does not have,
// writes the attention as primitives instead (exact, not one node).
//
// What each expansion assumes, beyond what inference already checked:
// - Attention: where a float or bool attn_mask is given, a row whose every
//   key is masked at the lowest value is zeroed by a Where after the
//   Attention (onnxruntime's guard); a single query after a past sees every
//   key (onnxruntime skips the causal mask then), written as an Or in the mask.
// - GroupQueryAttention: the present buffer is the past followed by the new
//   tokens, which is what onnxruntime computes exactly when every batch entry
//   holds past_len + seq tokens: seqlens_k[b] + 1 = total_sequence_length =
//   past_len + seq. Known sizes that break it are refused here; at run time a
//   Gather of seqlens_k at indices shifted out of range when it does not hold
//   stops the graph with that node's name (the check's words), and its result
//   is what the positions and the mask are built from.

import type { Node, TensorType } from "../graph.js";
import type { ExpandContext } from "../op-def.js";
import { DTYPES, lowestOf } from "../../dtype.js";
import { fail } from "../../diagnostics.js";
import { tensorFromValues } from "../../tensor.js";
import { Decomposition, attr } from "./decompose.js";
import { floatAttr, intAttr } from "./util.js";

const END = Number.MAX_SAFE_INTEGER;

function typeOf(ctx: ExpandContext, name: string, what: string, op: string): TensorType & { shape: NonNullable<TensorType["shape"]> } {
  const t = ctx.type(name);
  if (!t?.shape) fail(`${op}: the type of ${what} ('${name}') is not known, so it cannot be expanded`);
  return t as TensorType & { shape: NonNullable<TensorType["shape"]> };
}

function known(value: number | string | undefined, what: string, op: string): number {
  if (typeof value !== "number") fail(`${op}: ${what} must be known to expand it, got ${value ?? "an unknown size"}`);
  return value;
}

function refuseOutput(node: Node, index: number, name: string): void {
  if (node.outputs[index]) fail(`${node.op}'s output ${index} (${name}) is not supported; leave it unused`);
}

/** Builds one expansion: Decomposition's nodes plus the shape and mask idioms the attention ops share. */
class Expansion extends Decomposition {
  constructor(private readonly node: Node) {
    super(node);
  }

  scalar(value: number): string {
    return this.one("Constant", [], { value: { type: "tensor", value: tensorFromValues("i64", [], [value]) } });
  }

  /** Dim `axis` of x as an int64 scalar. */
  dim(x: string, axis: number): string {
    return this.one("Squeeze", [this.one("Shape", [x], { start: attr.int(axis), end: attr.int(axis + 1) }), this.ints([0])]);
  }

  range(from: string, count: string): string {
    return this.one("Range", [from, this.one("Add", [from, count]), this.scalar(1)]);
  }

  /** [batch, seq, heads * size] -> [batch, heads, seq, size]. */
  toHeads(x: string, heads: number): string {
    return this.one("Transpose", [this.one("Reshape", [x, this.ints([0, 0, heads, -1])])], { perm: attr.ints([0, 2, 1, 3]) });
  }

  /** [batch, heads, seq, size] -> [batch, seq, heads * size], written to `out`. */
  fromHeads(y: string, out: string): void {
    const t = this.one("Transpose", [y], { perm: attr.ints([0, 2, 1, 3]) });
    this.op("Reshape", [t, this.ints([0, 0, -1])], {}, [out]);
  }

  /** The present cache: Concat(past, new) on the sequence axis (or the new entries), named as the node's output when it has one. */
  cache(past: string | undefined, added: string, out: string | undefined): string {
    if (past) return this.op("Concat", [past, added], { axis: attr.int(2) }, [out])[0]!;
    return out ? this.op("Identity", [added], {}, [out])[0]! : added;
  }

  /** Keys [0, T) allowed for queries [0, S) when key <= query + offset: bool [S, T]. */
  causal(queries: string, keys: string, offset: string | undefined): string {
    const zero = this.scalar(0);
    let rows = this.range(zero, queries);
    if (offset) rows = this.one("Add", [rows, offset]);
    return this.one("LessOrEqual", [this.range(zero, keys), this.one("Unsqueeze", [rows, this.ints([1])])]);
  }

  /** x with `v` where `allowed` is false and `x` (or 0) where it is true, in the dtype of `like`. */
  masked(allowed: string, x: string | undefined, v: number, like: string): string {
    return this.one("Where", [allowed, x ?? this.scalarLike(0, like), this.scalarLike(v, like)]);
  }

  /**
   * The attention itself: tierflow.Attention named as the imported node, or with a soft cap the
   * primitives (scaled scores, softcap * tanh(scores / softcap), + mask, softmax in f32, times V).
   */
  attention(q: string, k: string, v: string, mask: string | undefined, o: { scale: number; groups: number; causal: boolean; softcap: number }, out?: string): string {
    if (o.softcap > 0) return this.softcapped(q, k, v, mask, o, out);
    const attrs = { scale: attr.float(o.scale), ...(o.groups > 1 ? { kv_groups: attr.int(o.groups) } : {}), ...(o.causal ? { causal: attr.int(1) } : {}) };
    const y = this.tierflow("Attention", mask ? [q, k, v, mask] : [q, k, v], attrs, [out])[0]!;
    this.nodes[this.nodes.length - 1] = { ...this.nodes[this.nodes.length - 1]!, name: this.node.name };
    return y;
  }

  private softcapped(q: string, k: string, v: string, mask: string | undefined, o: { scale: number; groups: number; softcap: number }, out?: string): string {
    const repeat = (x: string) => {
      if (o.groups === 1) return x;
      const wide = this.one("Expand", [this.one("Unsqueeze", [x, this.ints([2])]), this.ints([1, 1, o.groups, 1, 1])]);
      const shape = this.one("Concat", [this.one("Shape", [x], { start: attr.int(0), end: attr.int(1) }), this.ints([-1]),
        this.one("Shape", [x], { start: attr.int(2) })], { axis: attr.int(0) });
      return this.one("Reshape", [wide, shape]);
    };
    const keys = this.one("Transpose", [repeat(k)], { perm: attr.ints([0, 1, 3, 2]) });
    const scores = this.one("Mul", [this.one("MatMul", [q, keys]), this.scalarLike(o.scale, q)]);
    const cap = this.scalarLike(o.softcap, q);
    let capped = this.one("Mul", [this.one("Tanh", [this.one("Div", [scores, cap])]), cap]);
    if (mask) capped = this.one("Add", [capped, mask]);
    const probs = this.one("CastLike", [this.one("Softmax", [this.toF32(capped)], { axis: attr.int(-1) }), q]);
    return this.op("MatMul", [probs, repeat(v)], {}, [out])[0]!;
  }

  /** Rows whose every key `mask` holds at the lowest value come out zero (onnxruntime's Attention). */
  zeroMaskedRows(y: string, mask: string, lowest: number, out?: string): string {
    const best = this.one("ReduceMax", [mask, this.ints([-1])], { keepdims: attr.int(1) });
    const ok = this.one("Greater", [best, this.scalarLike(lowest, mask)]);
    return this.op("Where", [ok, y, this.scalarLike(0, y)], {}, [out])[0]!;
  }

  /**
   * x [.., size] with its first `rotaryDim` channels rotated by tierflow.Rotary (cos and sin already
   * [.., rotaryDim], halves repeated), in halves or interleaved pairs; the rest passes through.
   */
  rotate(x: string, cos: string, sin: string, rotaryDim: number, partial: boolean, interleaved: boolean, out?: string): string {
    let r = partial ? this.one("Slice", [x, this.ints([0]), this.ints([rotaryDim]), this.ints([-1])]) : x;
    // Interleaved pairs (2i, 2i + 1) to halves and back: [.., n, 2] <-> [.., 2, n].
    const swap = (y: string, split: number[]) => {
      const t = this.one("Transpose", [this.one("Reshape", [y, this.ints(split)])], { perm: attr.ints([0, 1, 2, 4, 3]) });
      return this.one("Reshape", [t, this.ints([0, 0, 0, -1])]);
    };
    if (interleaved) r = swap(r, [0, 0, 0, -1, 2]);
    r = this.tierflow("Rotary", [r, cos, sin])[0]!;
    if (interleaved) r = swap(r, [0, 0, 0, 2, -1]);
    if (partial) r = this.one("Concat", [r, this.one("Slice", [x, this.ints([rotaryDim]), this.ints([END]), this.ints([-1])])], { axis: attr.int(-1) });
    return this.rename(r, out);
  }

  /** A table [.., rotaryDim / 2] repeated to [.., rotaryDim] (tierflow.Rotary's rotate-half form takes whole rows). */
  halves(table: string): string {
    return this.one("Concat", [table, table], { axis: attr.int(-1) });
  }

  /** `value`, defined by the last node, renamed to `out` when given (the node then writes the op's output). */
  rename(value: string, out: string | undefined): string {
    if (!out) return value;
    const i = this.nodes.length - 1, n = this.nodes[i]!;
    if (!n.outputs.includes(value)) throw new Error(`${this.node.op} expansion: '${value}' is not the last node's output`);
    this.nodes[i] = { ...n, outputs: n.outputs.map((o) => (o === value ? out : o)) };
    return out;
  }
}

const optional = (name: string | undefined) => (name ? name : undefined);

// ---------------------------------------------------------------- ONNX Attention

export function expandAttention(node: Node, ctx: ExpandContext): Node[] {
  refuseOutput(node, 3, "qk_matmul_output");
  const op = "Attention", e = new Expansion(node);
  const [Q, K, V] = node.inputs as [string, string, string];
  const mask = optional(node.inputs[3]), pastK = optional(node.inputs[4]), pastV = optional(node.inputs[5]);
  const q = typeOf(ctx, Q, "Q", op), k = typeOf(ctx, K, "K", op);
  const threeD = q.shape.length === 3;
  const heads = threeD ? intAttr(node.attrs, "q_num_heads", 0) : known(q.shape[1], "Q's head count", op);
  const kvHeads = threeD ? intAttr(node.attrs, "kv_num_heads", 0) : known(k.shape[1], "K's head count", op);
  const scale = node.attrs.scale ? floatAttr(node.attrs, "scale", 1)
    : Math.fround(1 / Math.sqrt(known(threeD ? q.shape[2] : q.shape[3], "the head size (for the default scale)", op) / (threeD ? heads : 1)));
  const q4 = threeD ? e.toHeads(Q, heads) : Q;
  const presentK = e.cache(pastK, threeD ? e.toHeads(K, kvHeads) : K, optional(node.outputs[1]));
  const presentV = e.cache(pastV, threeD ? e.toHeads(V, kvHeads) : V, optional(node.outputs[2]));
  const lowest = lowestOf(q.dtype), causal = intAttr(node.attrs, "is_causal", 0) === 1;
  let m = mask && ctx.type(mask)?.dtype === "bool" ? e.masked(mask, undefined, lowest, Q) : mask;
  // onnxruntime skips the causal mask for a single query after a past (it sees every key).
  const queries = q.shape[threeD ? 1 : 2], past = pastK ? ctx.type(pastK)?.shape?.[2] : 0;
  const skipped = queries === 1 && typeof past === "number" && past > 0;
  if (causal && !skipped) {
    const S = e.dim(q4, 2), P = pastK ? e.dim(pastK, 2) : undefined;
    let allowed = e.causal(S, e.dim(presentK, 2), P);
    if (P && (queries === 1 || typeof queries !== "number") && past !== 0) {
      allowed = e.one("Or", [allowed, e.one("And", [e.one("Equal", [S, e.scalar(1)]), e.one("Greater", [P, e.scalar(0)])])]);
    }
    m = e.masked(allowed, m, lowest, Q);
  }
  const o = { scale, groups: heads / kvHeads, causal, softcap: floatAttr(node.attrs, "softcap", 0) };
  const out = node.outputs[0]!;
  if (mask) {
    const y = e.attention(q4, presentK, presentV, m, o);
    if (threeD) e.fromHeads(e.zeroMaskedRows(y, m!, lowest), out);
    else e.zeroMaskedRows(y, m!, lowest, out);
  } else if (threeD) e.fromHeads(e.attention(q4, presentK, presentV, m, o), out);
  else e.attention(q4, presentK, presentV, m, o, out);
  return e.nodes;
}

// ---------------------------------------------------------------- RotaryEmbedding (both domains)

/**
 * X heads first or [batch, seq, heads, size] (3-D inputs reshaped with `split`), rotated with the
 * per-token tables `cos`/`sin` [.., rotaryDim / 2] whose axes already line up with it, written to out.
 */
function rotaryExpansion(e: Expansion, node: Node, x: string, threeD: boolean, split: number[], tables: [string, string],
  rotaryDim: number, partial: boolean): void {
  const out = node.outputs[0]!, interleaved = intAttr(node.attrs, "interleaved", 0) === 1;
  const x4 = threeD ? e.one("Reshape", [x, e.ints(split)]) : x;
  const [cos, sin] = tables.map((t) => e.halves(t)) as [string, string];
  if (!threeD) {
    e.rotate(x4, cos, sin, rotaryDim, partial, interleaved, out);
    return;
  }
  e.op("Reshape", [e.rotate(x4, cos, sin, rotaryDim, partial, interleaved), e.ints([0, 0, -1])], {}, [out]);
}

export function expandRotaryEmbedding(node: Node, ctx: ExpandContext): Node[] {
  const e = new Expansion(node);
  const [x, cosCache, sinCache] = node.inputs as [string, string, string];
  const ids = optional(node.inputs[3]);
  const xt = typeOf(ctx, x, "X", "RotaryEmbedding"), threeD = xt.shape.length === 3;
  const rotaryDim = intAttr(node.attrs, "rotary_embedding_dim", 0);
  const size = threeD ? (typeof xt.shape[2] === "number" ? xt.shape[2] / intAttr(node.attrs, "num_heads", 1) : undefined) : xt.shape[3];
  // Tables [batch, seq, half] -> lined up with [batch, heads, seq, .] (4-D) or [batch, seq, heads, .] (3-D).
  const tables = [cosCache, sinCache].map((c) => e.one("Unsqueeze", [ids ? e.one("Gather", [c, ids], { axis: attr.int(0) }) : c, e.ints([threeD ? 2 : 1])])) as [string, string];
  rotaryExpansion(e, node, x, threeD, [0, 0, intAttr(node.attrs, "num_heads", 0), -1], tables, rotaryDim, rotaryDim > 0 && rotaryDim !== size);
  return e.nodes;
}

export function expandContribRotary(node: Node, ctx: ExpandContext): Node[] {
  const op = "RotaryEmbedding", e = new Expansion(node);
  const [x, ids, cosCache, sinCache] = node.inputs as [string, string, string, string];
  const xt = typeOf(ctx, x, "input", op), threeD = xt.shape.length === 3;
  const half = known(typeOf(ctx, cosCache, "cos_cache", op).shape[1], "cos_cache's width", op);
  const rotaryDim = intAttr(node.attrs, "rotary_embedding_dim", 0), heads = intAttr(node.attrs, "num_heads", 0);
  const size = threeD ? (rotaryDim > 0 ? (typeof xt.shape[2] === "number" ? xt.shape[2] / heads : undefined) : 2 * half) : xt.shape[3];
  const idShape = typeOf(ctx, ids, "position_ids", op).shape;
  let tables: [string, string];
  if (idShape.length === 2) {
    // [batch, seq, half] -> lined up as for ONNX's RotaryEmbedding.
    tables = [cosCache, sinCache].map((c) => e.one("Unsqueeze", [e.one("Gather", [c, ids], { axis: attr.int(0) }), e.ints([threeD ? 2 : 1])])) as [string, string];
  } else {
    // One start position: positions start .. start + seq - 1, tables [seq, half] (3-D: [seq, 1, half]).
    const start = e.one("Reshape", [ids, e.ints([])]);
    const positions = e.range(start, e.dim(x, threeD ? 1 : 2));
    tables = [cosCache, sinCache].map((c) => {
      const rows = e.one("Gather", [c, positions], { axis: attr.int(0) });
      return threeD ? e.one("Unsqueeze", [rows, e.ints([1])]) : rows;
    }) as [string, string];
  }
  const split = rotaryDim > 0 ? [0, 0, heads, -1] : [0, 0, -1, 2 * half];
  rotaryExpansion(e, node, x, threeD, split, tables, rotaryDim || 2 * half, rotaryDim > 0 && rotaryDim !== size);
  return e.nodes;
}

// ---------------------------------------------------------------- MultiHeadAttention

export function expandMultiHeadAttention(node: Node, ctx: ExpandContext): Node[] {
  refuseOutput(node, 3, "qk");
  const op = "MultiHeadAttention", e = new Expansion(node);
  const [query, key, value] = node.inputs as [string, string, string];
  const bias = optional(node.inputs[3]), padding = optional(node.inputs[4]), attnBias = optional(node.inputs[5]);
  const pastK = optional(node.inputs[6]), pastV = optional(node.inputs[7]);
  if (pastK && (!node.outputs[1] || !node.outputs[2])) fail("MultiHeadAttention with past_key and past_value needs the present_key and present_value outputs");
  const heads = intAttr(node.attrs, "num_heads", 0);
  const q = typeOf(ctx, query, "query", op), perHead = typeOf(ctx, key, "key", op).shape.length === 4;
  let [qIn, kIn, vIn] = [query, key, value];
  if (bias) {
    const hidden = known(q.shape[2], "query's hidden size (to split the bias)", op);
    const part = (from: number, to: number) => e.one("Slice", [bias, e.ints([from]), e.ints([to]), e.ints([0])]);
    [qIn, kIn, vIn] = [e.one("Add", [query, part(0, hidden)]), e.one("Add", [key, part(hidden, 2 * hidden)]), e.one("Add", [value, part(2 * hidden, END)])];
  }
  const q4 = e.toHeads(qIn, heads);
  const presentK = e.cache(pastK, perHead ? kIn : e.toHeads(kIn, heads), optional(node.outputs[1]));
  const presentV = e.cache(pastV, perHead ? vIn : e.toHeads(vIn, heads), optional(node.outputs[2]));
  const scale = floatAttr(node.attrs, "scale", 0) || Math.fround(1 / Math.sqrt(known(q.shape[2], "query's hidden size (for the default scale)", op) / heads));
  const lowest = lowestOf(q.dtype), causal = intAttr(node.attrs, "unidirectional", 0) === 1;
  let m: string | undefined;
  if (padding) {
    const rank = typeOf(ctx, padding, "key_padding_mask", op).shape.length;
    let keep: string;
    if (rank === 1) {
      const lengths = e.one("Unsqueeze", [e.one("Cast", [padding], { to: attr.int(DTYPES.i64.onnx) }), e.ints([1])]);
      keep = e.one("Less", [e.range(e.scalar(0), e.dim(presentK, 2)), lengths]);
    } else {
      const zero = e.one("CastLike", [e.scalar(0), padding]);
      keep = e.one("Not", [e.one("Equal", [padding, zero])]);
    }
    keep = e.one("Unsqueeze", [keep, e.ints(rank === 3 ? [1] : [1, 2])]);
    m = e.masked(keep, undefined, floatAttr(node.attrs, "mask_filter_value", -10000), query);
  }
  // onnxruntime masks causally only with more than one query.
  const queries = q.shape[1];
  if (causal && queries !== 1) {
    const S = e.dim(q4, 2);
    let allowed = e.causal(S, e.dim(presentK, 2), pastK ? e.dim(pastK, 2) : undefined);
    if (typeof queries !== "number") allowed = e.one("Or", [allowed, e.one("Equal", [S, e.scalar(1)])]);
    m = e.masked(allowed, m, lowest, query);
  }
  if (attnBias) m = m ? e.one("Add", [attnBias, m]) : attnBias;
  e.fromHeads(e.attention(q4, presentK, presentV, m, { scale, groups: 1, causal, softcap: 0 }), node.outputs[0]!);
  return e.nodes;
}

// ---------------------------------------------------------------- GroupQueryAttention

export function expandGroupQueryAttention(node: Node, ctx: ExpandContext): Node[] {
  refuseOutput(node, 3, "output_qk");
  const op = "GroupQueryAttention", e = new Expansion(node);
  const [query, key, value, pastK, pastV, seqlens, total, cosCache, sinCache] = node.inputs.map(optional) as (string | undefined)[];
  const heads = intAttr(node.attrs, "num_heads", 0), kvHeads = intAttr(node.attrs, "kv_num_heads", 0);
  const q = typeOf(ctx, query!, "query", op);
  const size = known(q.shape[2], "query's hidden size", op) / (key ? heads : heads + 2 * kvHeads);
  // The present must be the past followed by the new tokens: total_sequence_length = past length + seq.
  const pastLength = pastK ? ctx.type(pastK)?.shape?.[2] : 0, seq = q.shape[1], totalValue = ctx.elements(total!)?.[0];
  if (typeof pastLength === "number" && typeof seq === "number" && typeof totalValue === "number" && totalValue !== pastLength + seq) {
    fail(`GroupQueryAttention with total_sequence_length ${totalValue}, a past buffer of ${pastLength} and ${seq} new tokens keeps a present buffer of ${Math.max(totalValue, pastLength)} with the new tokens inside it; only a past buffer holding exactly the valid tokens (total = past + seq) is expanded`);
  }
  let [qIn, kIn, vIn] = [query!, key, value];
  if (!key) {
    const split = e.ints([heads * size, kvHeads * size, kvHeads * size]);
    [qIn, kIn, vIn] = e.op("Split", [query!, split], { axis: attr.int(-1) }, 3) as [string, string, string];
  }
  let q4 = e.toHeads(qIn, heads), k4 = e.toHeads(kIn!, kvHeads);
  const v4 = e.toHeads(vIn!, kvHeads);
  // The check: seqlens_k + 1 and total_sequence_length equal past length + seq, else a Gather out of range.
  const S = e.dim(q4, 2), pastAndNew = e.one("Add", [pastK ? e.dim(pastK, 2) : e.scalar(0), S]);
  const i64 = (x: string) => e.one("Cast", [x], { to: attr.int(DTYPES.i64.onnx) });
  const lengthsOk = e.one("ReduceMin", [i64(e.one("Equal", [e.one("Add", [i64(seqlens!), e.scalar(1)]), pastAndNew])), e.ints([0])], { keepdims: attr.int(0) });
  const totalOk = i64(e.one("Equal", [i64(e.one("Reshape", [total!, e.ints([])])), pastAndNew]));
  const batch = e.dim(query!, 0);
  const shift = e.one("Mul", [e.one("Sub", [e.scalar(1), e.one("Mul", [lengthsOk, totalOk])]), batch]);
  const checked = e.one("Gather", [seqlens!, e.one("Add", [e.range(e.scalar(0), batch), shift])], { axis: attr.int(0) });
  e.nodes[e.nodes.length - 1] = { ...e.nodes[e.nodes.length - 1]!, name: `${node.name}: check that seqlens_k + 1 = total_sequence_length = past length + sequence length (the past buffer holds exactly the valid tokens)` };
  // Positions past_b + s, past_b = seqlens_k[b] + 1 - seq: [batch, seq].
  const past = e.one("Sub", [e.one("Add", [i64(checked), e.scalar(1)]), S]);
  const positions = e.one("Add", [e.one("Unsqueeze", [past, e.ints([1])]), e.range(e.scalar(0), S)]);
  if (intAttr(node.attrs, "do_rotary", 0) === 1) {
    const half = known(typeOf(ctx, cosCache!, "cos_cache", op).shape[1], "cos_cache's width", op);
    const [cos, sin] = [cosCache!, sinCache!].map((c) => e.halves(e.one("Unsqueeze", [e.one("Gather", [c, positions], { axis: attr.int(0) }), e.ints([1])]))) as [string, string];
    const interleaved = intAttr(node.attrs, "rotary_interleaved", 0) === 1;
    q4 = e.rotate(q4, cos, sin, 2 * half, 2 * half < size, interleaved);
    k4 = e.rotate(k4, cos, sin, 2 * half, 2 * half < size, interleaved);
  }
  const presentK = e.cache(pastK, k4, optional(node.outputs[1])), presentV = e.cache(pastV, v4, optional(node.outputs[2]));
  // Key t is seen by query s of batch entry b when positions[b, s] - window < t <= positions[b, s].
  const keys = e.range(e.scalar(0), e.dim(presentK, 2)), at = e.one("Unsqueeze", [positions, e.ints([2])]);
  let allowed = e.one("LessOrEqual", [keys, at]);
  const window = intAttr(node.attrs, "local_window_size", -1);
  if (window > 0) allowed = e.one("And", [allowed, e.one("Greater", [keys, e.one("Sub", [at, e.scalar(window)])])]);
  const mask = e.one("Unsqueeze", [e.masked(allowed, undefined, lowestOf(q.dtype), query!), e.ints([1])]);
  const scale = floatAttr(node.attrs, "scale", 0) || Math.fround(1 / Math.sqrt(size));
  const y = e.attention(q4, presentK, presentV, mask, { scale, groups: heads / kvHeads, causal: true, softcap: floatAttr(node.attrs, "softcap", 0) });
  e.fromHeads(y, node.outputs[0]!);
  return e.nodes;
}
