// The corpus's encoders, vision and audio models (examples/corpus/): every plan runs and
// agrees with the interpreter and onnxruntime (check-corpus.ts). Decoders: decoders.test.ts.

import { afterAll, describe, it } from "vitest";
import { checkCorpusFile } from "./check-corpus.js";
import { corpusEntries } from "./support.js";

const summary: string[] = [];
afterAll(() => console.log(`corpus encoders and others, largest error against onnxruntime and the interpreter (2 sizes, 6 plans each):\n${summary.join("\n")}`));

describe("real encoder, vision and audio exports run through plans at every level on sn40l and toy", () => {
  it.each(corpusEntries().filter((e) => e.family !== "decoder").map((e) => [e.file, e] as const))("%s", async (_, entry) => {
    summary.push(await checkCorpusFile(entry));
  }, 120_000);
});
