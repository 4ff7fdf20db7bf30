// Stage tests for the compile step below the graph level: each .tfg file names
// a compile on its `// RUN:` line (target, -O level, phase, batch, seq) and the
// level to print (dataflow or placement), and states what that level's text
// must contain with CHECK lines.

import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/compile.js";
import { printDataflow } from "../../ir/dataflow/text.js";
import { printPlacement, parsePlacement } from "../../ir/placement/text.js";
import { fileCheck } from "../support/filecheck.js";

const dir = import.meta.dirname;
const files = readdirSync(dir).filter((f) => f.endsWith(".tfg")).sort();

function runLine(text: string): { target: string; opt: 0 | 1 | 2; phase: "prefill" | "decode"; batch: number; seq: number; emit: string } {
  const line = /\/\/ RUN: (.*)/.exec(text)?.[1] ?? "";
  const arg = (flag: string, fallback: string) => new RegExp(`${flag}[ =]?(\\S+)`).exec(line)?.[1] ?? fallback;
  return {
    target: arg("--target", "toy"), opt: Number(arg("-O", "2")) as 0 | 1 | 2, phase: arg("--phase", "prefill") as "prefill" | "decode",
    batch: Number(arg("--batch", "1")), seq: Number(arg("--seq", "8")), emit: arg("--emit", "dataflow"),
  };
}

describe("lowering, sectioning, allocation and placement", () => {
  for (const file of files) {
    it(file, async () => {
      const path = join(dir, file);
      const text = readFileSync(path, "utf8");
      const run = runLine(text);
      const { plan, dataflow } = await compile(path, { ...run, verifyEach: true });
      const printed = run.emit === "placement" ? printPlacement(plan) : printDataflow(dataflow);
      expect(fileCheck(printed, text)).toBeNull();
      if (run.emit === "placement") expect(printPlacement(parsePlacement(printed))).toBe(printed);
    });
  }
});
