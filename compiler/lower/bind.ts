// Bind a graph's symbolic dims to numbers for one compile: batch and sequence
// from the options, recognised by name (batch, seq, sequence, ...) or by place
// on the graph inputs (token ids [batch, seq], images [batch, C, H, W]); any
// other symbol must be given with --dim.

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

export function bindDims(graph: Graph, options: BindOptions): Bindings {
  const values = new Map<string, number>(options.dims ?? []);
  const queryLength = options.phase === "decode" ? 1 : options.seq;
  let sequenceSymbol: string | undefined;
  const setIfFree = (sym: Dim | undefined, v: number) => {
    if (typeof sym === "string" && !values.has(sym) && dimSymbols(sym).length === 1 && dimSymbols(sym)[0] === sym) values.set(sym, v);
  };
  const present = new Set<string>();
  for (const t of graph.types.values()) for (const d of t.shape ?? []) for (const s of dimSymbols(d)) present.add(s);
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
  for (const name of graph.inputs) {
    const t = graph.types.get(name);
    if (!t?.shape) continue;
    setIfFree(t.shape[0], options.batch);
    if (t.shape.length === 2 && (t.dtype === "i64" || t.dtype === "i32")) {
      if (typeof t.shape[1] === "string") sequenceSymbol ??= t.shape[1];
      setIfFree(t.shape[1], queryLength);
    }
  }
  const kvLength = options.phase === "decode" ? options.seq + 1 : options.seq;
  for (const [name, t] of graph.types) {
    for (const d of t.shape ?? []) {
      for (const s of dimSymbols(d)) {
        if (!values.has(s)) fail(`tensor '${name}' has the symbolic dim '${s}', which has no value: give it one with --dim ${s}=N`);
      }
    }
  }
  return { values, sequenceSymbol, kvLength, queryLength };
}

export function concreteShape(shape: readonly Dim[], b: Bindings, what: string): number[] {
  return shape.map((d) => {
    const v = evaluateDim(d, b.values);
    if (v === undefined || v < 0) fail(`tensor '${what}' dim '${d}' does not evaluate to a size`);
    return v;
  });
}
