// Running one case of a lit file (test/lit/README.md): parse the case's IR at the file's
// level (.tfg graph, .tfd dataflow, .tfp placement), do what its RUN line says, then hold
// the outcome to its expected-error lines or to its CHECK lines on the printed IR, which
// is at the level the run leaves (a stage from dataflow to placement prints a plan).

import { basename } from "node:path";
import { compileModule } from "../../compiler/compile.js";
import { hasTokenAxis, resolveRequest } from "../../compiler/lower/bind.js";
import { parseGraphText } from "../../compiler/parse-text.js";
import { runPipeline } from "../../compiler/passes/pipeline.js";
import type { IrLevel, Stage } from "../../compiler/passes/stage.js";
import { findStage, runStages } from "../../compiler/passes/stage.js";
import type { LowerRequest, SocketState } from "../../compiler/plan-socket.js";
import { printSocketState } from "../../compiler/plan-socket.js";
import type { OptLevel } from "../../compiler/schedule/sections.js";
import type { Phase } from "../../ir/dataflow/dataflow.js";
import type { DType } from "../../ir/dtype.js";
import type { Module } from "../../ir/graph/graph.js";
import { mainGraph } from "../../ir/graph/graph.js";
import { TierflowError, fail } from "../../ir/diagnostics.js";
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

/** What a RUN line asks for: `verify`, `passes=a,b` (graph level; the input is verified first) or `stages=a,b ...`. */
export type Run =
  | { readonly command: "verify" }
  | { readonly command: "passes"; readonly pipeline: string }
  | { readonly command: "stages"; readonly stages: readonly string[]; readonly options: StageOptions };

/**
 * What a `stages=` RUN line plans for, as compile's options: `target=` (required), `opt=`
 * (default 2), `phase=`, `batch=`, `seq=`, `dtype=`, `parallel=`, `disaggregate=`, and
 * `passes=` (graph passes run first, as compile's load does).
 */
export interface StageOptions {
  readonly target: string;
  readonly opt: OptLevel;
  readonly phase?: Phase;
  readonly batch?: number;
  readonly seq?: number;
  readonly dtype?: DType;
  readonly parallel?: string;
  readonly disaggregate?: string;
  readonly passes?: string;
}

/** The stages over compile's plan (compiler/compile.ts) rather than one socket's program: a list naming one runs compile's path. */
const PLAN_STAGES = new Set(["plan-parallel", "verify-placement"]);

function stageRun(words: string, line: number): Run {
  const bad = (what: string): never => { throw new Error(`line ${line}: ${what} in RUN line '${words}'`); };
  const options: Record<string, string> = {};
  for (const word of words.split(/\s+/)) {
    const [key, value] = [word.slice(0, word.indexOf("=")), word.slice(word.indexOf("=") + 1)];
    if (!word.includes("=") || value === "") bad(`'${word}' is not key=value`);
    if (!["stages", "target", "opt", "phase", "batch", "seq", "dtype", "parallel", "disaggregate", "passes"].includes(key)) bad(`unknown option '${key}'`);
    if (key in options) bad(`'${key}' given twice`);
    options[key] = value;
  }
  const count = (key: string) => {
    const v = options[key];
    if (v === undefined) return undefined;
    if (!/^[1-9][0-9]*$/.test(v)) bad(`${key}=${v} is not a positive integer`);
    return Number(v);
  };
  if (options.target === undefined) bad("no target=");
  const opt = options.opt ?? "2";
  if (!["0", "1", "2"].includes(opt)) bad(`opt=${opt} is not 0, 1 or 2`);
  if (options.phase !== undefined && options.phase !== "prefill" && options.phase !== "decode") bad(`phase=${options.phase} is not prefill or decode`);
  const { batch, seq } = { batch: count("batch"), seq: count("seq") };
  return {
    command: "stages", stages: options.stages!.split(","),
    options: {
      target: options.target!, opt: Number(opt) as OptLevel,
      ...(options.phase !== undefined ? { phase: options.phase as Phase } : {}),
      ...(batch !== undefined ? { batch } : {}), ...(seq !== undefined ? { seq } : {}),
      ...(options.dtype !== undefined ? { dtype: options.dtype as DType } : {}),
      ...(options.parallel !== undefined ? { parallel: options.parallel } : {}),
      ...(options.disaggregate !== undefined ? { disaggregate: options.disaggregate } : {}),
      ...(options.passes !== undefined ? { passes: options.passes } : {}),
    },
  };
}

/** The case's RUN line, if it has one. More than one, or one the runner does not know, throws. */
export function runOf(text: string): Run | undefined {
  const lines = text.split("\n").flatMap((l, i) => (/\/\/\s*RUN:/.test(l) ? [[i + 1, l.replace(/^.*\/\/\s*RUN:/, "").trim()] as const] : []));
  if (lines.length === 0) return undefined;
  if (lines.length > 1) throw new Error(`lines ${lines.map(([n]) => n).join(", ")}: one RUN line per case`);
  const [line, words] = lines[0]!;
  if (words === "verify") return { command: "verify" };
  const passes = /^passes=(\S+)$/.exec(words);
  if (passes) return { command: "passes", pipeline: passes[1]! };
  if (/^stages=\S/.test(words)) return stageRun(words, line);
  throw new Error(`line ${line}: unknown RUN line '${words}' (expected 'verify', 'passes=a,b,...' or 'stages=a,b,... target=...')`);
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

/** The printed result of a case and the level it is at. */
interface Output {
  readonly text: string;
  readonly level: Level;
}

function execute(level: Level, run: Run, text: string, file: string): Output {
  const ir = LEVELS[level];
  if (run.command === "verify") {
    const parsed = ir.parse(text, file);
    ir.verify(parsed);
    return { text: ir.print(parsed), level };
  }
  if (run.command === "stages") return executeStages(level, run.stages, run.options, text, file);
  if (level !== "graph") throw new Error("passes= runs graph-level passes: use a .tfg file");
  const module = parseGraphText(text, file);
  verifyModule(module);
  return { text: printModule(runPipeline(module, run.pipeline, { verifyEach: true }).module), level };
}

/**
 * Run registered stages over a case's IR: a dataflow module (.tfd), or a graph (.tfg)
 * after the case's `passes=`; print what the last stage leaves, at its level. A list
 * naming a plan stage (plan-parallel, verify-placement) runs compile's path from the
 * graph (compileModule), whose stages must be the ones listed.
 */
function executeStages(level: Level, names: readonly string[], o: StageOptions, text: string, file: string): Output {
  const stages = names.map((n) => findStage(n) ?? fail(`unknown stage '${n}'`));
  const target = loadTarget(o.target);
  let graph: Module | undefined;
  let state: SocketState = { target, opt: o.opt };
  if (level === "graph") {
    const parsed = parseGraphText(text, file);
    verifyModule(parsed);
    graph = o.passes !== undefined ? runPipeline(parsed, o.passes, { verifyEach: true }).module : parsed;
    const phase = o.phase ?? "prefill";
    const { batch, seq } = resolveRequest(mainGraph(graph), { phase, ...(o.batch !== undefined ? { batch: o.batch } : {}), ...(o.seq !== undefined ? { seq: o.seq } : {}) });
    const request: LowerRequest = { phase, batch, seq, dtype: o.dtype, opt: o.opt, tokenAxis: hasTokenAxis(mainGraph(graph)) };
    state = { ...state, graph, request };
  } else if (level === "dataflow") {
    const dataflow = parseDataflow(text, file);
    verifyDataflow(dataflow);
    state = { ...state, dataflow };
  } else {
    throw new Error("stages= starts from a graph (.tfg) or a dataflow module (.tfd)");
  }
  if (names.some((n) => PLAN_STAGES.has(n))) {
    if (!graph) throw new Error(`${names.filter((n) => PLAN_STAGES.has(n)).join(", ")} run on compile's plan of a graph: use a .tfg file`);
    const result = compileModule({ graph, records: [], counts: {} }, { file: basename(file), sha256: "", given: basename(file) }, {
      target, opt: o.opt, ...(o.phase !== undefined ? { phase: o.phase } : {}), ...(o.batch !== undefined ? { batch: o.batch } : {}),
      ...(o.seq !== undefined ? { seq: o.seq } : {}), ...(o.dtype !== undefined ? { dtype: o.dtype } : {}),
      ...(o.parallel !== undefined ? { parallel: o.parallel } : {}), ...(o.disaggregate !== undefined ? { disaggregate: o.disaggregate } : {}),
    });
    const ran = result.records.map((r) => r.pass).filter((p) => findStage(p) !== undefined);
    if (ran.join(",") !== names.join(",")) throw new Error(`compile's path runs stages=${ran.join(",")}, not stages=${names.join(",")}`);
    return { text: printPlacement(result.plan), level: "placement" };
  }
  const done = runStages(state, stages as Stage<SocketState>[]).state;
  const to = stages.at(-1)!.to;
  const printed = printSocketState(done, to);
  if (printed === undefined) fail(`stage '${names.at(-1)}' left no IR to print`);
  return { text: printed, level: to };
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
  let output: Output | undefined;
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
    const failed = fileCheck(output!.text, c.text, { checkFile: file });
    if (failed) return `${failed}\n--- printed IR ---\n${output!.text}`;
  }
  // What a case prints is valid IR of its level: it reads back and prints the same.
  const out = LEVELS[output!.level];
  const again = out.print(out.parse(output!.text, file));
  return again === output!.text ? null : `${where}: the printed IR does not print the same after reading it back`;
}
