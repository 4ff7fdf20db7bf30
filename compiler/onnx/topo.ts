// Order nodes so every value is defined before use (Kahn's algorithm, keeping
// the file's order among ready nodes), and report cycles, undefined inputs and
// values defined twice, each naming a node.

import type { Node } from "../../ir/graph/graph.js";
import { fail } from "../../ir/diagnostics.js";

export function topologicalOrder(nodes: readonly Node[], defined: ReadonlySet<string>): Node[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const out of n.outputs) {
      if (out === "") continue;
      if (defined.has(out) || producer.has(out)) fail(`value '${out}' is defined twice`, { node: n.name });
      producer.set(out, i);
    }
  });
  const waiting = new Array<number>(nodes.length).fill(0);
  const dependents: number[][] = nodes.map(() => []);
  nodes.forEach((n, i) => {
    for (const input of new Set(n.inputs)) {
      if (input === "" || defined.has(input)) continue;
      const p = producer.get(input);
      if (p === undefined) fail(`input '${input}' is not defined by any node, initializer or graph input`, { node: n.name });
      waiting[i]!++;
      dependents[p]!.push(i);
    }
  });
  // A min-heap on the original index keeps the file's order whenever it is already valid.
  const ready: number[] = [];
  const push = (i: number) => {
    ready.push(i);
    for (let c = ready.length - 1; c > 0;) {
      const p = (c - 1) >> 1;
      if (ready[p]! <= ready[c]!) break;
      [ready[p], ready[c]] = [ready[c]!, ready[p]!];
      c = p;
    }
  };
  const pop = (): number => {
    const top = ready[0]!;
    const last = ready.pop()!;
    if (ready.length > 0) {
      ready[0] = last;
      for (let p = 0; ;) {
        const l = 2 * p + 1, r = l + 1;
        let m = p;
        if (l < ready.length && ready[l]! < ready[m]!) m = l;
        if (r < ready.length && ready[r]! < ready[m]!) m = r;
        if (m === p) break;
        [ready[p], ready[m]] = [ready[m]!, ready[p]!];
        p = m;
      }
    }
    return top;
  };
  waiting.forEach((w, i) => w === 0 && push(i));
  const order: Node[] = [];
  while (ready.length > 0) {
    const i = pop();
    order.push(nodes[i]!);
    for (const d of dependents[i]!) if (--waiting[d]! === 0) push(d);
  }
  if (order.length !== nodes.length) {
    const stuck = nodes.find((_, i) => waiting[i]! > 0)!;
    fail("the graph has a cycle through this node", { node: stuck.name });
  }
  return order;
}
