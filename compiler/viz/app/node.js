// The node: every socket of a node-level plan, one row each, with its place in
// the layout (replica, pipeline stage, member of the stage's group), the
// sections it runs, its own peak bytes per tier and the parts of the split
// tensors it holds. Rows of the stage running the selected section are marked;
// clicking a row selects its stage's first section. The chip, tiers and graph
// panels draw the one program a stage's sockets share.

const TIERS_DRAWN = ["sram", "hbm", "ddr"];

function stageColour(stage) {
  return `hsl(${((stage * 137.508 + 200) % 360).toFixed(0)} 55% 58%)`;
}

/** "0–3" for a run of sockets, "0, 2, 4, 6" otherwise. */
function formatSocketList(sockets) {
  const runs = [];
  for (const s of [...sockets].sort((a, b) => a - b)) {
    const last = runs[runs.length - 1];
    if (last && s === last[1] + 1) last[1] = s; else runs.push([s, s]);
  }
  return runs.map(([a, b]) => (a === b ? String(a) : b === a + 1 ? `${a}, ${b}` : `${a}–${b}`)).join(", ");
}

/** The sockets that run a section, and their stage; none on a plan of one socket. */
function socketsRunning(view, section) {
  const running = view.parallel ? view.parallel.perSocket.filter((s) => s.role === "stage" && s.firstSection <= section && section <= s.lastSection) : [];
  return { sockets: running.map((s) => s.socket), stage: running.length ? running[0].stage : -1 };
}

function partsText(parts) {
  if (parts.length === 0) return "whole tensors";
  return parts.map((p) => `part ${p.part + 1}/${p.parts} of ${p.tensors} split tensor${p.tensors === 1 ? "" : "s"}`).join(" · ");
}

function renderNode(plan, view, state) {
  const node = view.parallel, target = view.target;
  const capacity = Object.fromEntries(view.tiers.map((t) => [t.tier, t.capacity]));
  const stageRows = node.perSocket.filter((s) => s.role === "stage");
  // Bars compare sockets with each other (a socket's share of its capacity is often a sliver).
  const most = Object.fromEntries(TIERS_DRAWN.map((t) => [t, Math.max(1, ...stageRows.map((s) => s.bytes[t]))]));
  const sections = (s) => {
    const a = plan.sections[s.firstSection], b = plan.sections[s.lastSection];
    return s.firstSection === s.lastSection ? (a ? a.name : `s${s.firstSection}`) : `${a ? a.name : s.firstSection}–${b ? b.name : s.lastSection}`;
  };
  const tierCell = (s, tier) => {
    if (s.role !== "stage") return h("td", { class: "num muted" }, "–");
    const bytes = s.bytes[tier];
    return h("td", { class: "num", "data-tier": tier, "data-bytes": bytes, title: `${TIER_NAMES[tier]} on socket ${s.socket}: ${formatBytes(bytes)} peak of ${formatBytes(capacity[tier])} (${formatPercent(bytes, capacity[tier])})` },
      h("span", { class: "mini-bar" }, h("span", { class: "mini-fill", style: `width:${(100 * bytes) / most[tier]}%` })), formatBytes(bytes));
  };
  const rows = node.perSocket.map((s) => {
    const attrs = { "data-socket": s.socket, "data-role": s.role, class: s.role === "stage" ? "" : "muted" };
    if (s.role === "idle") return h("tr", attrs, h("td", {}, `socket ${s.socket}`), h("td", { colspan: 9 }, "idle: no part of this layout runs here"));
    if (s.role !== "stage") {
      return h("tr", attrs, h("td", {}, `socket ${s.socket}`),
        h("td", { colspan: 4 }, `the ${s.role} group (${s.layout}): a plan of its own`),
        h("td", { class: "num" }, `${formatSeconds(s.seconds)} ${s.role === "prefill" ? "a prompt" : "a step"}`), h("td", { colspan: 4 }, ""));
    }
    const tr = h("tr", { ...attrs, "data-stage": s.stage, "data-replica": s.replica, "data-member": s.member, title: "click to select this stage's first section" },
      h("td", {}, `socket ${s.socket}`),
      h("td", { class: "num" }, s.replica),
      h("td", {}, h("span", { class: "swatch", style: `background:${stageColour(s.stage)}` }), `stage ${s.stage}`),
      h("td", { class: "num" }, `${s.member + 1} of ${s.group}`),
      h("td", {}, sections(s)),
      h("td", { class: "num" }, formatSeconds(s.seconds)),
      TIERS_DRAWN.map((t) => tierCell(s, t)),
      h("td", {}, partsText(s.parts)));
    tr.addEventListener("click", () => { if (state.get() < s.firstSection || state.get() > s.lastSection) state.set(s.firstSection); });
    return tr;
  });
  const table = h("table", { class: "kernel-table node-table", id: "node-sockets", "data-sockets": node.perSocket.length },
    h("thead", {}, h("tr", {}, h("th", {}, "socket"), h("th", { class: "num" }, "replica"), h("th", {}, "stage"),
      h("th", { class: "num" }, "group member"), h("th", {}, "sections"), h("th", { class: "num" }, "a micro-batch"),
      TIERS_DRAWN.map((t) => h("th", { class: "num" }, `${TIER_NAMES[t]} peak`)), h("th", {}, "holds"))),
    h("tbody", {}, rows));

  const p = plan.parallel;
  const kinds = new Map();
  for (const c of p.collectiveKernels) kinds.set(c.kind, (kinds.get(c.kind) || 0) + 1);
  const collectives = p.collectiveKernels.length
    ? `${p.collectiveKernels.length} collectives in each group (${[...kinds].map(([k, n]) => `${k} ×${n}`).join(", ")}), ${formatSeconds(p.collectiveKernels.reduce((t, c) => t + c.seconds, 0))} of link time`
    : "no collectives";
  const sends = p.sends.length ? `${p.sends.length} send${p.sends.length === 1 ? "" : "s"} between stages` : "";
  const d = p.disaggregation;
  const handOver = d ? `KV cache handed from the prefill to the decode group: ${formatBytes(d.kvBytesPerRequest)} a request, ${formatSeconds(d.kvTransferSeconds)}` : "";
  const running = h("span", {});
  const legend = h("div", { class: "legend" },
    [...new Set(stageRows.map((s) => s.stage))].map((stage) => {
      const first = stageRows.find((s) => s.stage === stage);
      return h("span", { "data-stage": stage }, h("span", { class: "swatch", style: `background:${stageColour(stage)}` }),
        `stage ${stage}: ${sections(first)} on sockets ${formatSocketList(stageRows.filter((s) => s.stage === stage).map((s) => s.socket))}`);
    }),
    h("span", {}, [collectives, sends, handOver].filter(Boolean).join(" · ")), running);
  const mark = () => {
    const { sockets, stage } = socketsRunning(view, state.get());
    const on = new Set(sockets);
    for (const tr of table.tBodies[0].rows) tr.classList.toggle("running", on.has(Number(tr.dataset.socket)));
    const name = plan.sections[state.get()] ? plan.sections[state.get()].name : "–";
    running.textContent = stage >= 0 ? `${name} runs on sockets ${formatSocketList(sockets)} (stage ${stage})` : "";
  };
  state.onChange(mark);
  mark();

  const shape = `${node.replicas} replica${node.replicas === 1 ? "" : "s"} × ${node.stages} stage${node.stages === 1 ? "" : "s"} × groups of ${node.group}`;
  const panelBox = panel("node-panel", "Node", `${target.name}: ${node.layout} over ${node.sockets} sockets · ${shape}`);
  panelBox.root.append(legend,
    h("div", { class: "tier-caption" }, "Each stage's sockets run the same per-socket program on their own parts of the split tensors; the chip, tiers and graph below draw that program."),
    h("div", { class: "table-box node-box" }, table));
  return panelBox.root;
}
