// The corpus's decoders (examples/corpus/): every plan runs and agrees with the
// interpreter and onnxruntime (check-corpus.ts). Encoders and the rest: others.test.ts.

import { afterAll, describe, it } from "vitest";
import { checkCorpusFile } from "./check-corpus.js";
import { corpusEntries } from "./support.js";

const summary: string[] = [];
afterAll(() => console.log(`corpus decoders, largest error against onnxruntime and the interpreter (2 sizes, 6 plans each):\n${summary.join("\n")}`));

describe("real decoder exports run through plans at every level on sn40l and toy", () => {
  it.each(corpusEntries().filter((e) => e.family === "decoder").map((e) => [e.file, e] as const))("%s", async (_, entry) => {
    summary.push(await checkCorpusFile(entry));
  }, 120_000);
});
