// Bind a graph's symbolic dims to numbers for one compile: batch and sequence
// from the options, recognised by name (batch, seq, sequence, ...) or by place
// on the graph inputs (token ids [batch, seq], images [batch, C, H, W]); any
// other symbol must be given with --dim. A graph with its own KV caches (a
// with-past export, tierflow.CacheAppend) holds no tokens before a prefill and
// the context before a decode step; its attention mask covers both.

import type { Graph } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";
import type { Dim } from "../../ir/symbolic.js";
import { dimSymbols, evaluateDim } from "../../ir/symbolic.js";
import type { Phase } from "../../ir/dataflow/dataflow.js";

/** Symbol names that say what they are, as exporters and users write them. */
const NAMED_SYMBOLS: Readonly<Record<string, "batch" | "sequence">> = {
  batch: "batch", batch_size: "batch", N: "batch",
  seq: "sequence", sequence: "sequence", seq_len: "sequence", sequence_length: "sequence",
};

export interface BindOptions {
  readonly phase: Phase;
  readonly batch: number;
  /** Prompt length for prefill; context length (tokens already in the KV cache) for decode. */
  readonly seq: number;
  /** Explicit values, which win over recognition. */
  readonly dims?: ReadonlyMap<string, number>;
}

export interface Bindings {
  readonly values: Map<string, number>;
  /** Symbol naming the token axis, if the graph has one. */
  readonly sequenceSymbol: string | undefined;
  /** Tokens of KV cache each attention reads: seq for prefill, seq (+1 for the new token) for decode. */
  readonly kvLength: number;
  /** Tokens processed per pass: seq for prefill, 1 for decode. */
  readonly queryLength: number;
}

/** Batch and prompt length that `--dim` gives through a recognised name (batch=2, sequence=7). */
export function requestFromDims(dims: ReadonlyMap<string, number> | undefined): { batch?: number; seq?: number } {
  const out: { batch?: number; seq?: number } = {};
  for (const [symbol, role] of Object.entries(NAMED_SYMBOLS)) {
    const v = dims?.get(symbol);
    if (v === undefined) continue;
    if (role === "batch") out.batch ??= v;
    else out.seq ??= v;
  }
  return out;
}

/** Where a graph input fixes the batch or the token axis: the input, the axis and its static size. */
interface StaticAxis {
  readonly input: string;
  readonly axis: number;
  readonly size: number;
}

/** The graph inputs' batch axis (axis 0) and token axis (axis 1 of 2-D integer ids) where they are numbers, not symbols. */
function staticAxes(graph: Graph): { batch?: StaticAxis; sequence?: StaticAxis } {
  const out: { batch?: StaticAxis; sequence?: StaticAxis } = {};
  for (const name of graph.inputs) {
    const t = graph.types.get(name);
    if (!t?.shape || t.shape.length === 0) continue;
    const b = t.shape[0];
    if (typeof b === "number") out.batch ??= { input: name, axis: 0, size: b };
    const s = t.shape[1];
    if (t.shape.length === 2 && (t.dtype === "i64" || t.dtype === "i32") && typeof s === "number") out.sequence ??= { input: name, axis: 1, size: s };
  }
  return out;
}

/** Whether the graph takes tokens (a token-id input or a sequence dim): otherwise a pass processes one item per batch entry (an image). */
export function hasTokenAxis(graph: Graph): boolean {
  if (staticAxes(graph).sequence) return true;
  for (const name of graph.inputs) {
    const t = graph.types.get(name);
    if (t?.shape?.length === 2 && (t.dtype === "i64" || t.dtype === "i32")) return true;
    for (const d of t?.shape ?? []) for (const sym of dimSymbols(d)) if (NAMED_SYMBOLS[sym] === "sequence") return true;
  }
  return false;
}

export interface RequestOptions {
  readonly phase: Phase;
  readonly batch?: number;
  readonly seq?: number;
  readonly dims?: ReadonlyMap<string, number>;
}

/**
 * Batch and sequence length of one compile: as given (--batch, --seq, or a
 * --dim on a recognised name), else what a static graph input says, else 1
 * and 128. A flag that contradicts a static input dim is refused: the costs
 * would describe a graph other than the one bound. A decode step processes
 * one token, so a static token axis of another length cannot be decoded.
 * Every --dim must name a symbol of the graph.
 */
export function resolveRequest(graph: Graph, options: RequestOptions): { batch: number; seq: number } {
  const present = symbolsOf(graph);
  for (const name of options.dims?.keys() ?? []) {
    if (!present.has(name)) {
      const known = [...present].sort();
      fail(`--dim ${name}=${options.dims!.get(name)}: the graph has no symbolic dim '${name}'${known.length > 0 ? ` (its dims: ${known.join(", ")})` : " (all its dims are static)"}`);
    }
  }
  const fromDims = requestFromDims(options.dims);
  const fixed = staticAxes(graph);
  const contradicts = (flag: string, value: number, at: StaticAxis, what: string) =>
    fail(`${flag} ${value} contradicts input '${at.input}': its dim ${at.axis} (${what}) is ${at.size} in the graph`);
  const givenBatch = options.batch ?? fromDims.batch;
  if (fixed.batch && givenBatch !== undefined && givenBatch !== fixed.batch.size) contradicts("--batch", givenBatch, fixed.batch, "the batch");
  const batch = givenBatch ?? fixed.batch?.size ?? 1;
  if (options.phase === "decode") {
    if (fixed.sequence && fixed.sequence.size !== 1) {
      fail(`--phase decode: input '${fixed.sequence.input}' has a static token dim of ${fixed.sequence.size} (dim ${fixed.sequence.axis}), and a decode step processes 1 token: export the model with a dynamic sequence dim`);
    }
    return { batch, seq: options.seq ?? 128 };
  }
  const givenSeq = options.seq ?? fromDims.seq;
  if (fixed.sequence && givenSeq !== undefined && givenSeq !== fixed.sequence.size) contradicts("--seq", givenSeq, fixed.sequence, "the sequence");
  return { batch, seq: givenSeq ?? fixed.sequence?.size ?? 128 };
}

/** The token count of a graph's own KV caches (the past inputs of its CacheAppend nodes), and those inputs. */
export function cachePast(graph: Graph): { dim: Dim; inputs: string[] } | undefined {
  const inputs = graph.nodes.filter((n) => n.domain === "tierflow" && n.op === "CacheAppend").map((n) => n.inputs[0]!);
  if (inputs.length === 0) return undefined;
  const dims = inputs.map((name) => graph.types.get(name)?.shape?.[2]);
  const dim = dims[0];
  if (dim === undefined || dims.some((d) => d !== dim)) {
    fail(`the KV cache inputs hold different numbers of tokens (${inputs.map((n, i) => `'${n}' ${dims[i] ?? "?"}`).join(", ")}): tierflow plans one cache length`);
  }
  return { dim: dim!, inputs };
}

export function bindDims(graph: Graph, options: BindOptions): Bindings {
  const values = new Map<string, number>(options.dims ?? []);
  const queryLength = options.phase === "decode" ? 1 : options.seq;
  let sequenceSymbol: string | undefined;
  const setIfFree = (sym: Dim | undefined, v: number) => {
    if (typeof sym === "string" && !values.has(sym) && dimSymbols(sym).length === 1 && dimSymbols(sym)[0] === sym) values.set(sym, v);
  };
  const present = symbolsOf(graph);
  for (const [symbol, role] of Object.entries(NAMED_SYMBOLS)) {
    if (!present.has(symbol)) continue;
    const want = role === "batch" ? options.batch : queryLength;
    const given = values.get(symbol);
    // The KV cache, token counts and costs follow batch and seq: a --dim that disagrees would plan a graph they do not describe.
    if (given !== undefined && given !== want) {
      if (role === "sequence" && options.phase === "decode") {
        fail(`--dim ${symbol}=${given}: a decode step processes 1 token, so '${symbol}' is 1 (--seq sets the context): leave the --dim out`);
      }
      const what = role === "batch" ? `the batch ${want} (--batch)` : `the prompt length ${want} (--seq)`;
      fail(`--dim ${symbol}=${given} disagrees with ${what}: give one of them, or the same value`);
    }
    values.set(symbol, want);
    if (role === "sequence") sequenceSymbol ??= symbol;
  }
  // A graph's own cache holds nothing before a prefill and the context (--seq) before a decode step.
  const cache = cachePast(graph);
  const held = options.phase === "decode" ? options.seq : 0;
  if (cache) {
    const given = typeof cache.dim === "string" ? values.get(cache.dim) : cache.dim;
    if (given !== undefined && given !== held) {
      fail(typeof cache.dim === "number"
        ? `the KV cache input '${cache.inputs[0]}' holds a static ${cache.dim} tokens, but ${options.phase === "decode" ? `--seq ${held} asks for a context of ${held}` : "a prefill starts from an empty cache"}: export the model with a dynamic past length`
        : `--dim ${cache.dim}=${given}: the KV cache holds ${held} tokens ${options.phase === "decode" ? "(the context, --seq)" : "before a prefill"}: leave the --dim out`);
    }
    setIfFree(cache.dim, held);
  }
  for (const name of graph.inputs) {
    const t = graph.types.get(name);
    if (!t?.shape) continue;
    setIfFree(t.shape[0], options.batch);
    // The attention mask of a with-past graph covers the cached tokens and the new ones.
    if (cache && name === "attention_mask" && t.shape.length === 2) setIfFree(t.shape[1], held + queryLength);
    if (t.shape.length === 2 && (t.dtype === "i64" || t.dtype === "i32")) {
      if (typeof t.shape[1] === "string") sequenceSymbol ??= t.shape[1];
      setIfFree(t.shape[1], queryLength);
    }
  }
  const kvLength = options.phase === "decode" ? options.seq + 1 : options.seq;
  for (const [name, t] of graph.types) {
    for (const d of t.shape ?? []) {
      if (typeof d === "number") continue;
      for (const s of dimSymbols(d)) {
        if (!values.has(s)) fail(`tensor '${name}' has the symbolic dim '${s}', which has no value: give it one with --dim ${s}=N`);
      }
    }
  }
  return { values, sequenceSymbol, kvLength, queryLength };
}

/** The symbols of the graph's dims (numbers, most dims, have none). */
function symbolsOf(graph: Graph): Set<string> {
  const present = new Set<string>();
  for (const t of graph.types.values()) {
    for (const d of t.shape ?? []) if (typeof d !== "number") for (const s of dimSymbols(d)) present.add(s);
  }
  return present;
}

export function concreteShape(shape: readonly Dim[], b: Bindings, what: string): number[] {
  return shape.map((d) => {
    const v = evaluateDim(d, b.values);
    if (v === undefined || v < 0) fail(`tensor '${what}' dim '${d}' does not evaluate to a size`);
    return v;
  });
}
