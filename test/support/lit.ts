// Running one case of a lit file (test/lit/README.md): parse the case's IR at the file's
// level (.tfg graph, .tfd dataflow, .tfp placement), do what its RUN line says, then hold
// the outcome to its expected-error lines or to its CHECK lines on the printed IR.

import { parseGraphText } from "../../compiler/parse-text.js";
import { runPipeline } from "../../compiler/passes/pipeline.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { parseDataflow, printDataflow } from "../../ir/dataflow/text.js";
import { verifyDataflow } from "../../ir/dataflow/verify.js";
import { printModule } from "../../ir/graph/printer.js";
import { verifyModule } from "../../ir/graph/verifier.js";
import { parsePlacement, printPlacement } from "../../ir/placement/text.js";
import { verifyPlan } from "../../ir/placement/verify.js";
import { loadTarget } from "../../targets/target.js";
import { fileCheck, parseDirectives } from "./filecheck.js";
import type { Diagnostic, LitCase } from "./lit-cases.js";
import { checkDiagnostics, parseExpectedErrors } from "./lit-cases.js";

export type Level = "graph" | "dataflow" | "placement";

/** How one level's text is read, printed and verified. */
export interface LevelText {
  readonly extension: string;
  parse(text: string, file?: string): unknown;
  print(ir: unknown): string;
  verify(ir: unknown): void;
}

function level<T>(extension: string, parse: (text: string, file?: string) => T, print: (ir: T) => string, verify: (ir: T) => void): LevelText {
  return { extension, parse, print: (ir) => print(ir as T), verify: (ir) => verify(ir as T) };
}

export const LEVELS: Record<Level, LevelText> = {
  graph: level(".tfg", parseGraphText, printModule, verifyModule),
  dataflow: level(".tfd", parseDataflow, printDataflow, verifyDataflow),
  // A plan's verifier checks its dataflow module too, as compile does before placing it.
  placement: level(".tfp", parsePlacement, printPlacement, (p) => {
    verifyDataflow(p.dataflow);
    verifyPlan(p, loadTarget(p.target));
  }),
};

export function levelOf(file: string): Level | undefined {
  return (Object.keys(LEVELS) as Level[]).find((l) => file.endsWith(LEVELS[l].extension));
}

/** What a RUN line asks for: `verify`, or `passes=a,b` (graph level; the input is verified first). */
export type Run = { readonly command: "verify" } | { readonly command: "passes"; readonly pipeline: string };

/** The case's RUN line, if it has one. More than one, or one the runner does not know, throws. */
export function runOf(text: string): Run | undefined {
  const lines = text.split("\n").flatMap((l, i) => (/\/\/\s*RUN:/.test(l) ? [[i + 1, l.replace(/^.*\/\/\s*RUN:/, "").trim()] as const] : []));
  if (lines.length === 0) return undefined;
  if (lines.length > 1) throw new Error(`lines ${lines.map(([n]) => n).join(", ")}: one RUN line per case`);
  const [line, words] = lines[0]!;
  if (words === "verify") return { command: "verify" };
  const passes = /^passes=(\S+)$/.exec(words);
  if (passes) return { command: "passes", pipeline: passes[1]! };
  throw new Error(`line ${line}: unknown RUN line '${words}' (expected 'verify' or 'passes=a,b,...')`);
}

/** The line a diagnostic points at: its own line, else the line naming its node (loc or kernel). */
export function diagnosticLine(err: TierflowError, text: string): number | undefined {
  const { line, node } = err.location;
  if (line !== undefined) return line;
  if (node === undefined || node === "") return undefined;
  const quoted = JSON.stringify(node);
  const bare = /^[A-Za-z0-9_.$:/-]+$/.test(node) ? `@${node} ` : undefined;
  const lines = text.split("\n");
  let at = lines.findIndex((l) => l.includes(`loc(${quoted})`));
  if (at < 0) {
    at = lines.findIndex((l) => /^\s*kernel /.test(l) && (l.includes(`@${quoted} `) || (bare !== undefined && l.includes(bare)) || /nodes = \[(.*)\]/.exec(l)?.[1]?.split(", ").includes(quoted)));
  }
  return at < 0 ? undefined : at + 1;
}

function execute(level: Level, run: Run, text: string, file: string): string {
  const ir = LEVELS[level];
  if (run.command === "verify") {
    const parsed = ir.parse(text, file);
    ir.verify(parsed);
    return ir.print(parsed);
  }
  if (level !== "graph") throw new Error("passes= runs graph-level passes: use a .tfg file");
  const module = parseGraphText(text, file);
  verifyModule(module);
  return printModule(runPipeline(module, run.pipeline, { verifyEach: true }).module);
}

/**
 * Run one case of a lit file; `fallback` is the RUN of the file's first case, for cases
 * without their own. Returns null when the case holds, else what went wrong.
 */
export function runCase(file: string, c: LitCase, fallback: Run | undefined): string | null {
  const where = `${file}:${c.firstLine}`;
  const level = levelOf(file);
  if (!level) return `${file}: not an IR file (.tfg, .tfd or .tfp)`;
  let run: Run | undefined;
  let hasChecks: boolean;
  let expected: ReturnType<typeof parseExpectedErrors>;
  try {
    run = runOf(c.text) ?? fallback;
    expected = parseExpectedErrors(c.text);
    hasChecks = parseDirectives(c.text).length > 0;
  } catch (err) {
    // A malformed RUN, CHECK or expected-error line: the case cannot be run as written.
    if (err instanceof Error) return `${where}: ${err.message}`;
    throw err;
  }
  if (!run) return `${where}: no RUN line in this case or the file's first`;
  let output: string | undefined;
  const produced: Diagnostic[] = [];
  try {
    output = execute(level, run, c.text, file);
  } catch (err) {
    if (!(err instanceof TierflowError)) throw err;
    const line = diagnosticLine(err, c.text);
    produced.push(line === undefined ? { message: err.message } : { message: err.message, line });
  }
  if (expected.length > 0 || produced.length > 0) {
    const problem = checkDiagnostics(expected, produced);
    if (problem) return `${where}: ${problem}`;
    if (hasChecks) return `${where}: a case that must fail has no output for its CHECK lines`;
    return null;
  }
  if (!hasChecks && run.command !== "verify") return `${where}: the case checks nothing (no CHECK or expected-error lines)`;
  if (hasChecks) {
    const failed = fileCheck(output!, c.text, { checkFile: file });
    if (failed) return `${failed}\n--- printed IR ---\n${output}`;
  }
  // What a case prints is valid IR of its level: it reads back and prints the same.
  const again = LEVELS[level].print(LEVELS[level].parse(output!, file));
  return again === output ? null : `${where}: the printed IR does not print the same after reading it back`;
}
