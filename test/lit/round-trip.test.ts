// Every IR file in test/ and examples/ round-trips: each of its `// -----` cases
// read, printed, read again and printed again gives the same text twice (the
// printer's output is a fixed point). A case that does not read must expect
// the error it fails with (expected-error lines, checked by lit.test.ts).

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { TierflowError } from "../../ir/diagnostics.js";
import { parseExpectedErrors, splitCases } from "../support/lit-cases.js";
import { LEVELS, levelOf } from "../support/lit.js";

const root = join(import.meta.dirname, "../..");
const files = ["test", "examples"]
  .filter((d) => existsSync(join(root, d)))
  .flatMap((d) => readdirSync(join(root, d), { recursive: true, encoding: "utf8" }).map((f) => join(d, f)))
  .filter((f) => levelOf(f) !== undefined)
  .sort();

describe("IR files round-trip", () => {
  it("finds the IR files of every level", () => {
    for (const extension of [".tfg", ".tfd", ".tfp"]) expect(files.some((f) => f.endsWith(extension)), extension).toBe(true);
  });
  for (const file of files) {
    it(file, () => {
      const level = LEVELS[levelOf(file)!];
      let checked = 0;
      for (const c of splitCases(readFileSync(join(root, file), "utf8"))) {
        let first: string;
        try {
          first = level.print(level.parse(c.text, file));
        } catch (err) {
          if (!(err instanceof TierflowError)) throw err;
          expect(parseExpectedErrors(c.text), `${file}:${c.firstLine}: does not read (${err.format()}) and expects no error`).not.toEqual([]);
          continue;
        }
        const second = level.print(level.parse(first, file));
        expect(second, `${file}:${c.firstLine}: the second print differs from the first`).toBe(first);
        checked++;
      }
      expect(checked, `${file}: no case reads`).toBeGreaterThan(0);
    });
  }
});
