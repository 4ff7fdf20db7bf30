// The fusion driver: applies a list of patterns (ir/graph/patterns/index.ts) to a graph
// until none matches, a fixed point.
//
// Each sweep infers types (so matching can read shapes and the values of shape
// arithmetic), offers every node, in order, to the patterns rooted at its op,
// and keeps a match when
//   - none of its nodes belongs to a match already taken in this sweep,
//   - no value it computes other than the root's outputs is read outside it or
//     is a graph output (values the pattern exposes, such as the router's expert
//     indices, may be read outside, but only after the root),
//   - its replacement infers to the same dtypes and shapes as the root's outputs.
// The replacement takes the root's place (and name) through the rewrite driver;
// the rest of the match is dropped. Patterns that build on composites (SwiGLU on
// SiLU) apply in the next sweep. Every match removes nodes, so sweeps end.

import type { Graph, Node } from "../../ir/graph/graph.js";
import type { InferState } from "../../ir/graph/infer.js";
import { inferGraph, inferNode, inferredTypes, recordResult, sameType } from "../../ir/graph/infer.js";
import { TierflowError } from "../../ir/diagnostics.js";
import { pruneTypes, rewriteGraph, KEEP } from "../passes/rewrite.js";
import type { FusionPattern, GraphView } from "../../ir/graph/patterns/pattern.js";
import { Matcher, graphView, rootKey } from "../../ir/graph/patterns/pattern.js";
import { GRAPH_PATTERNS } from "../../ir/graph/patterns/index.js";

/** Fused nodes in the result, per pattern name (a node later absorbed by another pattern counts for that one). */
export type FusionCounts = ReadonlyMap<string, number>;

export interface FusionResult {
  readonly graph: Graph;
  readonly counts: FusionCounts;
  readonly sweeps: number;
}

interface Match {
  readonly pattern: FusionPattern;
  readonly root: Node;
  readonly interior: readonly Node[];
  readonly replacement: readonly Node[];
}

const MAX_SWEEPS = 64;



/** No value of the match other than the root's outputs (and exposed ones, read after the root) escapes it. */
function isPrivate(m: Matcher, view: GraphView, taken: ReadonlySet<Node>): boolean {
  const inside = new Set(m.interior);
  const rootAt = view.position(m.root);
  for (const node of m.interior) {
    if (taken.has(node)) return false;
    if (node === m.root) continue;
    for (const out of node.outputs) {
      if (out === "") continue;
      const outside = view.users(out).filter((u) => !inside.has(u));
      if (m.exposed.includes(out) ? outside.some((u) => view.position(u) < rootAt) : outside.length > 0 || view.isGraphOutput(out)) return false;
    }
  }
  return true;
}

/** The replacement defines every value the match must keep, with the types they had. */
function replacementFits(match: Omit<Match, "interior">, exposed: readonly string[], state: InferState, opset: number): boolean {
  const kept = [...match.root.outputs, ...exposed].filter((o) => o !== "");
  const defined = new Set(match.replacement.flatMap((n) => n.outputs));
  if (!kept.every((o) => defined.has(o))) return false;
  // Infer the replacement on a scratch state, so a rejected match leaves the sweep's types alone.
  const scratch: InferState = { types: new Map(), literals: new Map(), symbolic: new Map() };
  for (const node of match.replacement) {
    for (const input of node.inputs) {
      if (input === "" || defined.has(input)) continue;
      const t = state.types.get(input), l = state.literals.get(input), s = state.symbolic.get(input);
      if (t) scratch.types.set(input, t);
      if (l) scratch.literals.set(input, l);
      if (s) scratch.symbolic.set(input, s);
    }
  }
  try {
    for (const node of match.replacement) recordResult(node, inferNode(node, scratch, opset, () => "unk__fusion"), scratch);
  } catch (err) {
    if (err instanceof TierflowError) return false;
    throw err;
  }
  return kept.every((o) => sameType(scratch.types.get(o), state.types.get(o)));
}

function findMatches(graph: Graph, view: GraphView, state: InferState, opset: number, patterns: readonly FusionPattern[]): Match[] {
  const byRoot = new Map<string, FusionPattern[]>();
  for (const p of patterns) byRoot.set(p.root, [...(byRoot.get(p.root) ?? []), p]);
  const taken = new Set<Node>();
  const matches: Match[] = [];
  for (const root of graph.nodes) {
    if (taken.has(root)) continue;
    for (const pattern of byRoot.get(rootKey(root)) ?? []) {
      const m = new Matcher(view, root);
      const bindings = pattern.match(root, m);
      if (bindings === undefined || !isPrivate(m, view, taken)) continue;
      const candidate = { pattern, root, replacement: pattern.build(bindings, root) };
      if (!replacementFits(candidate, m.exposed, state, opset)) continue;
      matches.push({ ...candidate, interior: [...m.interior] });
      for (const node of m.interior) taken.add(node);
      break;
    }
  }
  return matches;
}

/** Replace each match's root by its replacement and drop the rest of it. */
function applyMatches(graph: Graph, matches: readonly Match[]): Graph {
  const replacements = new Map<Node, readonly Node[]>();
  const dropped = new Set<Node>();
  for (const match of matches) {
    replacements.set(match.root, match.replacement);
    for (const node of match.interior) if (node !== match.root) dropped.add(node);
  }
  // Nothing is forwarded, so the driver hands back the graph's own node objects.
  return pruneTypes(rewriteGraph(graph, (node) => {
    const replacement = replacements.get(node);
    if (replacement) return { kind: "nodes", nodes: replacement };
    return dropped.has(node) ? { kind: "nodes", nodes: [] } : KEEP;
  }));
}

/** Fuse `graph` to a fixed point; the result has every value typed. */
export function fuseGraph(graph: Graph, opset: number, patterns: readonly FusionPattern[] = GRAPH_PATTERNS): FusionResult {
  const counts = new Map<string, number>(patterns.map((p) => [p.name, 0]));
  const fusedBy = new Map<string, string>(); // first output of a fused node -> its pattern
  let current = graph;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    const state = inferGraph(current, opset);
    const matches = findMatches(current, graphView(current, state), state, opset, patterns);
    if (matches.length === 0) return { graph: { ...current, types: inferredTypes(current, state) }, counts, sweeps: sweep };
    for (const match of matches) {
      for (const node of match.interior) {
        const absorbed = fusedBy.get(node.outputs[0]!);
        if (absorbed === undefined) continue;
        counts.set(absorbed, counts.get(absorbed)! - 1);
        fusedBy.delete(node.outputs[0]!);
      }
      counts.set(match.pattern.name, counts.get(match.pattern.name)! + 1);
      fusedBy.set(match.root.outputs[0]!, match.pattern.name);
    }
    current = applyMatches(current, matches);
  }
  throw new Error(`fusion did not reach a fixed point in ${MAX_SWEEPS} sweeps`);
}
