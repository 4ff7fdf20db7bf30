// One level of the graph laid out top to bottom by dagre (@dagrejs/dagre,
// inlined in the page ahead of this script): network-simplex ranking,
// barycentre ordering sweeps that keep the ordering with the fewest crossings,
// Brandes-Köpf coordinates. Source: Gansner et al., "A Technique for Drawing
// Directed Graphs" (dot), 1993, which dagre follows. Around it: edges against
// execution order are laid out reversed, so the drawing reads in execution
// order; two or more long edges from one node run down one shared trunk, laid
// out as a chain of points and kept straight where the rows let it, so a
// tensor broadcast to every layer is one line, not a fan; routes leave a
// node's bottom and enter its target's top, running straight down through the
// rows they cross. Known weakness: which edges share a trunk is decided from
// rows estimated before dagre ranks (longest path), so where dagre ranks a
// node lower, its edges from one source may still fan out. It runs per
// expanded group, on tens of nodes at a time.

const RANK_GAP = 44, NODE_GAP = 22, EDGE_GAP = 10, TRUNK_W = 10;

/**
 * dagre over the nodes (as "n<i>") and forward edges (as "e<k>"). A trunk is
 * a chain of points from its source a, "t<a>.<j>" meant for the (j + 1)-th row
 * below a; a bundled edge starts at the point in the row above its target.
 */
function runDagre(nodes, forward, bundles) {
  const g = new dagre.graphlib.Graph({ multigraph: true });
  g.setGraph({ rankdir: "TB", ranksep: RANK_GAP, nodesep: NODE_GAP, edgesep: EDGE_GAP, rankalign: "top", marginx: 0, marginy: 0 });
  g.setDefaultEdgeLabel(() => ({}));
  nodes.forEach((n, i) => g.setNode(`n${i}`, { width: n.width, height: n.height }));
  for (const [a, bundle] of bundles) {
    for (let j = 0; j < bundle.length; j++) {
      g.setNode(`t${a}.${j}`, { width: TRUNK_W, height: 0 });
      g.setEdge(j === 0 ? `n${a}` : `t${a}.${j - 1}`, `t${a}.${j}`, {}, `t${a}.${j}`);
    }
  }
  forward.forEach((e, k) => {
    if (e.a === e.b) return;
    const via = bundles.has(e.a) ? bundles.get(e.a).via.get(k) : undefined;
    g.setEdge(via === undefined ? `n${e.a}` : `t${e.a}.${via}`, `n${e.b}`, {}, `e${k}`);
  });
  dagre.layout(g);
  return g;
}

/** Rows of real nodes (dagre's ranks), top to bottom: each row's band from its highest top to its lowest bottom, and each node's row. */
function rowBands(g, count) {
  const ranks = [...new Set(Array.from({ length: count }, (_, i) => g.node(`n${i}`).rank))].sort((p, q) => p - q);
  const rowOfRank = new Map(ranks.map((r, i) => [r, i]));
  const bands = ranks.map(() => ({ top: Infinity, bottom: -Infinity }));
  const rowOf = [];
  for (let i = 0; i < count; i++) {
    const n = g.node(`n${i}`), row = rowOfRank.get(n.rank);
    rowOf.push(row);
    bands[row].top = Math.min(bands[row].top, n.y - n.height / 2);
    bands[row].bottom = Math.max(bands[row].bottom, n.y + n.height / 2);
  }
  return { bands, rowOf };
}

/**
 * Sources with two or more edges that skip a row: the trunk's length in rows,
 * and the trunk point each edge leaves from. Rows are estimated before dagre
 * runs (longest path from the top, a node with no inputs just above its first
 * consumer), so one dagre run lays out the trunks: where dagre ranks otherwise
 * an edge's last leg bends through the rows between, like any long edge.
 */
function trunkBundles(count, forward) {
  const row = new Array(count).fill(0), ins = new Array(count).fill(0), firstUse = new Array(count).fill(Infinity);
  const sorted = forward.filter((e) => e.a !== e.b).sort((p, q) => p.b - q.b);
  for (const e of sorted) { row[e.b] = Math.max(row[e.b], row[e.a] + 1); ins[e.b]++; }
  for (const e of sorted) firstUse[e.a] = Math.min(firstUse[e.a], row[e.b]);
  for (let i = 0; i < count; i++) if (ins[i] === 0 && firstUse[i] < Infinity) row[i] = firstUse[i] - 1;
  const long = new Map();
  forward.forEach((e, k) => {
    if (row[e.b] - row[e.a] >= 2) long.set(e.a, [...(long.get(e.a) || []), k]);
  });
  const bundles = new Map();
  for (const [a, ks] of long) {
    if (ks.length < 2) continue;
    const via = new Map(ks.map((k) => [k, row[forward[k].b] - row[a] - 2]));
    bundles.set(a, { length: Math.max(...via.values()) + 1, via });
  }
  return bundles;
}

/**
 * nodes: [{ id, width, height }] in execution order; edges: [{ from, to }] by id.
 * Returns { pos: Map id -> { x, y, width, height } (top-left), routes: [points] per edge, width, height }.
 */
function layeredLayout(nodes, edges) {
  if (nodes.length === 0) return { pos: new Map(), routes: edges.map(() => []), width: 0, height: 0 };
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  // Edges against execution order (rare: groups interleaved in time) are laid out reversed.
  const forward = edges.map((e) => {
    const a = index.get(e.from), b = index.get(e.to);
    return a <= b ? { a, b, flipped: false } : { a: b, b: a, flipped: true };
  });
  const bundles = trunkBundles(nodes.length, forward);
  const g = runDagre(nodes, forward, bundles);
  const { bands, rowOf } = rowBands(g, nodes.length);
  const box = (i) => g.node(`n${i}`);
  const inner = (v, w, name) => g.edge(v, w, name).points.slice(1, -1);
  // Where edges pass, kept only inside rows of nodes (between rows a curve is
  // free to turn): one crossing { x, row } per row, from dagre's bend points
  // and the trunks' points, each crossing drawn as a vertical run.
  const cross = (list, points, trunk) => {
    for (const p of points) {
      const row = bands.findIndex((b) => p.y >= b.top - 0.5 && p.y <= b.bottom + 0.5);
      if (row >= 0 && (list.length === 0 || list[list.length - 1].row !== row)) list.push({ x: p.x, row, trunk });
    }
    return list;
  };
  // A trunk's crossings are shared by its edges: each takes those above the point it leaves from.
  const trunks = new Map([...bundles].map(([a, bundle]) => {
    const list = [], upTo = [];
    for (let j = 0; j < bundle.length; j++) {
      const from = j === 0 ? `n${a}` : `t${a}.${j - 1}`, to = `t${a}.${j}`;
      cross(list, [...inner(from, to, to), g.node(to)], a);
      upTo.push(list.length);
    }
    return [a, { list, upTo }];
  }));
  const vias = forward.map((e, k) => {
    if (e.a === e.b) return [];
    const via = bundles.has(e.a) ? bundles.get(e.a).via.get(k) : undefined;
    if (via === undefined) return cross([], inner(`n${e.a}`, `n${e.b}`, `e${k}`));
    const trunk = trunks.get(e.a);
    return [...trunk.list.slice(0, trunk.upTo[via]), ...cross([], inner(`t${e.a}.${via}`, `n${e.b}`, `e${k}`))];
  });

  // dagre lets a trunk drift a little from row to row: it keeps one x down
  // the rows instead, as long as that x clears the row's boxes and other lines.
  const inRow = bands.map(() => ({ boxes: [], lines: new Set() }));
  nodes.forEach((n, i) => inRow[rowOf[i]].boxes.push(box(i)));
  for (const list of [...vias, ...[...trunks.values()].map((t) => t.list)]) for (const c of list) inRow[c.row].lines.add(c);
  const clear = (x, c) => inRow[c.row].boxes.every((b) => Math.abs(x - b.x) >= b.width / 2 + NODE_GAP / 2) &&
    [...inRow[c.row].lines].every((o) => o === c || (o.trunk !== undefined && o.trunk === c.trunk) || Math.abs(x - o.x) >= EDGE_GAP);
  for (const { list } of trunks.values()) {
    let x = list.length ? list[0].x : 0;
    for (const c of list) { if (clear(x, c)) c.x = x; else x = c.x; }
  }
  const runs = vias.map((list) => list.flatMap((c) => [{ x: c.x, y: bands[c.row].top }, { x: c.x, y: bands[c.row].bottom }]));

  // Ports spread along the bottom of a source and the top of a target, in the order their routes go;
  // the edges of one trunk leave from one port.
  const departures = nodes.map(() => new Map()), arrivals = nodes.map(() => new Map());
  forward.forEach((e, k) => {
    if (e.a === e.b) return;
    const run = runs[k];
    const key = bundles.get(e.a)?.via.has(k) ? "trunk" : `e${k}`;
    departures[e.a].set(key, run.length ? run[0].x : box(e.b).x);
    arrivals[e.b].set(`e${k}`, run.length ? run[run.length - 1].x : box(e.a).x);
  });
  const port = (i, ports, key) => {
    const n = box(i), order = [...ports.entries()].sort((p, q) => p[1] - q[1]).map(([k]) => k);
    return n.x + n.width * 0.6 * ((order.indexOf(key) + 1) / (order.length + 1) - 0.5);
  };
  const routes = forward.map((e, k) => {
    if (e.a === e.b) return [];
    const a = box(e.a), b = box(e.b);
    const key = bundles.get(e.a)?.via.has(k) ? "trunk" : `e${k}`;
    const points = [{ x: port(e.a, departures[e.a], key), y: a.y + a.height / 2 }, ...runs[k], { x: port(e.b, arrivals[e.b], `e${k}`), y: b.y - b.height / 2 }];
    return e.flipped ? points.reverse() : points;
  });

  const pos = new Map(nodes.map((n, i) => {
    const b = box(i);
    return [n.id, { x: b.x - n.width / 2, y: b.y - n.height / 2, width: n.width, height: n.height }];
  }));
  const size = g.graph();
  return { pos, routes, width: size.width, height: size.height };
}
