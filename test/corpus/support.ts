// The corpus of real exports (examples/corpus/, made by examples/export/export_corpus.py):
// its manifest and seeded inputs for any of its graphs, built from the graph's own input types.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Graph } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor } from "../../ir/tensor.js";
import { evaluateDim } from "../../ir/symbolic.js";
import { seededRandom } from "../../compiler/seeded-random.js";

export const CORPUS_DIR = join(import.meta.dirname, "..", "..", "examples", "corpus");

export interface CorpusEntry {
  readonly file: string;
  readonly architecture: string;
  readonly family: string;
  readonly exporter: string;
  readonly features: readonly string[];
  readonly config: Readonly<Record<string, unknown>>;
}

export function corpusEntries(): CorpusEntry[] {
  const manifest = JSON.parse(readFileSync(join(CORPUS_DIR, "corpus.json"), "utf8")) as { models: CorpusEntry[] };
  return manifest.models;
}

/** Vocabulary of a text model's config (the corpus keeps ids below it). */
export function vocabOf(entry: CorpusEntry): number {
  const v = entry.config["vocab_size"];
  return typeof v === "number" ? v : 128;
}

/**
 * Inputs for `graph` at `batch` x `sequence`: token ids in [3, vocab) (RoBERTa counts
 * positions past its padding id 1), an attention mask whose second row has its last two
 * positions padded, and standard normal floats (images, audio features).
 */
export function corpusInputs(graph: Graph, vocab: number, batch: number, sequence: number, seed: number): Record<string, Tensor> {
  const next = seededRandom(seed);
  const values = new Map([["batch", batch], ["sequence", sequence]]);
  const inputs: Record<string, Tensor> = {};
  for (const name of graph.inputs) {
    const t = graph.types.get(name)!;
    const dims = t.shape!.map((d) => {
      const v = evaluateDim(d, values);
      if (v === undefined) throw new Error(`input '${name}' has dim '${d}', which the corpus inputs do not bind`);
      return v;
    });
    const x = makeTensor(t.dtype, dims);
    const d = x.data;
    if (name === "attention_mask") {
      const row = dims[1] ?? 1;
      for (let i = 0; i < d.length; i++) (d as BigInt64Array)[i] = i >= row && i % row >= row - 2 ? 0n : 1n;
    } else if (d instanceof BigInt64Array) {
      for (let i = 0; i < d.length; i++) d[i] = BigInt(3 + Math.floor(next() * (vocab - 3)));
    } else if (d instanceof Float32Array) {
      for (let i = 0; i < d.length; i++) d[i] = Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
    } else {
      throw new Error(`no sample input of dtype ${t.dtype} for '${name}'`);
    }
    inputs[name] = x;
  }
  return inputs;
}
