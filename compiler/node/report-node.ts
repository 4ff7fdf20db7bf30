// Report lines for node-level plans (layout, stages, collectives' share,
// node prediction, disaggregation, the `--parallel auto` table) and for the
// KV cache of any plan (what it takes per token, where it lives, the largest
// batch x context that fits in HBM).

import { cachesOf } from "../../ir/dataflow/dataflow.js";
import type { Plan } from "../../ir/placement/plan.js";
import type { Target } from "../../targets/target.js";
import { formatBytes } from "../format.js";
import { formatSeconds } from "../format.js";
import { floorBytes, workWords } from "../work-words.js";
import { kvSummary } from "./kv-cache.js";
import type { LayoutTrial } from "./compile-node.js";
import { formatLayout } from "./layout.js";

function ranges(sockets: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < sockets.length; i++) {
    let j = i;
    while (j + 1 < sockets.length && sockets[j + 1] === sockets[j]! + 1) j++;
    out.push(i === j ? `${sockets[i]}` : `${sockets[i]}-${sockets[j]}`);
    i = j;
  }
  return out.join(",");
}

const pct = (part: number, whole: number) => (whole > 0 ? `${((100 * part) / whole).toFixed(1)}%` : "-");

export function kvReportLines(plan: Plan, target: Target): string[] {
  const caches = plan.dataflow.tensors.filter((t) => t.role === "kv-cache");
  if (caches.length === 0) return [];
  const kv = kvSummary(plan.dataflow, plan.allocations, plan.occupancy.hbm, target.hbm.bytes);
  const where = plan.parallel ? " per socket" : "";
  // The model's own cache inputs and outputs (a with-past export) hold keys and values apart, like the attention layers' own caches.
  const own = cachesOf(plan.dataflow);
  const layers = own.length > 0 ? own.length / 2 : caches.filter((t) => t.name.endsWith("/k_cache")).length;
  const whose = own.length > 0 ? "the model's own cache inputs and outputs, appended in place" : "kept by the attention layers";
  const lines = [`KV cache: ${formatBytes(kv.bytesPerToken)} per token of a request${where} (${layers} layers, ${whose}), ` +
    `${formatBytes(kv.hbmBytes)} in HBM, ${formatBytes(kv.ddrBytes)} spilled to DDR`];
  const ctx = plan.options.phase === "decode" ? plan.options.seq + 1 : plan.options.seq;
  const tokens = kv.maxTokensInHbm;
  lines.push(`  largest batch x context in HBM${where}: ${tokens} tokens (batch ${Math.floor(tokens / ctx)} at context ${ctx}; context ${Math.floor(tokens / plan.options.batch)} at batch ${plan.options.batch})`);
  return lines;
}

export function nodeReportLines(plan: Plan, target: Target, search?: readonly LayoutTrial[]): string[] {
  const p = plan.parallel;
  if (!p) return [];
  const l = p.layout, pr = p.prediction;
  const group = Math.max(l.tp, l.ep);
  const lines = ["", `node: ${target.name}, ${p.sockets} sockets; layout ${formatLayout(l)} (${l.dp} replica${l.dp > 1 ? "s" : ""} of ${group * l.pp} sockets; groups of ${group})`];
  p.stages.forEach((s, i) => {
    lines.push(`  stage ${i}: sockets ${ranges(s.sockets)}, sections s${s.firstSection}..s${s.lastSection}, ${formatSeconds(s.seconds)} a micro-batch, HBM peak ${formatBytes(s.occupancy.hbm)}`);
  });
  const kinds = new Map<string, number>();
  for (const c of p.collectiveKernels) kinds.set(c.kind, (kinds.get(c.kind) ?? 0) + 1);
  const how = p.collectives === "streamed" ? "streamed on chip: transfers overlap compute, the steps' latency adds" : "each its own kernel (NCCL)";
  lines.push(`  collectives: ${p.collectiveKernels.length} (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ") || "none"}), ${how}; ` +
    `with ${p.sends.length} stage-to-stage sends they add ${formatSeconds(pr.collectiveSeconds)}, ${pct(pr.collectiveSeconds, pr.latencySeconds)} of a micro-batch's ${formatSeconds(pr.latencySeconds)}`);
  if (l.pp > 1) lines.push(`  pipeline: ${l.microBatches} micro-batch${l.microBatches > 1 ? "es" : ""} over ${l.pp} stages, bubble ${pct(pr.bubbleFraction, 1)}`);
  const words = workWords(plan);
  const unit = plan.options.phase === "decode" ? "step (one token per request)" : words.tokens ? "step (every prompt)" : "step (the batch)";
  lines.push(`  per ${unit}: ${formatSeconds(pr.stepSeconds)}; ${pr.tokensPerSecondPerUser.toFixed(1)} ${words.items}/s per user, ${pr.tokensPerSecond.toFixed(1)} ${words.items}/s for the node`);
  lines.push(`  floor over a replica's ${group * l.pp} sockets: ${formatSeconds(pr.floorSeconds)} (${plan.prediction.floorBound === "compute" ? "all FLOPs at peak" : `${floorBytes(plan)} once at their HBM bandwidth`}), ratio ${plan.prediction.ratioToFloor.toFixed(2)}x`);
  lines.push(`  loading weights onto every socket: ${formatSeconds(pr.loadSeconds)} (once)`);
  const d = p.disaggregation;
  if (d) {
    lines.push(`  disaggregated: prefill on sockets ${ranges(d.prefillSockets)} (${d.prefillLayout}), ${formatSeconds(d.prefillSeconds)} a prompt; ` +
      `decode on sockets ${ranges(d.decodeSockets)} (${d.decodeLayout}), ${formatSeconds(d.decodeSeconds)} a step; ` +
      `KV cache of a request ${formatBytes(d.kvBytesPerRequest)}, handed over in ${formatSeconds(d.kvTransferSeconds)}`);
  }
  if (search && search.length > 0) lines.push("", ...searchTable(search));
  return lines;
}

/** The layouts `--parallel auto` tried, best first. */
export function searchTable(search: readonly LayoutTrial[]): string[] {
  const rows = [["", "layout", "step", "tokens/s/user", "tokens/s (node)", ""]];
  for (const t of search) {
    rows.push([t.chosen ? "*" : "", formatLayout(t.layout), t.problem ? "-" : formatSeconds(t.stepSeconds),
      t.problem ? "-" : t.tokensPerSecondPerUser.toFixed(1), t.problem ? "-" : t.tokensPerSecond.toFixed(1), t.problem ? `does not fit: ${t.problem}` : ""]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return ["layouts tried (--parallel auto; * chosen: lowest step time, then highest node throughput):",
    ...rows.map((r) => `  ${r.map((c, i) => (i >= 2 && i <= 4 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd()}`)];
}
