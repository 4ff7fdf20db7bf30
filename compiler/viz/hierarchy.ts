// The graph the visualiser draws, as a tree: model -> group -> section -> kernel.
// A group is a layer (kernels whose graph nodes are named ".../layers.N/...",
// as the TorchScript exporter names Llama's; also layer.N, h.N, blocks.N) or a
// run of consecutive sections outside the layers (embedding, masks, final norm,
// head), cut every MAX_RUN_SECTIONS sections so no group is too large to lay
// out at once. The dynamo exporter names nodes "node_MatMul_12": its layers
// come from the weights kernels read ("model.layers.3.mlp.up_proj.weight") and
// take in the kernels between two of one layer.
// A section part holding a single kernel is left out of the tree, so at -O0
// (one kernel per section) a layer opens straight onto its kernels.
// Edges join kernels; the page lifts them to whichever ancestors are visible.

import type { DfKernel } from "../../ir/dataflow/dataflow.js";
import type { Plan } from "../../ir/placement/plan.js";

export type VizLevel = "model" | "group" | "section" | "kernel";

export interface VizNode {
  readonly id: number;
  readonly level: VizLevel;
  readonly label: string;
  /** A second line: sections spanned and kernel count, or a kernel's kind and section. */
  detail: string;
  readonly parent: number;
  readonly children: number[];
  /** Kernels at or below this node. */
  kernels: number;
  /** Predicted seconds of the kernels below: each section's time shared among its kernels. */
  seconds: number;
  /** Section of a kernel or section part; first section of a group. */
  readonly section: number;
  /** Index into plan.dataflow.kernels, for kernels. */
  readonly kernel?: number;
}

/** [from kernel node, to kernel node, index into plan.dataflow.tensors]. */
export type VizEdge = readonly [number, number, number];

export interface VizGraph {
  readonly nodes: readonly VizNode[];
  readonly edges: readonly VizEdge[];
}

const LAYER = /\/((?:layers|layer|h|blocks|block)\.\d+)\//;
/** A weight named for its module, as both exporters keep parameter names: "model.layers.3.mlp.up_proj.weight". */
const LAYER_WEIGHT = /(?:^|\.)((?:layers|layer|h|blocks|block)\.\d+)\./;
export const MAX_RUN_SECTIONS = 48;

/**
 * The layer a kernel belongs to ("layers.3"), from its graph nodes' names or the
 * names of the weights it alone reads (`ownInputs`: an exporter may keep one copy
 * of equal weights, such as every layer's all-ones norm weight, under one layer's name).
 */
export function layerOf(k: DfKernel, ownInputs: (name: string) => boolean = () => true): string | undefined {
  for (const n of k.nodes) {
    const m = LAYER.exec(n);
    if (m) return m[1];
  }
  for (const input of k.inputs) {
    const m = ownInputs(input) ? LAYER_WEIGHT.exec(input) : null;
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Each kernel's layer: its own (layerOf), or, for a kernel between two kernels
 * of the same layer in execution order (a dynamo export's "node_Add_7" inside
 * a decoder layer), that layer.
 */
export function kernelLayers(kernels: readonly DfKernel[]): (string | undefined)[] {
  const readers = new Map<string, number>();
  for (const k of kernels) for (const i of new Set(k.inputs)) readers.set(i, (readers.get(i) ?? 0) + 1);
  const own = kernels.map((k) => layerOf(k, (name) => readers.get(name) === 1));
  const next: (string | undefined)[] = new Array(kernels.length);
  for (let i = kernels.length - 1, after: string | undefined; i >= 0; i--) {
    if (own[i] !== undefined) after = own[i];
    next[i] = after;
  }
  let before: string | undefined;
  return own.map((layer, i) => {
    if (layer !== undefined) return (before = layer);
    return before !== undefined && before === next[i] ? before : undefined;
  });
}

function sectionRange(first: number, last: number, names: readonly string[]): string {
  return first === last ? names[first] ?? `s${first}` : `${names[first] ?? first}–${names[last] ?? last}`;
}

/**
 * A section's predicted time shared among its kernels in proportion to their
 * stream times (equally among its device kernels when none streams, among all
 * when none has units), so the times of a layer's kernels add up to its cost.
 */
export function attributedSeconds(plan: Plan): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of plan.sections) {
    const busy = s.kernels.filter((k) => k.computeUnits > 0 || k.memoryUnits > 0);
    const device = busy.length > 0 ? busy : s.kernels;
    const streamed = device.reduce((sum, k) => sum + k.seconds, 0);
    for (const k of s.kernels) {
      const share = streamed > 0 ? k.seconds / streamed : device.includes(k) ? 1 / device.length : 0;
      out.set(k.kernel, s.cost.seconds * share);
    }
  }
  return out;
}

export function buildGraph(plan: Plan): VizGraph {
  const kernels = plan.dataflow.kernels;
  const sectionNames = plan.sections.map((s) => s.name);
  const sectionOf = new Map<string, number>();
  plan.sections.forEach((s, i) => s.kernels.forEach((k) => sectionOf.set(k.kernel, i)));
  const secondsOf = attributedSeconds(plan);

  // Kernels in execution order, split into groups, then into section parts.
  const groups: { layer: string | undefined; parts: Map<number, number[]> }[] = [];
  const layerGroups = new Map<string, (typeof groups)[number]>();
  let outside: (typeof groups)[number] | undefined;
  const layers = kernelLayers(kernels);
  kernels.forEach((k, i) => {
    const layer = layers[i];
    const s = sectionOf.get(k.name) ?? 0;
    let group: (typeof groups)[number];
    if (layer !== undefined) {
      outside = undefined;
      group = layerGroups.get(layer) ?? { layer, parts: new Map() };
      if (!layerGroups.has(layer)) { layerGroups.set(layer, group); groups.push(group); }
    } else {
      if (!outside || (outside.parts.size >= MAX_RUN_SECTIONS && !outside.parts.has(s))) {
        outside = { layer: undefined, parts: new Map() };
        groups.push(outside);
      }
      group = outside;
    }
    if (!group.parts.has(s)) group.parts.set(s, []);
    group.parts.get(s)!.push(i);
  });

  const nodes: VizNode[] = [];
  const add = (n: Omit<VizNode, "id" | "children" | "kernels" | "seconds">): VizNode => {
    const node: VizNode = { ...n, id: nodes.length, children: [], kernels: 0, seconds: 0 };
    nodes.push(node);
    if (n.parent >= 0) nodes[n.parent]!.children.push(node.id);
    return node;
  };
  const root = add({ level: "model", label: plan.model.file, detail: `${kernels.length} kernels`, parent: -1, section: 0 });
  const kernelNode = new Map<number, number>();
  const addKernel = (i: number, parent: number) => {
    const k = kernels[i]!;
    const s = sectionOf.get(k.name) ?? 0;
    const node = add({ level: "kernel", label: `${k.name} ${k.ops.map((o) => o.replace(/^tierflow\./, "")).join("+")}`, detail: `${k.kind} · ${sectionNames[s] ?? ""}`, parent, section: s, kernel: i });
    kernelNode.set(i, node.id);
    // Count upwards so every ancestor knows its kernels and time.
    for (let p: number = node.id; p >= 0; p = nodes[p]!.parent) {
      nodes[p]!.kernels += 1;
      nodes[p]!.seconds += secondsOf.get(k.name) ?? 0;
    }
  };
  for (const g of groups) {
    const sections = [...g.parts.keys()];
    const first = Math.min(...sections), last = Math.max(...sections);
    const label = g.layer ?? `sections ${sectionRange(first, last, sectionNames)}`;
    const detail = g.layer !== undefined ? `sections ${sectionRange(first, last, sectionNames)}` : "outside the layers";
    const group = add({ level: "group", label, detail, parent: root.id, section: first });
    for (const [s, members] of g.parts) {
      if (members.length === 1) { addKernel(members[0]!, group.id); continue; }
      const part = add({ level: "section", label: sectionNames[s] ?? `s${s}`, detail: "", parent: group.id, section: s });
      for (const i of members) addKernel(i, part.id);
    }
  }
  for (const n of nodes) {
    if (n.level === "group" || n.level === "section") n.detail = [n.detail, `${n.kernels} kernels`].filter(Boolean).join(" · ");
  }

  const tensorIndex = new Map(plan.dataflow.tensors.map((t, i) => [t.name, i]));
  const producer = new Map<string, number>();
  kernels.forEach((k, i) => k.outputs.forEach((o) => producer.set(o, i)));
  const edges: VizEdge[] = [];
  kernels.forEach((k, i) => {
    for (const input of new Set(k.inputs)) {
      const from = producer.get(input), t = tensorIndex.get(input);
      if (from !== undefined && t !== undefined) edges.push([kernelNode.get(from)!, kernelNode.get(i)!, t]);
    }
  });
  return { nodes, edges };
}
