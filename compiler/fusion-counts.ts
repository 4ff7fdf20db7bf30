// Fused-op counts of a graph, for reports: composite ops (domain tierflow) and
// the ONNX ops fusion produces.

import type { Module } from "../ir/graph/graph.js";
import { mainGraph, opKey } from "../ir/graph/graph.js";

export function fusionCounts(module: Module): Record<string, number> {
  const counts = new Map<string, number>();
  for (const n of mainGraph(module).nodes) {
    if (n.domain !== "tierflow") continue;
    const key = opKey(n.domain, n.op);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return Object.fromEntries([...counts].sort(([a], [b]) => (a < b ? -1 : 1)));
}
