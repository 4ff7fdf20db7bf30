// The layers import downwards, and no module imports itself through others:
//   ir/                 the three IR levels, the target description, tensor bytes,
//                       diagnostics: imports nothing of tierflow outside ir/
//   targets/reference/  the CPU reference backend (its kernel table, kernels,
//                       interpreter and fusions): ir/ only
//   targets/runtime/    executes plans on it: ir/ and targets/reference/ only
//   targets/*.ts        reads target files: ir/ only
//   compiler/           ir/, targets/reference/ (its kernels fold constants) and
//                       targets/*.ts
//   the drivers that run plans (generate, the CoE runner): compiler/ and the runtime
//   compiler/cli/       the CLI, on top of everything; imported by nothing else.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = join(import.meta.dirname, "..", "..");

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) out.push(...sources(path));
    else if (name.endsWith(".ts") && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

/** Each source file's relative imports (static, re-exports and dynamic), as repository paths; `value` false for `import type`. */
function importsOf(file: string): { to: string; value: boolean }[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const resolve = (spec: string) => normalize(join(dirname(file), spec)).replace(/\.js$/, ".ts");
  const found: { to: string; value: boolean }[] = [];
  for (const m of text.matchAll(/^(?:import|export)\s+(type\s+)?[^;]*?\s+from\s+"(\.[^"]+)"/gm)) found.push({ to: resolve(m[2]!), value: m[1] === undefined });
  for (const m of text.matchAll(/import\("(\.[^"]+)"\)/g)) found.push({ to: resolve(m[1]!), value: true });
  return found;
}

const FILES = [...sources("ir"), ...sources("targets"), ...sources("compiler")];
const IMPORTS = new Map(FILES.map((f) => [f, importsOf(f)]));

/** The drivers that run plans on the runtime. */
const RUNTIME_DRIVERS = ["compiler/generate.ts", "compiler/coe/run-coe.ts"];

function layer(file: string): string {
  if (file.startsWith("targets/reference/")) return "reference";
  if (file.startsWith("targets/runtime/")) return "runtime";
  if (file.startsWith("targets/")) return "targets";
  if (file.startsWith("compiler/cli/")) return "cli";
  if (RUNTIME_DRIVERS.includes(file)) return "driver";
  return file.split("/")[0]!;
}

/** What each layer may import: no file is excepted. */
const ALLOWED: Readonly<Record<string, readonly string[]>> = {
  ir: ["ir"],
  reference: ["ir", "reference"],
  runtime: ["ir", "reference", "runtime"],
  targets: ["ir", "targets"],
  compiler: ["ir", "reference", "targets", "compiler"],
  driver: ["ir", "reference", "targets", "compiler", "runtime", "driver"],
  cli: ["ir", "reference", "targets", "compiler", "runtime", "driver", "cli"],
};

/** The imports that break the rules above. */
function violations(imports: ReadonlyMap<string, readonly { to: string }[]>): string[] {
  const wrong: string[] = [];
  for (const [file, list] of imports) {
    const from = layer(file);
    for (const { to } of list) {
      const into = layer(to);
      if (ALLOWED[from]!.includes(into)) continue;
      if (into === "cli") wrong.push(`${file} -> ${to} (library code imports the CLI)`);
      else if (into === "runtime" && from === "compiler") wrong.push(`${file} -> ${to} (only the drivers that run plans import the runtime)`);
      else wrong.push(`${file} -> ${to}`);
    }
  }
  return wrong;
}

describe("layers", () => {
  it("import downwards", () => {
    expect(violations(IMPORTS)).toEqual([]);
  });

  it("the rules catch an upward import (the check is not vacuous)", () => {
    expect(violations(new Map([
      ["ir/graph/graph.ts", [{ to: "compiler/compile.ts" }]],
      ["targets/runtime/execute.ts", [{ to: "compiler/plan-json.ts" }]],
      ["compiler/report.ts", [{ to: "compiler/cli/format.ts" }, { to: "targets/runtime/execute.ts" }]],
      ["compiler/generate.ts", [{ to: "targets/runtime/execute.ts" }]],
      ["targets/reference/interpreter.ts", [{ to: "compiler/passes/fold-constants.ts" }]],
      ["targets/runtime/operands.ts", [{ to: "targets/target.ts" }]],
    ]))).toHaveLength(6);
  });

  it("take chevrotain's runtime from ir/chevrotain.ts alone (one copy of its token types and EOF)", () => {
    const direct = FILES.filter((f) => f !== "ir/chevrotain.ts" && /^import\s+(?!type\s)[^;]*?from\s+"chevrotain"/m.test(readFileSync(join(ROOT, f), "utf8")));
    expect(direct).toEqual([]);
    expect(readFileSync(join(ROOT, "ir/graph/text/lexer.ts"), "utf8")).toMatch(/from "\.\.\/\.\.\/chevrotain\.js"/);
  });

  it("form no cycle of value imports between files", () => {
    const index = new Map<string, number>(), low = new Map<string, number>(), onStack = new Set<string>(), stack: string[] = [];
    const cycles: string[][] = [];
    let counter = 0;
    const visit = (v: string): void => {
      index.set(v, counter); low.set(v, counter); counter++;
      stack.push(v); onStack.add(v);
      for (const { to, value } of IMPORTS.get(v) ?? []) {
        if (!value || !IMPORTS.has(to)) continue;
        if (!index.has(to)) { visit(to); low.set(v, Math.min(low.get(v)!, low.get(to)!)); }
        else if (onStack.has(to)) low.set(v, Math.min(low.get(v)!, index.get(to)!));
      }
      if (low.get(v) === index.get(v)) {
        const component: string[] = [];
        let w: string;
        do { w = stack.pop()!; onStack.delete(w); component.push(w); } while (w !== v);
        if (component.length > 1) cycles.push(component.sort());
      }
    };
    for (const f of IMPORTS.keys()) if (!index.has(f)) visit(f);
    expect(cycles).toEqual([]);
  });

  it("sees every source file's imports (the scan is not vacuous)", () => {
    expect(FILES.length).toBeGreaterThan(200);
    expect(IMPORTS.get("compiler/compile.ts")!.some((i) => i.to === "compiler/plan-socket.ts")).toBe(true);
    expect(relative(ROOT, join(ROOT, "ir"))).toBe("ir");
  });
});
