// One pattern language (ir/graph/patterns) serves the compiler's fusion pass and
// the reference interpreter's fused steps: the interpreter's list is the shared
// graph patterns (the same objects, not copies) then its own, whose exact
// composites no graph pattern builds; targets/reference/fusion holds only the
// plumbing that runs a pattern's match as a step, no matcher of its own.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { GRAPH_PATTERNS, INTERPRETER_PATTERNS, REFERENCE_PATTERNS, SHARED_PATTERNS } from "../../ir/graph/patterns/index.js";
import { EXACT_OPS } from "../../ir/graph/ops/composite-exact.js";
import { EXACT_DOMAIN } from "../../ir/graph/ops/exact.js";

const ROOT = join(import.meta.dirname, "..", "..");

describe("fusion pattern lists", () => {
  it("the interpreter's list is the shared graph patterns, then its own", () => {
    for (const pattern of SHARED_PATTERNS) expect(GRAPH_PATTERNS, pattern.name).toContain(pattern);
    expect(REFERENCE_PATTERNS).toEqual([...SHARED_PATTERNS, ...INTERPRETER_PATTERNS]);
    expect(REFERENCE_PATTERNS.length).toBe(SHARED_PATTERNS.length + INTERPRETER_PATTERNS.length);
    REFERENCE_PATTERNS.forEach((p, i) => expect(p).toBe(i < SHARED_PATTERNS.length ? SHARED_PATTERNS[i] : INTERPRETER_PATTERNS[i - SHARED_PATTERNS.length]));
    for (const pattern of INTERPRETER_PATTERNS) expect(GRAPH_PATTERNS).not.toContain(pattern);
    expect(SHARED_PATTERNS.map((p) => p.name)).toEqual(["RMSNorm", "Rotary"]);
    // Attention comes first among the interpreter's own: it holds what later ones would take.
    expect(INTERPRETER_PATTERNS[0]!.name).toBe("Attention");
  });

  it("the graph patterns build no exact composite (they never reach a plan)", () => {
    expect(EXACT_OPS.length).toBeGreaterThan(0);
    for (const def of EXACT_OPS) expect(def.domain).toBe(EXACT_DOMAIN);
    const graphSources = GRAPH_PATTERNS.map((p) => p.build.toString()).join("\n");
    expect(graphSources).not.toMatch(/EXACT_DOMAIN|tierflow\.exact/);
  });

  it("the reference backend defines no matcher of its own: only the pattern-step plumbing", () => {
    const dir = join(ROOT, "targets", "reference", "fusion");
    const files = readdirSync(dir).filter((f) => f.endsWith(".ts")).sort();
    expect(files).toEqual(["pattern-step.ts", "step.ts"]);
    for (const file of files) {
      const text = readFileSync(join(dir, file), "utf8");
      expect(text, file).not.toMatch(/export const \w+\s*:\s*Fusion\b/); // no Fusion objects
      expect(text, file).not.toMatch(/export function (match|sole|floatCasts|expressionFusion)\w*/);
      expect(text, file).not.toMatch(/"(MatMul|Softmax|Transpose|Gather|Mul|Div|Add|Cast|Reciprocal|Sqrt|ReduceMean|Neg|Concat|Pow)"/);
      expect(text, file).not.toMatch(/class Matcher/);
    }
    const fusions = readFileSync(join(ROOT, "targets", "reference", "fusions.ts"), "utf8");
    expect(fusions).toMatch(/REFERENCE_PATTERNS\.map\(\(p\) => patternFusion\(p, view\)\)/);
    expect(fusions).not.toMatch(/from "\.\/fusion\/(?!pattern-step|step)/);
  });
});
