// ONNX backend conformance for the reference backend: every single-op test case
// of ONNX's own suite (model.onnx + test_data_set_*/input_*.pb, output_*.pb) is
// imported, run WITHOUT the default pass pipeline (so kernels, not constant
// folding, compute the outputs), and compared with the expected outputs the way
// onnx's backend tests do: np.testing.assert_allclose(rtol=1e-3, atol=1e-7),
// NaN equal to NaN, dtype and shape exact. Shape inference is checked too: its
// types for the outputs must agree with what the kernels produced.
//
//   npx tsx test/conformance/run-conformance.ts [--report] [--filter REGEX] [--data DIR] [--json]

import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { TierflowError } from "../../ir/diagnostics.js";
import { mainGraph } from "../../ir/graph/graph.js";
import type { Module } from "../../ir/graph/graph.js";
import { inferGraph } from "../../ir/graph/infer.js";
import { lookupOp } from "../../ir/graph/ops.js";
import { lookupKernel } from "../../targets/reference/kernel-table.js";
import type { DType } from "../../ir/dtype.js";
import { isFloat } from "../../ir/dtype.js";
import type { Tensor } from "../../ir/tensor.js";
import { decodeModel } from "../../compiler/onnx/proto.js";
import { decodeBytes } from "../../ir/tensor-bytes.js";
import { loadModel } from "../../compiler/load.js";
import { run } from "../../targets/reference/interpreter.js";
import { readTensorFile } from "../../compiler/tensor-files.js";

/** Where Debian's libonnx-testdata (ONNX 1.12) installs the single-op cases. */
export const NODE_TEST_DIR = "/usr/include/onnx/backend/test/data/node";
export const RTOL = 1e-3;
export const ATOL = 1e-7;
/** Op type reported for the `_expanded` cases, which hold a function body of several nodes. */
export const MULTI_NODE = "(multi-node)";

export type CaseStatus = "passed" | "failed" | "unsupported";

export interface CaseResult {
  readonly case: string;
  readonly op: string;
  readonly status: CaseStatus;
  readonly reason?: string;
}

export interface ConformanceReport {
  readonly cases: readonly CaseResult[];
  readonly totals: Readonly<Record<CaseStatus, number>>;
}

function message(err: unknown): string {
  if (err instanceof TierflowError) return err.format().replace(/^\S*model\.onnx: /, "");
  return err instanceof Error ? `internal error: ${err.message}` : String(err);
}

/** Compare like numpy's assert_allclose; undefined when they agree, else why not. */
export function compareTensors(actual: Tensor, expected: Tensor): string | undefined {
  const show = (t: Tensor) => `${t.dtype}[${t.dims.join(", ")}]`;
  if (actual.dtype !== expected.dtype || actual.dims.length !== expected.dims.length ||
    actual.dims.some((d, i) => d !== expected.dims[i])) {
    return `got ${show(actual)}, expected ${show(expected)}`;
  }
  const float = isFloat(actual.dtype);
  let bad = 0, first = -1;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i]!, e = expected.data[i]!;
    let ok = a === e;
    if (!ok && float) {
      const x = a as number, y = e as number;
      ok = (Number.isNaN(x) && Number.isNaN(y)) || Math.abs(x - y) <= ATOL + RTOL * Math.abs(y);
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad === 0) return undefined;
  return `${bad} of ${expected.data.length} values differ; first at ${first}: got ${String(actual.data[first])}, expected ${String(expected.data[first])}`;
}

/** Shape inference must agree with the kernels: same dtype and rank, same dims where it knows them as numbers. */
function checkInferred(module: Module, outputs: Record<string, Tensor>): string | undefined {
  const graph = mainGraph(module);
  const types = inferGraph(graph, module.opsets[""] ?? 0).types;
  for (const name of graph.outputs) {
    const t = types.get(name), v = outputs[name];
    if (!t || !v) continue;
    const dimsAgree = !t.shape || (t.shape.length === v.dims.length && t.shape.every((d, i) => typeof d !== "number" || d === v.dims[i]));
    if (t.dtype !== v.dtype || !dimsAgree) {
      return `shape inference gives ${t.dtype}[${t.shape?.join(", ") ?? "*"}] for '${name}', the kernel ${v.dtype}[${v.dims.join(", ")}]`;
    }
  }
  return undefined;
}

function numberedFiles(dir: string, prefix: string): string[] {
  const files: string[] = [];
  for (let i = 0; existsSync(join(dir, `${prefix}_${i}.pb`)); i++) files.push(join(dir, `${prefix}_${i}.pb`));
  return files;
}

/**
 * The ops of a case, read straight from the file so they are known even when
 * import fails: its op type, and why it is unsupported (an op missing from the
 * op table, or one without a kernel yet), if it is.
 */
function opsOf(modelPath: string): { op: string; unsupported?: string } {
  const model = decodeModel(new Uint8Array(readFileSync(modelPath)), modelPath);
  const nodes = (model.graph?.node ?? []).map((n) => ({ domain: n.domain === "ai.onnx" ? "" : n.domain ?? "", op: n.opType ?? "" }));
  const label = (n: { domain: string; op: string }) => (n.domain === "" ? n.op : `${n.domain}.${n.op}`);
  const only = nodes[0];
  const op = nodes.length === 1 && only ? label(only) : MULTI_NODE;
  const unknown = [...new Set(nodes.filter((n) => !lookupOp(n.domain, n.op)).map(label))];
  if (unknown.length > 0) return { op, unsupported: `not in the op table: ${unknown.join(", ")}` };
  const noKernel = [...new Set(nodes.filter((n) => n.op !== "Constant" && !lookupKernel(n.domain, n.op)).map(label))];
  if (noKernel.length > 0) return { op, unsupported: `no kernel for ${noKernel.join(", ")}` };
  return { op };
}

/**
 * ONNX 1.12 stores bfloat16 test tensors as uint16 bit patterns (numpy has no
 * bfloat16); read those as the bf16 values they encode where bf16 is meant.
 */
function asBF16(t: Tensor, want: DType | undefined): Tensor {
  if (want !== "bf16" || t.dtype !== "u16") return t;
  return decodeBytes("bf16", t.dims, new Uint8Array(new Uint16Array(t.data as Uint16Array).buffer));
}

export async function runCase(caseDir: string): Promise<CaseResult> {
  const name = caseDir.split(/[\\/]/).pop()!;
  const modelPath = join(caseDir, "model.onnx");
  const { op, unsupported } = opsOf(modelPath);
  const result = (status: CaseStatus, reason?: string): CaseResult =>
    reason === undefined ? { case: name, op, status } : { case: name, op, status, reason };
  if (unsupported !== undefined) return result("unsupported", unsupported);

  let module: Module;
  try {
    module = (await loadModel(modelPath, { passes: "" })).module;
  } catch (err) {
    const why = message(err);
    return /opset \d+ is older than|control-flow op|sequences, maps and optionals/.test(why)
      ? result("unsupported", why) : result("failed", `load: ${why}`);
  }
  const graph = mainGraph(module);

  const sets = readdirSync(caseDir).filter((d) => d.startsWith("test_data_set_")).sort();
  for (const set of sets) {
    const dir = join(caseDir, set);
    try {
      const inputFiles = numberedFiles(dir, "input"), outputFiles = numberedFiles(dir, "output");
      if (inputFiles.length !== graph.inputs.length) {
        return result("failed", `${set} has ${inputFiles.length} inputs, the model ${graph.inputs.length}`);
      }
      const inputs = Object.create(null) as Record<string, Tensor>;
      graph.inputs.forEach((input, i) => (inputs[input] = asBF16(readTensorFile(inputFiles[i]!), graph.types.get(input)?.dtype)));
      const { outputs } = run(module, inputs, { modelDir: caseDir });
      for (const [i, f] of outputFiles.entries()) {
        const out = graph.outputs[i];
        if (out === undefined) return result("failed", `${set} expects ${outputFiles.length} outputs, the model has ${graph.outputs.length}`);
        const diff = compareTensors(outputs[out]!, asBF16(readTensorFile(f), outputs[out]!.dtype));
        if (diff) return result("failed", `${set} output '${out}': ${diff}`);
      }
      const inferred = checkInferred(module, outputs);
      if (inferred) return result("failed", inferred);
    } catch (err) {
      return result("failed", `${set}: ${message(err)}`);
    }
  }
  return result("passed");
}

export async function runConformance(root = NODE_TEST_DIR, filter?: RegExp): Promise<ConformanceReport> {
  const cases: CaseResult[] = [];
  for (const dir of readdirSync(root).sort()) {
    if (filter && !filter.test(dir)) continue;
    if (!existsSync(join(root, dir, "model.onnx"))) continue;
    cases.push(await runCase(join(root, dir)));
  }
  const totals = { passed: 0, failed: 0, unsupported: 0 };
  for (const c of cases) totals[c.status]++;
  return { cases, totals };
}

export function formatReport(report: ConformanceReport, perOp: boolean): string {
  const { totals, cases } = report;
  const lines = [`ONNX node conformance: ${cases.length} cases: passed ${totals.passed}, failed ${totals.failed}, unsupported ${totals.unsupported}`];
  const failed = cases.filter((c) => c.status === "failed");
  if (failed.length > 0) lines.push("failed:", ...failed.map((c) => `  ${c.case} (${c.op}): ${c.reason}`));
  if (perOp) {
    const byOp = new Map<string, { passed: number; failed: number; unsupported: number; reason?: string }>();
    for (const c of cases) {
      const row = byOp.get(c.op) ?? { passed: 0, failed: 0, unsupported: 0 };
      row[c.status]++;
      if (c.status === "unsupported" && row.reason === undefined && c.reason !== undefined) row.reason = c.reason;
      byOp.set(c.op, row);
    }
    const width = Math.max(...[...byOp.keys()].map((k) => k.length), 7);
    lines.push("per op type:", `  ${"op".padEnd(width)}  passed  failed  unsupported`);
    for (const [op, r] of [...byOp].sort(([a], [b]) => a.localeCompare(b))) {
      const why = r.unsupported > 0 && r.reason ? `  (${r.reason})` : "";
      lines.push(`  ${op.padEnd(width)}  ${String(r.passed).padStart(6)}  ${String(r.failed).padStart(6)}  ${String(r.unsupported).padStart(11)}${why}`);
    }
  }
  return lines.join("\n");
}

async function main(argv: readonly string[]): Promise<void> {
  const flag = (name: string) => argv.includes(name);
  const value = (name: string) => {
    const at = argv.indexOf(name);
    return at >= 0 ? argv[at + 1] : undefined;
  };
  const root = resolve(value("--data") ?? NODE_TEST_DIR);
  if (!existsSync(root)) {
    process.stderr.write(`no ONNX test data at ${root}: apt-get install libonnx-testdata, or pass --data DIR\n`);
    process.exitCode = 2;
    return;
  }
  const filter = value("--filter");
  const report = await runConformance(root, filter === undefined ? undefined : new RegExp(filter));
  process.stdout.write(flag("--json") ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report, flag("--report"))}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) await main(process.argv.slice(2));
