// The sn40l presets against the figures SambaNova publishes (hardware brief):
//   - Prabhakar et al., SambaNova SN40L, MICRO 2024 (arXiv 2405.07518): a decoder layer fused into
//     one kernel streams HBM at about 85% of its bandwidth; fusion speeds prefill up 1.5-3x and
//     decode 1-13x over an unfused baseline on 8 sockets; Llama 3.1 on 16 sockets, bf16, decodes
//     1042 / 457 / 129 output tokens/s per user for 8B / 70B / 405B;
//   - Kernel Looping (arXiv 2410.23668): looping the decoder speeds decode up by up to 2.2x on SN40L
//     and up to 2.5x over several sockets, and reaches over 90% of peak on 8 and 16 sockets.
// Each figure is computed from plans of the Llama generator's graphs (weights absent), fused (the
// presets) and looped (the same target with efficiency.dataflow.loop enabled).
//
//   npx tsx bench/sn40l-figures.ts      (a few minutes: the 405B plan is the largest)

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileModule, loadFused, modelSource } from "../compiler/compile.js";
import type { FusedModel } from "../compiler/compile.js";
import type { Plan } from "../ir/placement/plan.js";
import type { Target } from "../targets/target.js";
import { loadTarget } from "../targets/target.js";
import type { LlamaConfig } from "../examples/generate/llama-onnx.js";
import { LLAMA_PRESETS, writeLlama } from "../examples/generate/llama-onnx.js";

/** Llama 3.1 405B (the model card's configuration): the generator has no preset for it. */
const LLAMA_405B: LlamaConfig = { vocab: 128256, hidden: 16384, intermediate: 53248, layers: 126, heads: 128, kvHeads: 8, ropeTheta: 500000, weightType: 16 };
/** Table IV of the SN40L paper (hardware brief): output tokens/s per user, 16 sockets, bf16. */
export const TABLE_IV: readonly { readonly model: string; readonly published: number }[] = [
  { model: "llama-3.1-8b", published: 1042 }, { model: "llama-3.1-70b", published: 457 }, { model: "llama-3.1-405b", published: 129 },
];
export const PAPER = { fusedHbmShare: 0.85, loopedPeakShare: 0.9, loopSpeedupOneSocket: 2.2, loopSpeedupSockets: 2.5, prefillFusion: [1.5, 3], decodeFusion: [1, 13] } as const;

/** The target with the looped decoder on. */
export function looped(t: Target): Target {
  const e = t.efficiency as (Target["efficiency"] & { dataflow?: { hbmFraction: number; loop?: { enabled: boolean; hbmFraction: number } } }) | undefined;
  if (!e?.dataflow?.loop) throw new Error(`${t.name} has no looped decoder to enable`);
  return { ...t, efficiency: { ...e, dataflow: { ...e.dataflow, loop: { ...e.dataflow.loop, enabled: true } } } } as Target;
}

/** The largest share of HBM bandwidth any section of the plan streams at. */
export function peakHbmShare(p: Plan, t: Target): number {
  return Math.max(0, ...p.sections.filter((s) => s.cost.seconds > 0).map((s) => s.cost.hbmBytes / s.cost.seconds / t.hbm.bandwidth));
}

/** Step seconds and tokens/s per user of a decode plan, single socket or node. */
function step(p: Plan): { seconds: number; perUser: number; floor: number } {
  const n = p.parallel?.prediction;
  return n ? { seconds: n.stepSeconds, perUser: n.tokensPerSecondPerUser, floor: n.floorSeconds }
    : { seconds: p.prediction.seconds, perUser: 1 / p.prediction.seconds, floor: p.prediction.floorSeconds };
}

export interface Sn40lFigures {
  readonly bandwidth: readonly { readonly what: string; readonly fused: number; readonly looped: number }[];
  readonly tableIV: readonly {
    readonly model: string; readonly published: number; readonly fused: number; readonly looped: number;
    /** Tokens/s per user if every socket streamed its weights and KV cache once per token at full HBM bandwidth. */
    readonly ceiling: number;
    /** Share of the looped step the collectives take. */
    readonly loopedCollectives: number;
  }[];
  readonly looping: readonly { readonly what: string; readonly sockets: number; readonly fused: number; readonly looped: number }[];
  readonly fusion: readonly { readonly what: string; readonly o0: number; readonly o2: number; readonly o0Sections: number }[];
  /** The presets' per-call figures: argument load and synchronisation, program load (seconds). */
  readonly launchSeconds: number;
  readonly sectionSwitchSeconds: number;
}

export async function sn40lFigures(onStep: (what: string) => void = () => {}): Promise<Sn40lFigures> {
  const dir = mkdtempSync(join(tmpdir(), "tierflow-sn40l-figures-"));
  const models = new Map<string, { file: string; fused: Map<number, FusedModel> }>();
  const model = async (name: string, opt: 0 | 2) => {
    let m = models.get(name);
    if (!m) {
      const file = join(dir, `${name}.onnx`);
      writeLlama(file, name === "llama-3.1-405b" ? LLAMA_405B : LLAMA_PRESETS[name]!);
      models.set(name, (m = { file, fused: new Map() }));
    }
    if (!m.fused.has(opt)) m.fused.set(opt, await loadFused(m.file, { opt }));
    return { fused: m.fused.get(opt)!, source: modelSource(m.file) };
  };
  const plan = async (name: string, target: Target, opt: 0 | 2, phase: "decode" | "prefill", extra: { parallel?: string; batch?: number; seq?: number } = {}) => {
    onStep(`${name} ${target.name} -O${opt} ${phase} ${extra.parallel ?? ""}`);
    const { fused, source } = await model(name, opt);
    return compileModule(fused, source, { target, opt, phase, batch: extra.batch ?? 1, seq: extra.seq ?? 128, dtype: "bf16", ...(extra.parallel ? { parallel: extra.parallel } : {}) }).plan;
  };
  try {
    const sn40l = loadTarget("sn40l"), node = loadTarget("sn40l-node"), node16 = loadTarget("sn40l-node16");
    const decode7 = await plan("llama-2-7b", sn40l, 2, "decode"), decode7l = await plan("llama-2-7b", looped(sn40l), 2, "decode");
    const prefill7 = await plan("llama-2-7b", sn40l, 2, "prefill", { seq: 2048 }), prefill7l = await plan("llama-2-7b", looped(sn40l), 2, "prefill", { seq: 2048 });
    const tp8 = await plan("llama-2-7b", node, 2, "decode", { parallel: "tp=8" }), tp8l = await plan("llama-2-7b", looped(node), 2, "decode", { parallel: "tp=8" });
    const bandwidth = [
      { what: "Llama-2-7B decode, batch 1, context 128, one socket", fused: peakHbmShare(decode7, sn40l), looped: peakHbmShare(decode7l, sn40l) },
      { what: "Llama-2-7B prefill, batch 1, 2048 tokens, one socket", fused: peakHbmShare(prefill7, sn40l), looped: peakHbmShare(prefill7l, sn40l) },
      { what: "Llama-2-7B decode, TP8 over sn40l-node", fused: peakHbmShare(tp8, node), looped: peakHbmShare(tp8l, node) },
    ];
    const tableIV = [];
    const looping = [
      { what: "Llama-2-7B decode, one socket", sockets: 1, fused: step(decode7).seconds, looped: step(decode7l).seconds },
      { what: "Llama-2-7B decode, TP8", sockets: 8, fused: step(tp8).seconds, looped: step(tp8l).seconds },
    ];
    for (const row of TABLE_IV) {
      const fused = await plan(row.model, node16, 2, "decode", { parallel: "tp=16" });
      const loop = await plan(row.model, looped(node16), 2, "decode", { parallel: "tp=16" });
      const n = loop.parallel!.prediction;
      tableIV.push({ model: row.model, published: row.published, fused: step(fused).perUser, looped: step(loop).perUser, ceiling: 1 / step(fused).floor, loopedCollectives: n.collectiveSeconds / n.stepSeconds });
      looping.push({ what: `${row.model} decode, TP16`, sockets: 16, fused: step(fused).seconds, looped: step(loop).seconds });
    }
    const fusion = [];
    for (const [phase, seq] of [["prefill", 2048], ["decode", 128]] as const) {
      const o0 = await plan("llama-2-7b", node, 0, phase, { parallel: "tp=8", seq });
      const o2 = phase === "decode" ? tp8 : await plan("llama-2-7b", node, 2, phase, { parallel: "tp=8", seq });
      fusion.push({ what: `Llama-2-7B ${phase}, batch 1, ${phase === "decode" ? `context ${seq}` : `${seq} tokens`}, TP8`, o0: step(o0).seconds, o2: step(o2).seconds, o0Sections: o0.sections.length });
    }
    return { bandwidth, tableIV, looping, fusion, launchSeconds: sn40l.overheads.launchSeconds, sectionSwitchSeconds: sn40l.overheads.sectionSwitchSeconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const x = (v: number) => `${v.toFixed(2)}x`;
const share = (v: number) => `${(100 * v).toFixed(1)}%`;

export function sn40lLines(f: Sn40lFigures): string[] {
  const lines = ["sn40l-figures  the sn40l presets (fused, and with efficiency.dataflow.loop on) against SambaNova's published figures"];
  lines.push(`  largest share of HBM bandwidth a section streams at (paper: about ${share(PAPER.fusedHbmShare)} fused, over ${share(PAPER.loopedPeakShare)} of peak looped):`);
  for (const b of f.bandwidth) lines.push(`    ${b.what}: fused ${share(b.fused)}, looped ${share(b.looped)}`);
  lines.push("  Table IV, Llama 3.1, bf16, 16 sockets (TP16 decode, batch 1, context 128), output tokens/s per user:");
  for (const r of f.tableIV) {
    lines.push(`    ${r.model}: published ${r.published}; fused ${r.fused.toFixed(0)} (${x(r.fused / r.published)}), looped ${r.looped.toFixed(0)} (${x(r.looped / r.published)}); ` +
      `the HBM floor allows at most ${r.ceiling.toFixed(0)}${r.published > r.ceiling ? ` (published ${x(r.published / r.ceiling)} above it)` : ""}`);
  }
  lines.push(`  looping speedup of decode (paper: up to ${PAPER.loopSpeedupOneSocket}x on SN40L, up to ${PAPER.loopSpeedupSockets}x over several sockets):`);
  for (const l of f.looping) lines.push(`    ${l.what}: ${(l.fused * 1e3).toFixed(3)} -> ${(l.looped * 1e3).toFixed(3)} ms, ${x(l.fused / l.looped)}`);
  lines.push(`  fusion speedup, -O2 over -O0 on sn40l-node (paper: prefill ${PAPER.prefillFusion.join("-")}x, decode ${PAPER.decodeFusion.join("-")}x on 8 sockets):`);
  for (const s of f.fusion) lines.push(`    ${s.what}: -O0 ${(s.o0 * 1e3).toFixed(3)} ms, -O2 ${(s.o2 * 1e3).toFixed(3)} ms, ${x(s.o0 / s.o2)}`);
  return lines;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const line of sn40lLines(await sn40lFigures((s) => process.stderr.write(`  ${s}\n`)))) console.log(line);
}
