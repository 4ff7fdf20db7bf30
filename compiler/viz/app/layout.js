// A layered (Sugiyama-style) layout for one level of the graph, top to bottom.
// Algorithm: longest-path layering (sources pulled down next to their first
// consumer), dummy nodes on edges that span several layers, barycentre
// ordering sweeps, then x by averaging a left- and a right-packed placement
// around each node's neighbour median. Source: Sugiyama, Tagawa and Toda 1981;
// Gansner et al., "A Technique for Drawing Directed Graphs" (dot), 1993.
// Known weakness: no crossing count or transpose step, so orderings are good
// rather than minimal. It runs per expanded group, on tens of nodes at a time.

const RANK_GAP = 44, NODE_GAP = 22, DUMMY_W = 10;

/**
 * nodes: [{ id, width, height }] in execution order; edges: [{ from, to }] by id.
 * Returns { pos: Map id -> { x, y, width, height } (top-left), routes: [points] per edge, width, height }.
 */
function layeredLayout(nodes, edges) {
  const index = new Map(nodes.map((n, i) => [n.id, i]));
  // Edges against execution order (rare: groups interleaved in time) are laid out reversed.
  const forward = edges.map((e) => {
    const a = index.get(e.from), b = index.get(e.to);
    return a <= b ? { a, b, flipped: false } : { a: b, b: a, flipped: true };
  }).filter((e) => e.a !== e.b);
  const rank = new Array(nodes.length).fill(0);
  const ins = nodes.map(() => []), outs = nodes.map(() => []);
  for (const e of forward) { ins[e.b].push(e.a); outs[e.a].push(e.b); }
  for (let v = 0; v < nodes.length; v++) for (const u of ins[v]) rank[v] = Math.max(rank[v], rank[u] + 1);
  for (let v = nodes.length - 1; v >= 0; v--) {
    if (ins[v].length === 0 && outs[v].length > 0) rank[v] = Math.max(0, Math.min(...outs[v].map((w) => rank[w])) - 1);
  }

  // Vertices: real nodes, then one dummy per layer crossed by a long edge.
  const verts = nodes.map((n, i) => ({ width: n.width, height: n.height, rank: rank[i], order: i, up: [], down: [] }));
  // Long edges from one source share their dummies, so a tensor broadcast to
  // every layer (rotary tables, masks) runs down one trunk instead of a fan of lines.
  const trunk = new Map();
  const link = (u, v) => { if (!verts[u].down.includes(v)) { verts[u].down.push(v); verts[v].up.push(u); } };
  const chains = forward.map((e) => {
    const chain = [e.a];
    for (let r = rank[e.a] + 1; r < rank[e.b]; r++) {
      const key = `${e.a}:${r}`;
      if (!trunk.has(key)) {
        verts.push({ width: DUMMY_W, height: 0, rank: r, order: e.a + 0.5, up: [], down: [], dummy: true });
        trunk.set(key, verts.length - 1);
      }
      chain.push(trunk.get(key));
    }
    chain.push(e.b);
    for (let k = 1; k < chain.length; k++) link(chain[k - 1], chain[k]);
    return chain;
  });
  const ranks = [];
  verts.forEach((v, i) => { (ranks[v.rank] ||= []).push(i); });
  for (let r = 0; r < ranks.length; r++) ranks[r] = (ranks[r] || []).sort((x, y) => verts[x].order - verts[y].order);
  const slot = new Array(verts.length);
  const renumber = () => ranks.forEach((row) => row.forEach((v, i) => { slot[v] = i; }));
  renumber();
  for (let sweep = 0; sweep < 4; sweep++) {
    const down = sweep % 2 === 0;
    const order = down ? ranks.keys() : [...ranks.keys()].reverse();
    for (const r of order) {
      const key = new Map(ranks[r].map((v) => {
        const nb = down ? verts[v].up : verts[v].down;
        return [v, nb.length ? nb.reduce((sum, u) => sum + slot[u], 0) / nb.length : slot[v]];
      }));
      ranks[r].sort((x, y) => key.get(x) - key.get(y) || slot[x] - slot[y]);
      ranks[r].forEach((v, i) => { slot[v] = i; });
    }
  }

  // x: centres. Start packed, then pull each node towards its neighbours' median.
  const cx = new Array(verts.length).fill(0);
  for (const row of ranks) { let x = 0; for (const v of row) { cx[v] = x + verts[v].width / 2; x += verts[v].width + NODE_GAP; } }
  const gap = (a, b) => (verts[a].width + verts[b].width) / 2 + NODE_GAP;
  for (let it = 0; it < 8; it++) {
    const down = it % 2 === 0;
    const order = down ? [...ranks.keys()] : [...ranks.keys()].reverse();
    for (const r of order) {
      const row = ranks[r];
      const want = row.map((v) => {
        const nb = (down ? verts[v].up : verts[v].down).map((u) => cx[u]).sort((p, q) => p - q);
        return nb.length ? (nb[(nb.length - 1) >> 1] + nb[nb.length >> 1]) / 2 : cx[v];
      });
      const left = want.slice(), right = want.slice();
      for (let i = 1; i < row.length; i++) left[i] = Math.max(want[i], left[i - 1] + gap(row[i - 1], row[i]));
      for (let i = row.length - 2; i >= 0; i--) right[i] = Math.min(want[i], right[i + 1] - gap(row[i], row[i + 1]));
      row.forEach((v, i) => { cx[v] = (left[i] + right[i]) / 2; });
    }
  }
  let minX = Infinity, maxX = -Infinity;
  verts.forEach((v, i) => { minX = Math.min(minX, cx[i] - v.width / 2); maxX = Math.max(maxX, cx[i] + v.width / 2); });
  if (!Number.isFinite(minX)) minX = maxX = 0;

  const top = [], rowHeight = ranks.map((row) => row.reduce((m, v) => Math.max(m, verts[v].height), 0));
  let y = 0;
  for (let r = 0; r < ranks.length; r++) { top[r] = y; y += rowHeight[r] + RANK_GAP; }
  const pos = new Map();
  nodes.forEach((n, i) => pos.set(n.id, { x: cx[i] - n.width / 2 - minX, y: top[verts[i].rank], width: n.width, height: n.height }));

  // Routes leave from the bottom of the source and enter the top of the target; ports spread along each side.
  const spread = (v, list) => {
    const sorted = [...list].sort((p, q) => cx[p] - cx[q]);
    return (u) => cx[v] - minX + (verts[v].width * 0.6) * ((sorted.indexOf(u) + 1) / (sorted.length + 1) - 0.5);
  };
  const outPort = verts.map((v, i) => spread(i, v.down)), inPort = verts.map((v, i) => spread(i, v.up));
  const routes = chains.map((chain, k) => {
    const points = [];
    for (let j = 0; j < chain.length; j++) {
      const v = chain[j], vert = verts[v], yTop = top[vert.rank];
      if (vert.dummy) { points.push({ x: cx[v] - minX, y: yTop }, { x: cx[v] - minX, y: yTop + rowHeight[vert.rank] }); continue; }
      if (j > 0) points.push({ x: inPort[v](chain[j - 1]), y: yTop });
      if (j < chain.length - 1) points.push({ x: outPort[v](chain[j + 1]), y: yTop + vert.height });
    }
    return forward[k].flipped ? points.reverse() : points;
  });
  const edgeRoutes = [];
  let k = 0;
  for (const e of edges) edgeRoutes.push(index.get(e.from) === index.get(e.to) ? [] : routes[k++]);
  return { pos, routes: edgeRoutes, width: maxX - minX, height: Math.max(0, y - RANK_GAP) };
}
