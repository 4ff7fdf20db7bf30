// CoE commands: `tierflow compile coe.json` (through compile.ts), `tierflow
// simulate OUT/`, `tierflow trace` and `tierflow run OUT/ --request` (through run.ts).

import { existsSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { Command } from "commander";
import type { DType } from "../../ir/dtype.js";
import { fail } from "../../ir/diagnostics.js";
import { compileCoe } from "../coe/compile-coe.js";
import { readManifest } from "../coe/manifest.js";
import { readCoePlan, writeCoe } from "../coe/write.js";
import { POLICIES, simulate } from "../coe/simulate.js";
import type { Policy, SimOptions, SimResult } from "../coe/simulate.js";
import { parseSweep, sweepExperts } from "../coe/sweep.js";
import type { SweepRow } from "../coe/sweep.js";
import { MAX_TRACE_REQUESTS, generateTrace, traceToJsonl } from "../coe/trace.js";
import type { TraceDistribution, TraceOptions, TraceRequest } from "../coe/trace.js";
import type { CoePlan } from "../coe/compile-coe.js";
import { readRequestTrace } from "../serving/trace-formats.js";
import { parseMapping, parseWindow, shapeTrace } from "../serving/trace-shape.js";
import { renderCoePage } from "../viz/coe-page.js";
import { renderServingPage } from "../viz/serving-page.js";
import { action } from "./run-command.js";
import { withProgress } from "./progress.js";
import { parsePlanDType, positiveInt } from "./options.js";
import { writeAtomically } from "../emit.js";
import { withKernelLooping } from "../cost/efficiency.js";
import { loadTarget } from "../../targets/target.js";

export interface ManifestFlags {
  target?: string;
  opt: 0 | 1 | 2;
  batch: number;
  seq: number;
  sockets?: number;
  dtype?: string;
  output: string;
  quiet?: boolean;
  viz?: boolean;
  kernelLooping?: boolean;
}

/** `tierflow compile coe.json`: a bar over the expert graphs on a terminal, then the report. */
export async function compileManifest(path: string, flags: ManifestFlags): Promise<void> {
  parsePlanDType(flags.dtype);
  const manifest = readManifest(path);
  const spec = flags.target ?? manifest.target;
  const target = flags.kernelLooping && spec !== undefined ? withKernelLooping(loadTarget(spec)) : spec;
  const report = await withProgress("compile", { quiet: flags.quiet }, async (progress) => {
    const result = await compileCoe(manifest, {
      ...(target !== undefined ? { target } : {}), opt: flags.opt, batch: flags.batch, seq: flags.seq,
      ...(flags.sockets !== undefined ? { sockets: flags.sockets } : {}), ...(flags.dtype ? { dtype: flags.dtype as DType } : {}), onStage: progress.stage,
    });
    progress.stage("write");
    return writeCoe(flags.output, result, flags.viz ?? false);
  });
  if (!flags.quiet) process.stdout.write(report);
}

interface SyntheticFlags {
  synthetic?: string;
  requests: string;
  rate: string;
  seed: string;
  promptTokens: string;
  outputTokens: string;
}

interface SimulateFlags extends SyntheticFlags {
  trace?: string;
  window?: string;
  rateScale?: string;
  mapExperts?: string;
  policy: string;
  sweepExperts?: string;
  json?: boolean;
  viz?: boolean;
  nodes?: string;
  keepAlive?: string;
  ttft?: string;
  tpot?: string;
  findNodes?: string | boolean;
  disaggregate?: string;
  kvBandwidth?: string;
}

/** "prefill=P,decode=D" in nodes. */
function parseNodeGroups(text: string): { prefillNodes: number; decodeNodes: number } {
  const m = /^prefill=(\d+),decode=(\d+)$/.exec(text.replace(/\s/g, ""));
  const [p, d] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!m || p < 1 || d < 1) fail(`--disaggregate '${text}': expected prefill=P,decode=D, nodes of each group (at least one each, e.g. prefill=1,decode=2)`);
  if (p + d > MAX_NODES) fail(`--disaggregate '${text}': at most ${MAX_NODES} nodes`);
  return { prefillNodes: p, decodeNodes: d };
}

/** The KV hand-over between nodes, when --kv-bandwidth is not given: one 800 Gb/s network link per node (an assumption). */
const DEFAULT_KV_GBPS = 100;

/** The serving options the flags give: nodes, keep-alive, latency targets. */
function simOptions(flags: SimulateFlags): SimOptions {
  if ((flags.ttft === undefined) !== (flags.tpot === undefined)) fail("--ttft and --tpot set the latency targets together: give both");
  if (flags.findNodes !== undefined && flags.ttft === undefined) fail("--find-nodes searches for the nodes meeting the latency targets: give --ttft and --tpot");
  if (flags.findNodes !== undefined && flags.nodes !== undefined) fail("--find-nodes chooses the number of nodes: leave out --nodes");
  if (flags.disaggregate !== undefined && (flags.nodes !== undefined || flags.findNodes !== undefined)) fail("--disaggregate gives the nodes of each group: leave out --nodes and --find-nodes");
  if (flags.kvBandwidth !== undefined && flags.disaggregate === undefined) fail("--kv-bandwidth prices the KV hand-over of --disaggregate: give --disaggregate prefill=P,decode=D");
  const nodes = flags.nodes !== undefined ? positiveInt(flags.nodes, "--nodes") : undefined;
  if (nodes !== undefined && nodes > MAX_NODES) fail(`--nodes ${flags.nodes}: at most ${MAX_NODES}`);
  return {
    ...(nodes !== undefined ? { nodes } : {}),
    ...(flags.keepAlive !== undefined ? { keepAliveSeconds: positiveNumber(flags.keepAlive, "--keep-alive") } : {}),
    ...(flags.ttft !== undefined ? { slo: { ttftSeconds: positiveNumber(flags.ttft, "--ttft"), tpotSeconds: positiveNumber(flags.tpot!, "--tpot") } } : {}),
    ...(flags.disaggregate !== undefined ? { disaggregate: { ...parseNodeGroups(flags.disaggregate), kvBandwidth: 1e9 * positiveNumber(flags.kvBandwidth ?? String(DEFAULT_KV_GBPS), "--kv-bandwidth") } } : {}),
  };
}

const MAX_NODES = 1024;

/** The fewest nodes (doubling, then bisection) whose simulation meets the targets for `fraction` of requests. */
function findNodes(run: (nodes: number) => { result: SimResult; tried: readonly SimResult[] }, fraction: number): { nodes: number; found: boolean; sim: { result: SimResult; tried: readonly SimResult[] } } {
  const ok = (s: { result: SimResult }) => (s.result.attainment ?? 0) >= fraction;
  let hi = 1, at = run(1);
  while (!ok(at) && hi < MAX_NODES) { hi = Math.min(MAX_NODES, hi * 2); at = run(hi); }
  if (!ok(at)) return { nodes: hi, found: false, sim: at };
  let lo = Math.floor(hi / 2); // lo fails (or is 0), hi meets
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const s = run(mid);
    if (ok(s)) { hi = mid; at = s; } else lo = mid;
  }
  return { nodes: hi, found: true, sim: at };
}

/** A trace file in any format, shaped as the flags say, over the plan's experts; and the line that says what was read. */
function readShapedTrace(plan: CoePlan, flags: SimulateFlags): { trace: TraceRequest[]; line: string } {
  const parsed = readRequestTrace(flags.trace!);
  const { requests, notes } = shapeTrace(parsed.requests, plan.experts.map((e) => e.name), {
    ...(flags.window !== undefined ? { window: parseWindow(flags.window) } : {}),
    ...(flags.rateScale !== undefined ? { rateScale: positiveNumber(flags.rateScale, "--rate-scale") } : {}),
    ...(flags.mapExperts !== undefined ? { mapping: parseMapping(flags.mapExperts, positiveInt(flags.seed, "--seed")) } : {}),
  });
  return { trace: requests, line: `trace ${basename(flags.trace!)} (${parsed.format}): ${[`${requests.length} requests`, ...parsed.notes, ...notes].join("; ")}` };
}

/** OUT/serving.html for this run, and OUT/index.html again with a link to it. */
function writeServingPages(out: string, plan: CoePlan, result: SimResult, tried: readonly SimResult[], traceLine: string): void {
  const plans = ["router/plan.json", ...plan.graphs.flatMap((g) => [`graphs/${g.id}/prefill.plan.json`, `graphs/${g.id}/decode.plan.json`])];
  writeFileTo(join(out, "serving.html"), renderServingPage(plan, result, tried, traceLine));
  writeFileTo(join(out, "index.html"), renderCoePage(plan, plans.filter((x) => existsSync(join(out, x))), { page: "serving.html", p99: result.latencyP99, policy: result.policy }));
}

function positiveNumber(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) fail(`${flag} '${text}' must be a positive number`);
  return n;
}

function distribution(text: string): TraceDistribution {
  if (text !== "uniform" && text !== "zipf" && text !== "bursty") fail(`'${text}': the synthetic traces are uniform, zipf and bursty`);
  return text;
}

/** The options of a synthetic trace, shared by `simulate` (its default trace) and `trace`; `what` prefixes their help. */
function syntheticTraceOptions(command: Command, what: string): Command {
  return command
    .option("--synthetic <kind>", `${what}uniform, zipf or bursty`, "zipf")
    .option("--requests <n>", `${what}requests`, "500")
    .option("--rate <r>", `${what}mean arrivals per second`, "2")
    .option("--seed <n>", `${what}seed`, "1")
    .option("--prompt-tokens <n>", `${what}prompt tokens`, "128")
    .option("--output-tokens <n>", `${what}output tokens`, "20");
}

function syntheticTrace(flags: SyntheticFlags): Omit<TraceOptions, "experts"> {
  const requests = positiveInt(flags.requests, "--requests");
  if (requests > MAX_TRACE_REQUESTS) fail(`--requests ${flags.requests}: at most ${MAX_TRACE_REQUESTS}`);
  return {
    requests, rate: positiveNumber(flags.rate, "--rate"), seed: positiveInt(flags.seed, "--seed"),
    distribution: distribution(flags.synthetic ?? "zipf"), promptTokens: positiveInt(flags.promptTokens, "--prompt-tokens"), outputTokens: positiveInt(flags.outputTokens, "--output-tokens"),
  };
}

export function formatSim(r: SimResult): string {
  const ms = (s: number) => `${(s * 1e3).toFixed(2)} ms`;
  return [
    `policy ${r.policy}: ${r.requests} requests in ${r.batches} batches over ${r.makespanSeconds.toFixed(3)} s${r.unservable ? " (UNSERVABLE: an expert does not fit in HBM)" : ""}${r.outOfMemory ? " (OUT OF MEMORY: experts come from storage)" : ""}`,
    `  latency mean ${ms(r.latencyMean)}  p50 ${ms(r.latencyP50)}  p99 ${ms(r.latencyP99)}   time to first token p50 ${ms(r.ttftP50)}  p99 ${ms(r.ttftP99)}`,
    `  ${r.tokensPerSecond.toFixed(1)} tokens/s   ${r.switches} switches, ${(r.bytesMoved / 1e9).toFixed(3)} GB moved into HBM   ${r.hbmSlots} experts fit in HBM${r.nodes > 1 ? " per node" : ""}, occupancy mean ${(r.hbmOccupancyMeanBytes / 1e9).toFixed(3)} GB, max ${(r.hbmOccupancyMaxBytes / 1e9).toFixed(3)} GB`,
    `  ${r.coldStarts} cold starts (requests that waited for their expert's copy), ${r.switchSeconds.toFixed(2)} s copying experts in` +
      `${r.nodes > 1 ? ` on ${r.nodes} nodes` : ""}${r.attainment !== undefined ? `; ${(100 * r.attainment).toFixed(1)}% of requests within the latency targets` : ""}`,
  ].join("\n");
}

export function formatSweep(rows: readonly SweepRow[]): string {
  const head = "experts  pinned  mean latency  p50 latency  p99 latency  p50 TTFT   tokens/s  switches  memory";
  return [head, ...rows.map(({ experts, pinned, result: r }) =>
    `${String(experts).padStart(7)}  ${String(pinned).padStart(6)}  ${(r.latencyMean * 1e3).toFixed(1).padStart(9)} ms  ${(r.latencyP50 * 1e3).toFixed(1).padStart(8)} ms  ${(r.latencyP99 * 1e3).toFixed(1).padStart(8)} ms  ${(r.ttftP50 * 1e3).toFixed(1).padStart(6)} ms  ${r.tokensPerSecond.toFixed(1).padStart(8)}  ${String(r.switches).padStart(8)}  ${r.unservable ? "does not fit" : r.outOfMemory ? "OUT OF MEMORY (storage)" : "ok"}`)].join("\n");
}

export function registerCoe(program: Command): void {
  syntheticTraceOptions(program
    .command("simulate")
    .description("simulate serving a compiled CoE (OUT/ of `tierflow compile coe.json`): latency, time to first token, tokens/s, switches, HBM occupancy")
    .argument("<out>", "the folder with coe-plan.json")
    .option("--trace <file>", "requests: tierflow or Mooncake JSON Lines, or a Vidur, Azure LLM or BurstGPT CSV (docs/COE.md); without it a synthetic trace")
    .option("--window <start:end>", "with --trace: only requests arriving in these seconds of the trace")
    .option("--rate-scale <k>", "with --trace: arrivals k times as fast")
    .option("--map-experts <how>", "with --trace: model (the trace's names), uniform, zipf or zipf:S (seeded by --seed); default model where every request names one, else zipf"), "synthetic trace: ")
    .option("--policy <p>", `residency policy: ${POLICIES.join(", ")} or auto (the best p99 of them)`, "auto")
    .option("--sweep-experts <range>", "latency and throughput against the number of experts, e.g. 1..1000")
    .option("--json", "print the results as JSON (compiler/cli/schemas/simulate.schema.json) instead of text")
    .option("--nodes <n>", "nodes serving the CoE, each a copy of the compiled node with its own HBM and DDR (experts split across them by their requests)")
    .option("--keep-alive <seconds>", "serverless: an expert idle this long leaves HBM")
    .option("--disaggregate <groups>", "prefill=P,decode=D: prefill on P nodes and decode on D, each holding the CoE as compiled, the KV cache handed over")
    .option("--kv-bandwidth <GB/s>", `with --disaggregate: bandwidth of the KV hand-over between nodes (default ${DEFAULT_KV_GBPS}, one 800 Gb/s link: an assumption)`)
    .option("--ttft <seconds>", "latency target for the time to first token (with --tpot): print the share of requests meeting both")
    .option("--tpot <seconds>", "latency target for the time per output token (with --ttft)")
    .option("--find-nodes [fraction]", "the fewest nodes meeting --ttft and --tpot for this fraction of requests (default 0.9)")
    .option("--viz", "also write OUT/serving.html (latency, HBM occupancy and switches over time, traffic per expert) and link it from OUT/index.html")
    .action(action(async (out: string, flags: SimulateFlags) => {
      const plan = readCoePlan(out);
      if (flags.policy !== "auto" && !(POLICIES as readonly string[]).includes(flags.policy)) fail(`--policy '${flags.policy}': use ${POLICIES.join(", ")} or auto`);
      const policy = flags.policy as Policy;
      const synth = syntheticTrace(flags);
      for (const [flag, given] of [["--window", flags.window], ["--rate-scale", flags.rateScale], ["--map-experts", flags.mapExperts]] as const) {
        if (given !== undefined && flags.trace === undefined) fail(`${flag} shapes a trace file: give --trace FILE`);
      }
      if (flags.viz && flags.sweepExperts !== undefined) fail("--viz draws one simulation: leave out --sweep-experts");
      const options = simOptions(flags);
      if (flags.sweepExperts !== undefined && Object.keys(options).length > 0) fail("--sweep-experts re-plans one node: leave out --nodes, --keep-alive, --ttft, --tpot, --find-nodes and --disaggregate");
      const fraction = flags.findNodes === undefined ? undefined : flags.findNodes === true ? 0.9 : Number(flags.findNodes);
      if (fraction !== undefined && !(fraction > 0 && fraction <= 1)) fail(`--find-nodes ${String(flags.findNodes)}: give the fraction of requests to meet, in (0, 1]`);
      let search: { nodes: number; found: boolean } | undefined;
      // A bar over the sweep's points or auto's policies on a terminal, erased before the table.
      const show = { json: flags.json };
      if (flags.sweepExperts !== undefined) {
        const counts = parseSweep(flags.sweepExperts);
        const rows = await withProgress("simulate", show, (progress) => {
          let done = 0;
          const step = () => ({ done, total: counts.length, unit: "points" });
          const swept = sweepExperts(plan, counts, { ...synth, policy, onPoint: (n) => { progress.stage(`${n} experts`, step()); done++; } });
          progress.stage("", step());
          return swept;
        });
        if (flags.json) process.stdout.write(`${JSON.stringify({ plan: out, target: plan.target, sweep: rows.map((r) => ({ experts: r.experts, pinned: r.pinned, result: r.result })) }, null, 2)}\n`);
        else process.stdout.write(`${formatSweep(rows)}\n`);
        return;
      }
      let traceLine = `synthetic ${synth.distribution} trace: ${synth.requests} requests at ${synth.rate} per second (seed ${synth.seed})`;
      const { result, tried } = await withProgress("simulate", show, async (progress) => {
        progress.stage(flags.trace !== undefined ? "read the trace" : "generate the trace");
        let trace: TraceRequest[];
        if (flags.trace !== undefined) {
          const read = readShapedTrace(plan, flags);
          trace = read.trace;
          traceLine = read.line;
        } else {
          trace = generateTrace({ experts: plan.experts.map((e) => e.name), ...synth });
        }
        if (trace.some((r) => r.expert === undefined)) {
          progress.stage("route the requests");
          const { routeTrace } = await import("../coe/run-coe.js");
          trace = await routeTrace(plan, trace);
        }
        progress.stage(`policy ${policy}`);
        if (fraction === undefined) return simulate(plan, trace, policy, progress.stage, options);
        const found = findNodes((nodes) => { progress.stage(`${nodes} node${nodes === 1 ? "" : "s"}`); return simulate(plan, trace, policy, undefined, { ...options, nodes }); }, fraction);
        search = found;
        return found.sim;
      });
      if (flags.viz) writeServingPages(out, plan, result, tried, traceLine);
      if (flags.json) {
        const found = search ? { findNodes: { fraction: fraction!, nodes: search.nodes, found: search.found } } : {};
        process.stdout.write(`${JSON.stringify({ plan: out, target: plan.target, trace: traceLine, ...found, ...(flags.viz ? { page: join(out, "serving.html") } : {}), result, tried }, null, 2)}\n`);
        return;
      }
      if (flags.trace !== undefined) process.stdout.write(`${traceLine}\n`);
      for (const t of tried) if (t !== result) process.stdout.write(`${formatSim(t)}\n`);
      if (tried.length > 0) process.stdout.write(`auto picks ${result.policy} (lowest p99 latency):\n`);
      process.stdout.write(`${formatSim(result)}\n`);
      // The number that matters, last: the latency a user sees under the chosen policy, and what switching costs it.
      const worst = tried.length > 1 ? tried.reduce((a, b) => (b.latencyP99 > a.latencyP99 ? b : a)) : undefined;
      if (search) {
        const what = `${(100 * fraction!).toFixed(0)}% of requests within TTFT ${options.slo!.ttftSeconds} s and TPOT ${options.slo!.tpotSeconds} s`;
        process.stdout.write(search.found ? `nodes needed for ${what}: ${search.nodes} (${search.nodes * plan.node.sockets} sockets of ${plan.node.target})\n`
          : `${MAX_NODES} nodes do not serve ${what}: ${(100 * (result.attainment ?? 0)).toFixed(1)}% meet them\n`);
      }
      process.stdout.write(`p99 latency ${(result.latencyP99 * 1e3).toFixed(2)} ms with ${result.policy}` +
        `${worst && worst !== result ? ` (${worst.policy}: ${(worst.latencyP99 * 1e3).toFixed(2)} ms)` : ""}, ${result.switches} switches for ${result.requests} requests` +
        `${result.nodes > 1 ? ` on ${options.disaggregate ? `${options.disaggregate.prefillNodes} prefill + ${options.disaggregate.decodeNodes} decode` : result.nodes} nodes` : ""}${result.attainment !== undefined ? `, ${(100 * result.attainment).toFixed(1)}% within the targets` : ""}\n`);
      if (flags.viz) process.stdout.write(`wrote ${join(out, "serving.html")}\n`);
    }));
  syntheticTraceOptions(program
    .command("trace")
    .description("write a seeded synthetic request trace (JSON Lines) over a compiled CoE's experts")
    .argument("<out>", "the folder with coe-plan.json")
    .requiredOption("-o, --output <file>", "the trace file"), "")
    .action(action((out: string, flags: SyntheticFlags & { output: string }) => {
      const plan = readCoePlan(out);
      const trace = generateTrace({ experts: plan.experts.map((e) => e.name), ...syntheticTrace(flags) });
      writeFileTo(flags.output, traceToJsonl(trace));
    }));
}

/** Write a file the user named, atomically (temp file + rename in its folder). */
function writeFileTo(path: string, text: string): void {
  writeAtomically(dirname(path) || ".", basename(path), text);
}

/** A folder holding coe-plan.json (the output of compiling a manifest). */
export function isCoeDir(path: string): boolean {
  return existsSync(join(path, "coe-plan.json")) && statSync(path).isDirectory();
}

export async function runCoeCommand(out: string, flags: { request: string[]; tokens: string; expert?: string; manifest?: string }): Promise<void> {
  if (flags.request.length === 0) fail("give each request's prompt token ids with --request 1,2,3");
  const tokens = positiveInt(flags.tokens, "--tokens");
  const requests = flags.request.map((text) => {
    if (!/^\d+(,\d+)*$/.test(text.replace(/\s+/g, ""))) fail(`--request '${text}': give token ids separated by commas`);
    return text.replace(/\s+/g, "").split(",").map(Number);
  });
  const { CoeRunner } = await import("../coe/run-coe.js");
  const runner = CoeRunner.open(readCoePlan(out), flags.manifest);
  for (const prompt of requests) {
    const r = await runner.run(prompt, tokens, flags.expert);
    const logits = r.routerLogits.length > 0 ? `  router logits [${r.routerLogits.map((v) => v.toFixed(4)).join(", ")}]` : "";
    process.stdout.write(`request [${prompt.join(", ")}] -> ${r.expert}: [${r.ids.slice(prompt.length).join(", ")}]${logits}\n`);
  }
}
