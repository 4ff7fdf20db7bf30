// The graph: model -> group (layer, or sections outside the layers) -> section
// -> kernel, collapsed to the groups at first. Opening a node lays out only its
// children (layeredLayout, by dagre), so a 7B plan of ~2000 kernels costs one
// small layout per opened group, never one of everything. Edges between kernels are
// lifted to the children of the innermost open node holding both ends, and
// carry the tensor's dtype, shape and tier.

const NODE_H = 40, PAD = 12, HEADER_H = 30, MIN_W = 116, MAX_W = 250, OPEN_SECTIONS_UP_TO = 40;
const LABEL_FONT = "600 12px system-ui", DETAIL_FONT = "11px system-ui";

const KIND_COLOURS = {
  matmul: "#4f7cd6", conv: "#3f63b8", attention: "#8e5cc7", norm: "#b06ac4", softmax: "#c75c8e",
  elementwise: "#3a9b7a", gather: "#49a9c4", layout: "#e8a33d", pool: "#6aa84f", view: "#c4c9d1", host: "#98a2b3",
};

function kernelInfo(plan, view, kernelIndex, state) {
  const k = plan.dataflow.kernels[kernelIndex];
  const tensors = plan.dataflow.tensors, byName = new Map(tensors.map((t, i) => [t.name, i]));
  const sectionIndex = plan.sections.findIndex((sec) => sec.kernels.some((a) => a.kernel === k.name));
  const alloc = sectionIndex >= 0 ? plan.sections[sectionIndex].kernels.find((a) => a.kernel === k.name) : undefined;
  const tensorLine = (name, reads) => {
    const i = byName.get(name);
    const where = i === undefined ? "" : `${formatTensorType(tensors[i])} · ${HOME_NAMES[view.tensorHome[i]]}`;
    return h("li", {}, h("span", { class: "mono" }, name), h("span", { class: "muted" }, ` ${where}${reads ? ` · reads ${formatBytes(reads)}` : ""}`));
  };
  const row = (key, value) => [h("dt", {}, key), h("dd", {}, value)];
  const nodesShown = k.nodes.slice(0, 8).join(", ") + (k.nodes.length > 8 ? ` … (${k.nodes.length})` : "");
  const sectionLink = h("a", { href: "#", onclick: (e) => { e.preventDefault(); state.set(sectionIndex); } }, plan.sections[sectionIndex] ? plan.sections[sectionIndex].name : "–");
  return h("div", { class: "info", "data-kernel": k.name },
    h("h3", {}, `${k.name} · ${k.ops.map(shortOp).join("+")}`),
    h("dl", {},
      row("kind", k.kind), row("section", sectionLink),
      row("units", alloc ? `${alloc.computeUnits} CU, ${alloc.memoryUnits} MU` : "–"),
      row("utilisation", alloc ? `${(100 * alloc.utilisation).toFixed(0)}%` : "–"),
      row("stream time", alloc ? formatSeconds(alloc.seconds) : "–"),
      row("FLOPs", formatCount(k.flops)),
      row("tiles", k.tiling.tiles ? `${k.tiling.tiles} × [${k.tiling.tileShape.join(",")}]` : "–"),
      row("buffers", formatBytes(k.bufferBytes)), row("dtype", k.dtype), row("graph nodes", nodesShown)),
    h("b", {}, "inputs"), h("ul", {}, k.inputs.map((t) => tensorLine(t, k.reads[t]))),
    h("b", {}, "outputs"), h("ul", {}, k.outputs.map((t) => tensorLine(t))));
}

function edgePath(points) {
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length; i++) {
    const p = points[i - 1], q = points[i], my = (p.y + q.y) / 2;
    d += Math.abs(p.x - q.x) < 0.5 ? ` L${q.x},${q.y}` : ` C${p.x},${my} ${q.x},${my} ${q.x},${q.y}`;
  }
  return d;
}

/**
 * Where an edge's label goes: the first spot along its route, from the target
 * end back (edges sharing a trunk part ways there), that overlaps no node and
 * no other label. None when all clash: the edge's tooltip still tells.
 */
function labelSpot(points, width, taken) {
  const clash = (x, y) => taken.some((r) => x - width / 2 < r.x + r.width && r.x < x + width / 2 && y - 7 < r.y + r.height && r.y < y + 7);
  for (let i = points.length - 1; i > 0; i--) {
    const p = points[i - 1], q = points[i];
    for (const f of [0.5, 0.3, 0.7]) {
      const x = p.x + (q.x - p.x) * f, y = p.y + (q.y - p.y) * f;
      if (!clash(x, y)) { taken.push({ x: x - width / 2, y: y - 7, width, height: 14 }); return { x, y }; }
    }
  }
  return undefined;
}

function renderGraph(plan, view, state) {
  const nodes = view.graph.nodes, kernelEdges = view.graph.edges;
  const depth = nodes.map(() => 0);
  for (const n of nodes) depth[n.id] = n.parent >= 0 ? depth[n.parent] + 1 : 0; // parents come before children
  const ancestorAt = (id, d) => { let v = id; while (depth[v] > d) v = nodes[v].parent; return v; };
  // Sections each node spans, to outline closed groups that hold the selected section.
  const span = nodes.map((n) => [n.section, n.section]);
  for (let i = nodes.length - 1; i > 0; i--) {
    const p = span[nodes[i].parent];
    p[0] = Math.min(p[0], span[i][0]); p[1] = Math.max(p[1], span[i][1]);
  }
  const expanded = new Set([0]);
  const edgeCache = new Map(), layoutCache = new Map();
  const isOpen = (id) => expanded.has(id) && nodes[id].children.length > 0;

  const childEdges = (id) => {
    if (edgeCache.has(id)) return edgeCache.get(id);
    const d = depth[id], lifted = new Map();
    for (const [a, b, t] of kernelEdges) {
      if (depth[a] <= d || depth[b] <= d || ancestorAt(a, d) !== id || ancestorAt(b, d) !== id) continue;
      const from = ancestorAt(a, d + 1), to = ancestorAt(b, d + 1);
      if (from === to) continue;
      const key = `${from}>${to}`;
      if (!lifted.has(key)) lifted.set(key, { from, to, tensors: new Set() });
      lifted.get(key).tensors.add(t);
    }
    const list = [...lifted.values()].map((e) => ({ ...e, tensors: [...e.tensors] }));
    edgeCache.set(id, list);
    return list;
  };
  const boxDetail = (n) => (n.kernel !== undefined ? `${n.detail} · ${formatSeconds(n.seconds)}` : n.detail);
  const boxLabel = (n) => `${n.children.length ? "+ " : ""}${n.label}`;
  const boxSize = (id) => {
    const n = nodes[id];
    const w = Math.max(textWidth(boxLabel(n), LABEL_FONT), textWidth(boxDetail(n), DETAIL_FONT)) + 26;
    return { width: Math.round(Math.max(MIN_W, Math.min(MAX_W, w))), height: NODE_H };
  };
  const layoutOf = (id) => {
    if (layoutCache.has(id)) return layoutCache.get(id);
    const children = nodes[id].children.map((c) => ({ id: c, ...sizeOf(c) }));
    const edges = childEdges(id);
    const inner = layeredLayout(children, edges);
    const head = textWidth(nodes[id].label, LABEL_FONT) + textWidth(nodes[id].detail, DETAIL_FONT) + 60;
    const result = { inner, edges, size: { width: Math.ceil(Math.max(inner.width, head) + 2 * PAD), height: Math.ceil(inner.height + HEADER_H + PAD) } };
    layoutCache.set(id, result);
    return result;
  };
  const sizeOf = (id) => (isOpen(id) ? layoutOf(id).size : boxSize(id));

  const svg = s("svg", { class: "graph", id: "graph" });
  const box = h("div", { class: "graph-box" }, svg);
  const hint = "Click a group to open it, its header to close it, a kernel for its details. Orange: the selected section.";
  const info = h("div", { class: "info", id: "graph-info" }, h("p", { class: "muted" }, hint));
  let chosen = -1;

  const toggle = (id) => {
    if (expanded.has(id)) expanded.delete(id);
    else {
      expanded.add(id);
      // Opening a layer shows its kernels: section parts inside open with it unless they are large.
      for (const c of nodes[id].children) if (nodes[c].level === "section" && nodes[c].kernels <= OPEN_SECTIONS_UP_TO) expanded.add(c);
    }
    for (let v = id; v >= 0; v = nodes[v].parent) layoutCache.delete(v);
    hideTip(); // the node under the pointer is about to be replaced
    draw();
  };
  const choose = (id) => {
    chosen = id;
    info.replaceChildren(kernelInfo(plan, view, nodes[id].kernel, state));
    const sec = nodes[id].section;
    if (sec !== state.get()) state.set(sec); else markSection();
  };

  const drawEdge = (e, points, taken) => {
    if (!points || points.length < 2) return null;
    const first = e.tensors[0], home = view.tensorHome[first], t = plan.dataflow.tensors[first];
    const text = e.tensors.length === 1 ? `${formatTensorType(t)} · ${HOME_NAMES[home]}` : `${e.tensors.length} tensors · ${formatTensorType(t)} …`;
    const tw = textWidth(text, "10px monospace") + 6;
    const spot = labelSpot(points, tw, taken);
    const g = s("g", { class: "edge-group", "data-tensors": e.tensors.length },
      s("path", { class: "edge", d: edgePath(points), stroke: HOME_COLOURS[home], "marker-end": `url(#arrow-${home})` }),
      s("path", { d: edgePath(points), stroke: "transparent", "stroke-width": 8, fill: "none" }),
      spot ? s("rect", { class: "label-bg", x: spot.x - tw / 2, y: spot.y - 7, width: tw, height: 13, rx: 3 }) : null,
      spot ? s("text", { class: "edge-label", x: spot.x, y: spot.y + 3, "text-anchor": "middle" }, text) : null);
    g.addEventListener("mousemove", (ev) => showTip(ev, [
      `${e.tensors.length} tensor${e.tensors.length === 1 ? "" : "s"} from ${nodes[e.from].label} to ${nodes[e.to].label}`,
      ...e.tensors.slice(0, 12).map((i) => `${plan.dataflow.tensors[i].name}: ${formatTensorType(plan.dataflow.tensors[i])} · ${HOME_NAMES[view.tensorHome[i]]}`),
      e.tensors.length > 12 ? `… ${e.tensors.length - 12} more` : "",
    ]));
    g.addEventListener("mouseleave", hideTip);
    return g;
  };

  const drawNode = (id, x, y) => {
    const n = nodes[id], open = isOpen(id), size = sizeOf(id);
    const g = s("g", {
      class: `node level-${n.level}`, transform: `translate(${x},${y})`, "data-node-id": id, "data-level": n.level,
      "data-label": n.label, "data-expanded": open ? "true" : "false", "data-kernels": n.kernels,
      "data-section": n.level === "kernel" || n.level === "section" ? n.section : undefined,
    });
    if (open) {
      const header = s("rect", { class: "header", width: size.width, height: HEADER_H });
      const labelW = textWidth(`− ${n.label}`, LABEL_FONT);
      g.append(s("rect", { class: "frame", width: size.width, height: size.height, rx: 8 }), header,
        s("text", { x: 12, y: 19, "font-weight": 650 }, `${id === 0 ? "" : "− "}${n.label}`),
        s("text", { class: "detail", x: 24 + labelW, y: 19 }, `${n.detail} · ${formatSeconds(n.seconds)}`));
      if (id !== 0) header.addEventListener("click", (e) => { e.stopPropagation(); toggle(id); });
      const { inner, edges } = layoutOf(id);
      const body = s("g", { transform: `translate(${PAD},${HEADER_H})` });
      const taken = [...inner.pos.values()];
      edges.forEach((e, k) => { const el = drawEdge(e, inner.routes[k], taken); if (el) body.append(el); });
      for (const c of n.children) { const pos = inner.pos.get(c); body.append(drawNode(c, pos.x, pos.y)); }
      g.append(body);
      return g;
    }
    const kernel = n.kernel !== undefined ? plan.dataflow.kernels[n.kernel] : undefined;
    const offChip = kernel && (kernel.kind === "view" || kernel.kind === "host");
    g.append(s("rect", { class: "box", width: size.width, height: size.height, rx: 6, "stroke-dasharray": offChip ? "3 2" : undefined }));
    if (kernel) g.append(s("rect", { class: "kind-bar", x: 0.5, y: 0.5, width: 5, height: size.height - 1, rx: 2, fill: KIND_COLOURS[kernel.kind] || "#98a2b3" }));
    g.append(s("text", { x: 12, y: 17, "font-weight": 600 }, clipText(boxLabel(n), size.width - 20, LABEL_FONT)),
      s("text", { class: "detail", x: 12, y: 32 }, clipText(boxDetail(n), size.width - 20, DETAIL_FONT)));
    g.addEventListener("click", (e) => { e.stopPropagation(); if (n.children.length) toggle(id); else if (kernel) choose(id); });
    g.addEventListener("mousemove", (e) => showTip(e, [n.label, n.detail, `predicted ${formatSeconds(n.seconds)} (its share of its sections)`,
      n.children.length ? "click to open" : kernel ? "click for details" : ""]));
    g.addEventListener("mouseleave", hideTip);
    return g;
  };

  const markSection = () => {
    const sel = state.get();
    for (const g of svg.querySelectorAll("g.node")) {
      const id = Number(g.dataset.nodeId), n = nodes[id];
      const inSection = n.level === "kernel" || n.level === "section" ? n.section === sel
        : g.dataset.expanded !== "true" && n.level !== "model" && span[id][0] <= sel && sel <= span[id][1];
      g.classList.toggle("in-section", inSection);
      g.classList.toggle("chosen", id === chosen);
    }
  };

  const defs = () => s("defs", {}, Object.entries(HOME_COLOURS).map(([home, colour]) =>
    s("marker", { id: `arrow-${home}`, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" },
      s("path", { d: "M0,0 L10,5 L0,10 z", fill: colour }))));

  const draw = () => {
    const started = performance.now();
    const size = sizeOf(0);
    svg.replaceChildren(defs(), drawNode(0, 8, 8));
    svg.setAttribute("width", size.width + 16);
    svg.setAttribute("height", size.height + 16);
    markSection();
    svg.dataset.visibleNodes = String(svg.querySelectorAll("g.node").length);
    svg.dataset.drawMs = (performance.now() - started).toFixed(1);
  };
  state.onChange(markSection);
  draw();

  const legend = h("div", { class: "legend" },
    Object.entries(HOME_COLOURS).filter(([home]) => home !== "none").map(([home, colour]) =>
      h("span", {}, h("span", { class: "swatch", style: `background:${colour}` }), `edge: ${HOME_NAMES[home]}`)),
    h("span", {}, "· dashed box: host or view kernel (no units)"));
  const p = panel("graph-panel", "Graph", `${nodes.filter((n) => n.level === "group").length} groups · ${plan.dataflow.kernels.length} kernels · open a group to lay out its kernels`);
  p.root.append(legend, h("div", { class: "graph-layout" }, box, info));
  return p.root;
}
