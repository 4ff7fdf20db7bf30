// The `parallel` block of the placement text: a node-level plan's layout,
// stages, shards, collectives, stage-to-stage sends, node prediction and
// disaggregation, printed and read back through one attribute table per
// statement (lower-text/attrs.ts), so print and parse cannot disagree.
//
//   parallel {tp = 8, pp = 1, ep = 1, dp = 1, micro_batches = 1, sockets = 8, collectives = "streamed"} {
//     stage @p0 {sockets = [0, 1, 2, 3, 4, 5, 6, 7], sections = [0, 2], seconds = 0.001, sram = 1, hbm = 2, ddr = 0}
//     shard %w {axis = 1, parts = 8}
//     collective @c0 {kind = "all-reduce", bytes = 8192, sockets = 8, seconds = 2.1e-6}
//     send %h {from_stage = 0, to_stage = 1, bytes = 8192, before_section = 3, seconds = 1.1e-6}
//     node_prediction {step_seconds = ..., ...}
//   }

import type { IToken } from "chevrotain";
import { symbolName, valueName } from "../graph/text/format.js";
import { formatAttrs, int, listOf, num, oneOf, readAttrs, statementLine, str } from "../lower-text/attrs.js";
import type { Schema } from "../lower-text/attrs.js";
import type { Statement } from "../lower-text/statements.js";
import { groupStatements, leaf, uniquelyNamed } from "../lower-text/statements.js";
import { errorAt } from "../graph/text/cst.js";
import type { CollectiveKernel, CollectiveKind, ParallelPlan, ParallelStage, StageSend, TensorShard } from "./plan.js";

const KINDS: Readonly<Record<CollectiveKind, true>> = { "all-reduce": true, "reduce-scatter": true, "all-gather": true, "all-to-all": true, send: true };

const PARALLEL_ATTRS = {
  tp: int, pp: int, ep: int, dp: int, micro_batches: int, sockets: int,
  collectives: oneOf<ParallelPlan["collectives"]>("collective style", ["streamed", "kernel"]),
} satisfies Schema;
const STAGE_ATTRS = { sockets: listOf(int), sections: listOf(int, 2), seconds: num, sram: int, hbm: int, ddr: int } satisfies Schema;
const SHARD_ATTRS = { axis: int, parts: int } satisfies Schema;
const COLLECTIVE_ATTRS = { kind: oneOf("collective", Object.keys(KINDS) as CollectiveKind[]), bytes: num, sockets: int, seconds: num } satisfies Schema;
const SEND_ATTRS = { from_stage: int, to_stage: int, bytes: num, before_section: int, seconds: num } satisfies Schema;
const PREDICTION_ATTRS = {
  step_seconds: num, latency_seconds: num, tokens_per_second_per_user: num, tokens_per_second: num,
  floor_seconds: num, collective_seconds: num, bubble_fraction: num, load_seconds: num,
} satisfies Schema;
const DISAGGREGATION_ATTRS = {
  prefill_sockets: listOf(int), prefill_layout: str, prefill_seconds: num,
  decode_sockets: listOf(int), decode_layout: str, decode_seconds: num,
  kv_bytes_per_request: num, kv_transfer_seconds: num,
} satisfies Schema;

export function parallelLines(p: ParallelPlan, indent: string): string[] {
  const l = p.layout, pr = p.prediction, d = p.disaggregation;
  const head = statementLine("parallel", [], formatAttrs(PARALLEL_ATTRS, {
    tp: l.tp, pp: l.pp, ep: l.ep, dp: l.dp, micro_batches: l.microBatches, sockets: p.sockets, collectives: p.collectives,
  }, "parallel"));
  const body = [
    ...p.stages.map((s, i) => statementLine("stage", [symbolName(`p${i}`)], formatAttrs(STAGE_ATTRS, {
      sockets: [...s.sockets], sections: [s.firstSection, s.lastSection], seconds: s.seconds, ...s.occupancy,
    }, `stage @p${i}`))),
    ...p.shards.map((s) => statementLine("shard", [valueName(s.tensor)], formatAttrs(SHARD_ATTRS, { axis: s.axis, parts: s.parts }, `shard of ${valueName(s.tensor)}`))),
    ...p.collectiveKernels.map((c) => statementLine("collective", [symbolName(c.kernel)], formatAttrs(COLLECTIVE_ATTRS, {
      kind: c.kind, bytes: c.bytes, sockets: c.sockets, seconds: c.seconds,
    }, `collective ${symbolName(c.kernel)}`))),
    ...p.sends.map((s) => statementLine("send", [valueName(s.tensor)], formatAttrs(SEND_ATTRS, {
      from_stage: s.fromStage, to_stage: s.toStage, bytes: s.bytes, before_section: s.beforeSection, seconds: s.seconds,
    }, `send of ${valueName(s.tensor)}`))),
    statementLine("node_prediction", [], formatAttrs(PREDICTION_ATTRS, {
      step_seconds: pr.stepSeconds, latency_seconds: pr.latencySeconds, tokens_per_second_per_user: pr.tokensPerSecondPerUser,
      tokens_per_second: pr.tokensPerSecond, floor_seconds: pr.floorSeconds, collective_seconds: pr.collectiveSeconds,
      bubble_fraction: pr.bubbleFraction, load_seconds: pr.loadSeconds,
    }, "node_prediction")),
    ...(d ? [statementLine("disaggregation", [], formatAttrs(DISAGGREGATION_ATTRS, {
      prefill_sockets: [...d.prefillSockets], prefill_layout: d.prefillLayout, prefill_seconds: d.prefillSeconds,
      decode_sockets: [...d.decodeSockets], decode_layout: d.decodeLayout, decode_seconds: d.decodeSeconds,
      kv_bytes_per_request: d.kvBytesPerRequest, kv_transfer_seconds: d.kvTransferSeconds,
    }, "disaggregation"))] : []),
  ];
  return [`${head} {`, ...body.map((x) => indent + x), "}"];
}

export function buildParallel(statement: Statement): ParallelPlan {
  statement.head.end();
  const a = readAttrs(PARALLEL_ATTRS, statement, "parallel");
  const parts = groupStatements(statement, "parallel", ["node_prediction"], ["stage", "shard", "collective", "send", "disaggregation"]);
  const pr = readAttrs(PREDICTION_ATTRS, leaf(parts.one("node_prediction")), "node_prediction");
  const disaggregations = parts.many("disaggregation");
  if (disaggregations.length > 1) throw errorAt(disaggregations[1]!.keywordToken, "'disaggregation' is given twice in parallel");
  const d = disaggregations[0] && readAttrs(DISAGGREGATION_ATTRS, leaf(disaggregations[0]), "disaggregation");
  const stages = parts.many("stage").map((s, i) => buildStage(s, i));
  return {
    layout: { tp: a.tp, pp: a.pp, ep: a.ep, dp: a.dp, microBatches: a.micro_batches },
    sockets: a.sockets,
    collectives: a.collectives,
    stages,
    shards: parts.many("shard").map(buildShard),
    collectiveKernels: uniquelyNamed(parts.many("collective"), buildCollective, "collective", symbolName).map(({ name: _, ...c }) => c),
    sends: parts.many("send").map(buildSend),
    prediction: {
      stepSeconds: pr.step_seconds, latencySeconds: pr.latency_seconds, tokensPerSecondPerUser: pr.tokens_per_second_per_user,
      tokensPerSecond: pr.tokens_per_second, floorSeconds: pr.floor_seconds, collectiveSeconds: pr.collective_seconds,
      bubbleFraction: pr.bubble_fraction, loadSeconds: pr.load_seconds,
    },
    ...(d ? {
      disaggregation: {
        prefillSockets: d.prefill_sockets, prefillLayout: d.prefill_layout, prefillSeconds: d.prefill_seconds,
        decodeSockets: d.decode_sockets, decodeLayout: d.decode_layout, decodeSeconds: d.decode_seconds,
        kvBytesPerRequest: d.kv_bytes_per_request, kvTransferSeconds: d.kv_transfer_seconds,
      },
    } : {}),
  };
}

function buildStage(statement: Statement, index: number): ParallelStage {
  const { name, token } = statement.head.symbol("a stage name (@p0, @p1, ...)");
  if (name !== `p${index}`) throw errorAt(token, `expected stage @p${index} (stages are numbered in order) but found @${name}`);
  const a = readAttrs(STAGE_ATTRS, leaf(statement), `stage @${name}`);
  return { sockets: a.sockets, firstSection: a.sections[0]!, lastSection: a.sections[1]!, seconds: a.seconds, occupancy: { sram: a.sram, hbm: a.hbm, ddr: a.ddr } };
}

function buildShard(statement: Statement): TensorShard {
  const tensor = statement.head.tensor("the split tensor (%name)").name;
  const a = readAttrs(SHARD_ATTRS, leaf(statement), `shard of ${valueName(tensor)}`);
  return { tensor, axis: a.axis, parts: a.parts };
}

function buildCollective(statement: Statement): { value: CollectiveKernel & { name: string }; token: IToken } {
  const { name, token } = statement.head.symbol("the collective kernel (@name)");
  const a = readAttrs(COLLECTIVE_ATTRS, leaf(statement), `collective ${symbolName(name)}`);
  return { value: { name, kernel: name, kind: a.kind, bytes: a.bytes, sockets: a.sockets, seconds: a.seconds }, token };
}

function buildSend(statement: Statement): StageSend {
  const tensor = statement.head.tensor("the sent tensor (%name)").name;
  const a = readAttrs(SEND_ATTRS, leaf(statement), `send of ${valueName(tensor)}`);
  return { tensor, fromStage: a.from_stage, toStage: a.to_stage, bytes: a.bytes, beforeSection: a.before_section, seconds: a.seconds };
}
