// Pass tests: each .tfg file here names its pipeline on a `// RUN:` line and
// states what the printed IR must contain with CHECK lines.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseGraphText } from "../../compiler/parse-text.js";
import { runPipeline } from "../../compiler/passes/pipeline.js";
import { printModule } from "../../ir/graph/printer.js";
import { fileCheck } from "../support/filecheck.js";

const dir = import.meta.dirname;
const files = readdirSync(dir).filter((f) => f.endsWith(".tfg")).sort();

describe("pass tests", () => {
  for (const file of files) {
    it(file, () => {
      const text = readFileSync(join(dir, file), "utf8");
      const run = /\/\/ RUN: --passes=(\S+)/.exec(text);
      expect(run, "a // RUN: --passes=... line").not.toBeNull();
      const { module } = runPipeline(parseGraphText(text, file), run![1]!, { verifyEach: true });
      const printed = printModule(module);
      expect(fileCheck(printed, text)).toBeNull();
      // The output is valid IR too: it round-trips.
      expect(printModule(parseGraphText(printed))).toBe(printed);
    });
  }
});
