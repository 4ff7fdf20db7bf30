// Lit tests: every .tfg, .tfd and .tfp file under test/lit, split into its `// -----`
// cases, each run as its RUN line says and held to its CHECK or expected-error lines
// (README.md here). Every registered pass and compile stage has a file named after it.

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { allPasses } from "../../compiler/passes/pass.js";
import "../../compiler/passes/all.js";
import { allStages } from "../../compiler/passes/stage.js";
import { planSocket } from "../../compiler/plan-socket.js";
import type { SocketState } from "../../compiler/plan-socket.js";
import { parseDataflow } from "../../ir/dataflow/text.js";
import { loadTarget } from "../../targets/target.js";
import type { LitCase } from "../support/lit-cases.js";
import { splitCases } from "../support/lit-cases.js";
import type { Run } from "../support/lit.js";
import { levelOf, runCase, runOf } from "../support/lit.js";

const dir = import.meta.dirname;
const files = readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => levelOf(f) !== undefined).sort();

describe("lit files", () => {
  for (const file of files) {
    const text = readFileSync(join(dir, file), "utf8");
    const cases = splitCases(text);
    const name = relative(join(dir, "../.."), join(dir, file));
    let fallback: Run | undefined;
    try {
      fallback = runOf(cases[0]!.text);
    } catch {
      fallback = undefined; // reported by the first case itself
    }
    describe(file, () => {
      for (const c of cases) {
        // A case marked XFAIL shows a known defect: it must fail until the defect is fixed.
        const xfail = /\/\/\s*XFAIL:\s*(.+)/.exec(c.text)?.[1];
        const title = `case ${c.index + 1} (line ${c.firstLine})${xfail ? `, XFAIL: ${xfail}` : ""}`;
        (xfail ? it.fails : it)(title, () => {
          expect(runCase(name, c, fallback)).toBeNull();
        });
      }
    });
  }
});

/** The case with line `index` (0-based) replaced. */
function withLine(c: LitCase, index: number, line: string): LitCase {
  const lines = c.text.split("\n");
  lines[index] = line;
  return { ...c, text: lines.join("\n") };
}

/** Each variant of a case in which one CHECK or expected-error line asks for something else. */
function mutants(c: LitCase): { line: number; mutant: LitCase }[] {
  const out: { line: number; mutant: LitCase }[] = [];
  c.text.split("\n").forEach((line, i) => {
    if (/\/\/\s*CHECK(-NEXT|-SAME|-DAG|-LABEL|-COUNT-\d+)?:/.test(line)) {
      out.push({ line: i + 1, mutant: withLine(c, i, `${line.trimEnd()}\u00a7`) });
    }
    if (/\/\/\s*expected-error/.test(line)) {
      out.push({ line: i + 1, mutant: withLine(c, i, line.replace(/\}\}\s*$/, "\u00a7}}")) });
      const shifted = line.replace(/expected-error(@[+-]\d+|@unlocated)?/, (_, at?: string) =>
        at === undefined || at === "@unlocated" ? "expected-error@+1" : `expected-error@${at[1]}${Number(at.slice(2)) + 1}`);
      out.push({ line: i + 1, mutant: withLine(c, i, shifted) });
    }
  });
  return out;
}

// Teeth: a case must fail when any one of its CHECK lines (CHECK-NOT aside) or expected
// errors asks for something the run does not give (a check that is misread or never
// reached would not).
describe("every check can fail", () => {
  for (const file of files) {
    it(file, () => {
      const name = relative(join(dir, "../.."), join(dir, file));
      const cases = splitCases(readFileSync(join(dir, file), "utf8"));
      const fallback = runOf(cases[0]!.text);
      const survivors: number[] = [];
      for (const c of cases) {
        if (/\/\/\s*XFAIL:/.test(c.text)) continue;
        for (const { line, mutant } of mutants(c)) if (runCase(name, mutant, fallback) === null) survivors.push(line);
      }
      expect(survivors, "lines whose change the case does not notice").toEqual([]);
    });
  }
});

const GRAPH = (body: string, head = "") => `${head}
module @m {
  opset "" = 17
  graph @main(%x: f32[2]) -> (%y) {
${body}
    return %y
  }
}
`;
const one = (text: string): LitCase => splitCases(text)[0]!;

describe("the runner", () => {
  it("runs a case's own RUN line, or the first case's", () => {
    const [first, second] = splitCases(GRAPH('    %y = Relu(%x) loc("r")', "// RUN: passes=dce\n// CHECK: Relu") + "// -----\n" + GRAPH("    %y = Exp(%x)", "// CHECK: Exp"));
    const run = runOf(first!.text);
    expect(runCase("t.tfg", first!, run)).toBeNull();
    expect(runCase("t.tfg", second!, run)).toBeNull();
    expect(runCase("t.tfg", second!, undefined)).toMatch(/no RUN line/);
  });
  it("fails what it cannot run or what checks nothing", () => {
    expect(runCase("t.tfg", one(GRAPH("    %y = Relu(%x)", "// RUN: optimise\n// CHECK: Relu")), undefined)).toMatch(/unknown RUN line 'optimise'/);
    expect(runCase("t.tfg", one(GRAPH("    %y = Relu(%x)", "// RUN: verify\n// RUN: verify")), undefined)).toMatch(/one RUN line per case/);
    expect(runCase("t.tfg", one(GRAPH("    %y = Relu(%x)", "// RUN: passes=dce")), undefined)).toMatch(/checks nothing/);
    expect(runCase("t.txt", one("// RUN: verify"), undefined)).toMatch(/not an IR file/);
    expect(() => runCase("t.tfd", one("// RUN: passes=dce\n// CHECK: x\ndataflow"), undefined)).toThrow();
    expect(runCase("t.tfg", one(GRAPH("    %y = Relu(%x)", "// RUN: passes=no-such-pass\n// CHECK: Relu")), undefined)).toMatch(/unexpected error at no line: .*no-such-pass/);
  });
  it("holds a case to its CHECK lines on the printed IR", () => {
    const text = GRAPH("    %y = Relu(%x)", "// RUN: verify\n// CHECK: %y = Exp(%x)");
    expect(runCase("t.tfg", one(text), undefined)).toMatch(/^t\.tfg:2: CHECK: %y = Exp\(%x\)\n {2}not found[\s\S]*--- printed IR ---/);
  });
  it("holds a failing case to its expected errors, located by line or by node", () => {
    const body = '    %y = Relu(%z) loc("r")';
    // The body comes four lines after the last line of the head.
    expect(runCase("t.tfg", one(GRAPH(body, "// RUN: verify\n// expected-error@+4 {{used before}}")), undefined)).toBeNull();
    expect(runCase("t.tfg", one(GRAPH(body, "// RUN: verify\n// expected-error@+3 {{used before}}")), undefined)).toMatch(/wants line 5, but this came at line 6/);
    expect(runCase("t.tfg", one(GRAPH(body, "// RUN: verify")), undefined)).toMatch(/unexpected error at line 5: input 'z' is used before/);
    expect(runCase("t.tfg", one(GRAPH('    %y = Relu(%x) loc("r")', "// RUN: verify\n// expected-error@+4 {{used before}}")), undefined)).toMatch(/was not produced/);
    expect(runCase("t.tfg", one(GRAPH(body, "// RUN: verify\n// CHECK: Relu\n// expected-error@+4 {{used before}}")), undefined)).toMatch(/no output for its CHECK lines/);
    // A parse error carries its own line.
    expect(runCase("t.tfg", one(GRAPH("    %y = Relu(%x) {", "// RUN: verify")), undefined)).toMatch(/unexpected error at line 6: /);
  });
});

describe("the runner's stages", () => {
  const DATAFLOW = readFileSync(join(dir, "partition-sections.tfd"), "utf8").split("// -----")[0]!;
  it("refuses RUN lines it cannot run", () => {
    const run = (words: string) => runCase("t.tfd", one(`// RUN: ${words}\n// CHECK: section\n${DATAFLOW.replace(/^\/\/.*$/gm, "")}`), undefined);
    expect(run("stages=partition-sections")).toMatch(/no target=/);
    expect(run("stages=partition-sections target=toy colour=red")).toMatch(/unknown option 'colour'/);
    expect(run("stages=partition-sections target=toy opt=3")).toMatch(/opt=3 is not 0, 1 or 2/);
    expect(run("stages=partition-sections target=toy")).toBeNull();
    expect(run("stages=no-such-stage target=toy")).toMatch(/unexpected error at no line: unknown stage 'no-such-stage'/);
    expect(() => run("stages=lower-to-dataflow,cost,verify-placement target=toy")).toThrow(/use a \.tfg file/);
  });
});

describe("lit coverage", () => {
  it("every registered pass has a lit file named after it", () => {
    const missing = allPasses().map((p) => p.name).filter((p) => !existsSync(join(dir, `${p}.tfg`)));
    expect(missing).toEqual([]);
  });
  it("every registered stage has a lit file named after it", () => {
    const missing = allStages().map((s) => s.name).filter((s) => ![".tfg", ".tfd", ".tfp"].some((ext) => existsSync(join(dir, `${s}${ext}`))));
    expect(missing).toEqual([]);
  });
  it("each level has a verifier file", () => {
    expect(files).toEqual(expect.arrayContaining(["verify-graph.tfg", "verify-dataflow.tfd", "verify-placement.tfp"]));
  });
});
