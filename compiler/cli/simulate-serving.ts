// `tierflow simulate-serving MODEL --target T --disaggregate prefill=P,decode=D`:
// compile the plans a colocated and a disaggregated deployment need, replay a
// seeded Poisson stream of requests on both and print their goodput.

import type { Command } from "commander";
import { fail } from "../../ir/diagnostics.js";
import type { DType } from "../../ir/dtype.js";
import { loadTarget } from "../../targets/target.js";
import { loadFused } from "../compile.js";
import { servingSystems } from "../node/serving.js";
import type { ServingSystems } from "../node/serving.js";
import type { Workload } from "../node/serving-sim.js";
import { percentile, simulateServing } from "../node/serving-sim.js";
import type { ServingResult } from "../node/serving-sim.js";
import { action } from "./run-command.js";
import { basename } from "node:path";
import type { TraceRequest } from "../coe/trace.js";
import { readRequestTrace } from "../serving/trace-formats.js";
import { parseWindow, shapeTrace } from "../serving/trace-shape.js";
import { withProgress } from "./progress.js";
import { parseOptLevel, parsePlanDType } from "./options.js";

type TraceArrival = { readonly arrival: number; readonly prompt: number; readonly output: number };

interface ServingFlags {
  target: string;
  disaggregate: string;
  promptTokens?: string;
  outputTokens?: string;
  rates?: string;
  ttft: string;
  tpot: string;
  requests?: string;
  seed?: string;
  trace?: string;
  window?: string;
  maxBatch: string;
  dtype?: string;
  O: string;
  quiet?: boolean;
}

function positive(text: string, flag: string, integer: boolean): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isSafeInteger(n))) fail(`${flag} '${text}' must be a positive ${integer ? "integer" : "number"}`);
  return n;
}

/** Requests per second where the disaggregated prefill group is busy 25% ... 150% of the time. */
function defaultRates(systems: ServingSystems, promptTokens: number): number[] {
  const d = systems.disaggregated;
  if (d.kind !== "disaggregated") return [1];
  const capacity = d.prefillReplicas / d.prefill.prefillSeconds(promptTokens);
  return [0.25, 0.5, 0.75, 1, 1.25, 1.5].map((f) => Number((f * capacity).toPrecision(3)));
}

export interface ServingRow {
  readonly rate: number;
  readonly colocated: ReturnType<typeof simulateServing>;
  readonly disaggregated: ReturnType<typeof simulateServing>;
}

export function servingTable(rows: readonly ServingRow[], w: Omit<Workload, "rate">, traced = false): string[] {
  const ms = (s: number) => (Number.isFinite(s) ? (s * 1e3).toFixed(1) : "-");
  const cell = (r: ReturnType<typeof simulateServing>) =>
    `${r.goodput.toFixed(2).padStart(8)} ${(100 * r.attainment).toFixed(0).padStart(4)}% ${ms(percentile(r.ttft, 90)).padStart(9)} ${ms(percentile(r.tpot, 90)).padStart(8)}`;
  const lines = [
    `targets: TTFT <= ${(w.ttftSeconds * 1e3).toFixed(1)} ms, TPOT <= ${(w.tpotSeconds * 1e3).toFixed(2)} ms; ${w.requests} requests, prompts ~${w.promptTokens} tokens, outputs ~${w.outputTokens} tokens, ` +
      (traced ? "the trace's arrivals scaled to each rate" : `seed ${w.seed}`),
    `  rate req/s |        colocated: goodput  met  p90 TTFT ms p90 TPOT ms |    disaggregated: goodput  met  p90 TTFT ms p90 TPOT ms`,
  ];
  for (const r of rows) lines.push(`  ${r.rate.toFixed(2).padStart(10)} |                  ${cell(r.colocated)}    |                      ${cell(r.disaggregated)}`);
  const best = (pick: (r: ServingRow) => ReturnType<typeof simulateServing>) => {
    const ok = rows.filter((r) => pick(r).attainment >= 0.9).map((r) => r.rate);
    return ok.length > 0 ? `${Math.max(...ok).toFixed(2)} req/s` : "none of the rates tried";
  };
  lines.push(`highest rate with 90% of requests meeting both targets (DistServe's goodput): colocated ${best((r) => r.colocated)}, disaggregated ${best((r) => r.disaggregated)}`);
  return lines;
}

/** A trace file's requests in the window, with the mean rate and lengths the plans are compiled for; and the line that says what was read. */
function readServingTrace(file: string, window: string | undefined): { requests: TraceArrival[]; rate: number; prompt: number; output: number; line: string } {
  const parsed = readRequestTrace(file);
  // One model is served: the trace's model names do not pick anything, and the line says so.
  const named = parsed.requests.some((r) => r.expert !== undefined);
  const { requests, notes } = shapeTrace(parsed.requests.map(({ expert: _e, second: _s, ...r }) => r), ["model"], {
    ...(window !== undefined ? { window: parseWindow(window) } : {}), mapping: { kind: "uniform", seed: 0 },
  });
  const span = requests.length > 1 ? requests.at(-1)!.arrival - requests[0]!.arrival : 0;
  if (span <= 0) fail(`the trace's ${requests.length} request${requests.length === 1 ? "" : "s"} span no time: a rate needs two arrivals apart`, { file });
  const mean = (f: (r: TraceRequest) => number) => Math.max(1, Math.round(requests.reduce((s, r) => s + f(r), 0) / requests.length));
  const shown = [...parsed.notes, ...notes.filter((n) => !n.startsWith("requests mapped")), ...(named ? ["its model names are not used: one model is served"] : [])];
  return {
    requests: requests.map((r) => ({ arrival: r.arrival, prompt: r.promptTokens, output: r.outputTokens })),
    rate: (requests.length - 1) / span, prompt: mean((r) => r.promptTokens), output: mean((r) => r.outputTokens),
    line: `trace ${basename(file)} (${parsed.format}): ${[`${requests.length} requests at ${((requests.length - 1) / span).toPrecision(3)} per second`, ...shown].join("; ")}`,
  };
}

/** The trace's arrivals scaled to a mean of `rate` per second. */
const atRate = (trace: readonly TraceArrival[], traceRate: number, rate: number): TraceArrival[] =>
  trace.map((r) => ({ ...r, arrival: (r.arrival * traceRate) / rate }));

export function registerSimulateServing(program: Command): void {
  program
    .command("simulate-serving")
    .description("compare colocated and disaggregated prefill/decode on a node target by goodput, with a seeded request-arrival simulation")
    .argument("<model>", "an ONNX file (.onnx) or graph-level IR text (.tfg)")
    .requiredOption("-t, --target <target>", "a node target (sn40l-node, dgx-h100, ...) or a target JSON file")
    .requiredOption("--disaggregate <groups>", "prefill=P,decode=D: sockets of each group")
    .option("--trace <file>", "requests to replay in place of the synthetic stream, scaled to each rate: tierflow or Mooncake JSON Lines, or a Vidur, Azure LLM or BurstGPT CSV (docs/COE.md)")
    .option("--window <start:end>", "with --trace: only requests arriving in these seconds of the trace")
    .option("--prompt-tokens <n>", "mean prompt length in tokens (lengths vary from 0.5x to 1.5x; default 512); with --trace, the trace's")
    .option("--output-tokens <n>", "mean output length in tokens (lengths vary from 0.5x to 1.5x; default 128); with --trace, the trace's")
    .option("--rates <list>", "request rates to try, requests per second (default: around the prefill group's capacity)")
    .option("--ttft <seconds>", "time-to-first-token target", "0.5")
    .option("--tpot <seconds>", "time-per-output-token target", "0.01")
    .option("--requests <n>", "requests per simulated run (default 200); with --trace, the trace's")
    .option("--seed <n>", "seed of the arrival process (default 1)")
    .option("--max-batch <n>", "largest decode batch of a replica", "64")
    .option("--dtype <dtype>", "plan floating-point data in this dtype", "bf16")
    .option("-O <level>", "optimisation level", "2")
    .option("-q, --quiet", "do not print progress")
    .option("--json", "print the results as JSON (compiler/cli/schemas/simulate-serving.schema.json)")
    .action(action(async (modelPath: string, flags: ServingFlags & { json?: boolean }) => {
      const opt = parseOptLevel(flags.O);
      parsePlanDType(flags.dtype);
      const target = loadTarget(flags.target);
      if (!target.node) fail(`simulate-serving needs a node target (one with several sockets); ${target.name} is one socket: try sn40l-node or dgx-h100`);
      // A trace gives the arrivals and lengths: the flags that would set them are refused beside it.
      if (flags.trace !== undefined) {
        for (const [flag, given] of [["--prompt-tokens", flags.promptTokens], ["--output-tokens", flags.outputTokens], ["--requests", flags.requests], ["--seed", flags.seed]] as const) {
          if (given !== undefined) fail(`${flag} sets the synthetic stream; --trace gives the requests`);
        }
      } else if (flags.window !== undefined) {
        fail("--window shapes a trace file: give --trace FILE");
      }
      const trace = flags.trace !== undefined ? readServingTrace(flags.trace, flags.window) : undefined;
      const workload = {
        requests: trace ? trace.requests.length : positive(flags.requests ?? "200", "--requests", true),
        promptTokens: trace ? trace.prompt : positive(flags.promptTokens ?? "512", "--prompt-tokens", true),
        outputTokens: trace ? trace.output : positive(flags.outputTokens ?? "128", "--output-tokens", true), seed: positive(flags.seed ?? "1", "--seed", true),
        ttftSeconds: positive(flags.ttft, "--ttft", false), tpotSeconds: positive(flags.tpot, "--tpot", false),
      };
      if (workload.requests > 100_000) fail(`--requests '${flags.requests}': at most 100000`);
      const rates = flags.rates?.split(",").map((r) => positive(r.trim(), "--rates", false));
      const maxBatch = positive(flags.maxBatch, "--max-batch", true);
      // Progress on a terminal only (progress.ts), erased before the table.
      const { systems, rows } = await withProgress("simulate-serving", { quiet: flags.quiet, json: flags.json }, async (progress) => {
        const { graph } = await loadFused(modelPath, { opt, onStage: progress.stage });
        const systems = servingSystems(graph, target, {
          disaggregate: flags.disaggregate, promptTokens: workload.promptTokens, outputTokens: workload.outputTokens,
          maxBatch, dtype: flags.dtype as DType | undefined, opt,
        }, progress.stage);
        const tried = rates ?? defaultRates(systems, workload.promptTokens);
        const rows = tried.map((rate, done) => {
          progress.stage(`${rate} requests/s`, { done, total: tried.length, unit: "rates" });
          const replay = trace ? atRate(trace.requests, trace.rate, rate) : undefined;
          return { rate, colocated: simulateServing(systems.colocated, { ...workload, rate }, replay), disaggregated: simulateServing(systems.disaggregated, { ...workload, rate }, replay) };
        });
        return { systems, rows };
      });
      if (flags.json) {
        const stats = (r: ServingResult) => ({
          goodput: r.goodput, attainment: r.attainment, ttftP50: percentile(r.ttft, 50), ttftP90: percentile(r.ttft, 90), ttftP99: percentile(r.ttft, 99),
          tpotP50: percentile(r.tpot, 50), tpotP90: percentile(r.tpot, 90), tpotP99: percentile(r.tpot, 99),
        });
        const result = { model: modelPath, target: target.name, workload, ...(trace ? { trace: flags.trace } : {}), rates: rows.map((r) => ({ rate: r.rate, colocated: stats(r.colocated), disaggregated: stats(r.disaggregated) })) };
        process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
        return;
      }
      process.stdout.write(`${[`serving ${modelPath} on ${target.name}`, ...(trace ? [trace.line] : []), ...systems.summary, ...servingTable(rows, workload, trace !== undefined)].join("\n")}\n`);
    }));
}
