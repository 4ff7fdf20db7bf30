// fuse-patterns: the first pass of the compiler core. Turns the subgraphs
// exporters write for normalisations, activations, rotary embeddings,
// attention, linear layers and MoE blocks into composite ops (domain
// "tierflow", ir/graph/ops/composite.ts) or their ONNX fused forms, by the
// patterns in ir/graph/patterns (GRAPH_PATTERNS) applied to a fixed point.

import type { Module } from "../../ir/graph/graph.js";
import { mapGraphs } from "../../ir/graph/graph.js";
import { COMPOSITE_DOMAIN } from "../../ir/graph/ops/decompose.js";
import type { FusionCounts } from "../fusion/driver.js";
import { fuseGraph } from "../fusion/driver.js";
import { registerPass } from "./pass.js";

export type { FusionCounts } from "../fusion/driver.js";

// Counts of the modules this pass returned, for the compile step to print; keyed
// by the (immutable) module, so nothing is shared between runs.
const COUNTS = new WeakMap<Module, FusionCounts>();

export function fusePatterns(module: Module): { module: Module; counts: FusionCounts } {
  const counts = new Map<string, number>();
  const rewritten = mapGraphs(module, (graph) => {
    const r = fuseGraph(graph, module.opsets[""] ?? 0);
    for (const [name, n] of r.counts) counts.set(name, (counts.get(name) ?? 0) + n);
    return r.graph;
  });
  const usesComposites = rewritten.graphs.some((g) => g.nodes.some((n) => n.domain === COMPOSITE_DOMAIN));
  const opsets = usesComposites && module.opsets[COMPOSITE_DOMAIN] === undefined ? { ...module.opsets, [COMPOSITE_DOMAIN]: 1 } : module.opsets;
  const fused = { ...rewritten, opsets };
  COUNTS.set(fused, counts);
  return { module: fused, counts };
}

/** Per-pattern counts of a module returned by the fuse-patterns pass. */
export function fusionCountsOf(module: Module): FusionCounts | undefined {
  return COUNTS.get(module);
}

/** One line per pattern that fused something, as onnxruntime's optimizer reports: "RMSNorm fused: 5". */
export function formatFusionCounts(counts: FusionCounts): string {
  const lines = [...counts].filter(([, n]) => n > 0).map(([name, n]) => `${name} fused: ${n}`);
  return lines.length > 0 ? lines.join("\n") : "no patterns fused";
}

registerPass({
  name: "fuse-patterns",
  summary: "fuse norms, activations, rotary, attention, linear and MoE subgraphs into composite ops",
  run: (module) => fusePatterns(module).module,
});
