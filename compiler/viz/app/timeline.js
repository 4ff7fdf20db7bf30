// The timeline: a Gantt chart of predicted time. Weight loading (transfers
// before the first section) sits left of zero; sections follow one another,
// coloured by what bounds them; a runtime trace, when given, adds one lane per
// traced thread. Wheel zooms, drag pans, double-click fits, click selects.

const LABEL_W = 96, AXIS_H = 20, LANE_H = 24, LANE_GAP = 6, MAX_TRACE_LANES = 4;

function niceStep(span) {
  const raw = span / 8, p = Math.pow(10, Math.floor(Math.log10(raw)));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) || p * 10;
}

function timelineLanes(plan, view) {
  let clock = 0;
  const load = plan.transfers.filter((t) => t.beforeSection < 0).map((t) => {
    const item = { start: clock, seconds: t.seconds, transfer: t };
    clock += t.seconds;
    return item;
  });
  for (const item of load) item.start -= clock;
  const later = plan.transfers.filter((t) => t.beforeSection >= 0)
    .map((t) => ({ start: view.sectionStart[t.beforeSection] || 0, seconds: 0, transfer: t }));
  const lanes = [{ name: "transfers", items: [...load, ...later] }];
  lanes.push({ name: "sections", items: plan.sections.map((sec, i) => ({ start: view.sectionStart[i], seconds: sec.cost.seconds, section: i })) });
  if (view.trace) {
    const byLane = new Map();
    for (const span of view.trace) {
      if (!byLane.has(span.lane)) byLane.set(span.lane, []);
      byLane.get(span.lane).push({ start: span.start, seconds: span.seconds, span });
    }
    for (const [name, items] of [...byLane].slice(0, MAX_TRACE_LANES)) lanes.push({ name: `measured ${name}`, items, measured: true });
  }
  return { lanes, loadSeconds: clock };
}

function timelineItemTip(plan, item) {
  if (item.section !== undefined) {
    const sec = plan.sections[item.section], c = sec.cost;
    return [`${sec.name}: ${formatSeconds(sec.cost.seconds)} (${BOUND_NAMES[c.bound]}-bound)`,
      `starts at ${formatSeconds(item.start)} · ${sectionSummary(plan, item.section)}`,
      `compute ${formatSeconds(c.computeSeconds)} · HBM ${formatSeconds(c.hbmSeconds)} · DDR ${formatSeconds(c.ddrSeconds)} · SRAM ${formatSeconds(c.sramSeconds)} · overhead ${formatSeconds(c.overheadSeconds)}`,
      "click to select"];
  }
  if (item.transfer) {
    const t = item.transfer;
    return [t.tensor, `${TIER_NAMES[t.from] || t.from} → ${TIER_NAMES[t.to]} · ${formatBytes(t.bytes)} · ${formatSeconds(t.seconds)}`,
      t.beforeSection < 0 ? "at load time, before the first section" : `before ${plan.sections[t.beforeSection].name}`];
  }
  const span = item.span;
  const predicted = span.section !== undefined ? plan.sections[span.section].cost.seconds : undefined;
  return [span.name, `measured ${formatSeconds(span.seconds)} at ${formatSeconds(span.start)}`,
    predicted !== undefined ? `predicted ${formatSeconds(predicted)} (${plan.sections[span.section].name})` : ""];
}

function renderTimeline(plan, view, state) {
  const p = panel("timeline-panel", "Timeline", "predicted time per section; weights load before zero");
  const { lanes, loadSeconds } = timelineLanes(plan, view);
  const total = plan.sections.reduce((sum, sec) => sum + sec.cost.seconds, 0);
  const end = lanes.reduce((m, lane) => lane.items.reduce((mm, it) => Math.max(mm, it.start + it.seconds), m), total);
  const domain = [-loadSeconds, Math.max(end, 1e-12)];
  // Loading weights can take far longer than a run: start on the run, with the load's tail in view.
  const initial = [-Math.min(loadSeconds, 0.15 * domain[1]), domain[1]];
  let v0 = initial[0], v1 = initial[1], width = 800;
  const height = AXIS_H + lanes.length * (LANE_H + LANE_GAP);
  const canvas = h("canvas", { class: "timeline", id: "timeline", "data-sections": plan.sections.length, "data-total-seconds": total });
  const plotW = () => width - LABEL_W - 10;
  const xOf = (t) => LABEL_W + ((t - v0) / (v1 - v0)) * plotW();
  const tOf = (x) => v0 + ((x - LABEL_W) / plotW()) * (v1 - v0);
  const laneY = (i) => AXIS_H + i * (LANE_H + LANE_GAP);

  const colourOf = (item) => {
    if (item.section !== undefined) return BOUND_COLOURS[plan.sections[item.section].cost.bound];
    if (item.transfer) return item.transfer.from === "host" ? "#49a9c4" : "#8e9bb3";
    return item.span.section !== undefined ? "#364152" : "#7a8494";
  };

  const draw = () => {
    const ctx = sizeCanvas(canvas, width, height);
    ctx.font = "11px system-ui";
    ctx.textBaseline = "middle";
    // Axis: ticks at round times, zero marked.
    const step = niceStep(v1 - v0);
    ctx.fillStyle = "#667085";
    ctx.strokeStyle = "#eceef2";
    for (let t = Math.ceil(v0 / step) * step; t <= v1; t += step) {
      const x = xOf(t);
      ctx.beginPath(); ctx.moveTo(x, AXIS_H - 4); ctx.lineTo(x, height); ctx.stroke();
      ctx.fillText(formatSeconds(Math.abs(t) < step / 1e6 ? 0 : t), x + 3, 8);
    }
    if (v0 < 0 && v1 > 0) { ctx.strokeStyle = "#9aa3ad"; ctx.beginPath(); ctx.moveTo(xOf(0), AXIS_H - 4); ctx.lineTo(xOf(0), height); ctx.stroke(); }
    const sel = plan.sections[state.get()];
    if (sel) {
      const a = xOf(view.sectionStart[state.get()]), b = xOf(view.sectionStart[state.get()] + sel.cost.seconds);
      ctx.fillStyle = "rgba(232,89,12,.12)";
      ctx.fillRect(a - 1, AXIS_H, Math.max(2, b - a + 2), height - AXIS_H);
    }
    ctx.save();
    ctx.beginPath(); ctx.rect(LABEL_W, 0, plotW(), height); ctx.clip();
    lanes.forEach((lane, li) => {
      const y = laneY(li);
      ctx.fillStyle = "#f6f7f9";
      ctx.fillRect(LABEL_W, y, plotW(), LANE_H);
      for (const item of lane.items) {
        if (item.start > v1 || item.start + item.seconds < v0) continue;
        const x0 = xOf(item.start), x1 = xOf(item.start + item.seconds);
        ctx.fillStyle = colourOf(item);
        if (item.seconds === 0) ctx.fillRect(x0 - 1, y + 2, 2, LANE_H - 4);
        else ctx.fillRect(x0, y + 2, Math.max(1, x1 - x0 - (x1 - x0 > 3 ? 1 : 0)), LANE_H - 4);
        if (x1 - x0 > 34 && item.section !== undefined) {
          ctx.fillStyle = "#fff";
          ctx.fillText(plan.sections[item.section].name, x0 + 4, y + LANE_H / 2, x1 - x0 - 6);
        }
      }
    });
    if (sel) {
      const a = xOf(view.sectionStart[state.get()]), b = xOf(view.sectionStart[state.get()] + sel.cost.seconds);
      ctx.strokeStyle = "#e8590c"; ctx.lineWidth = 2;
      ctx.strokeRect(a - 1, laneY(1) + 1, Math.max(2, b - a + 2), LANE_H - 2);
    }
    ctx.restore();
    if (v0 > domain[0] && loadSeconds > 0) {
      const text = `◀ weight load ${formatSeconds(loadSeconds)}`;
      ctx.fillStyle = "rgba(255,255,255,.9)";
      ctx.fillRect(LABEL_W + 2, laneY(0) + 4, ctx.measureText(text).width + 8, LANE_H - 8);
      ctx.fillStyle = "#1d2330";
      ctx.fillText(text, LABEL_W + 6, laneY(0) + LANE_H / 2);
    }
    ctx.fillStyle = "#1d2330";
    lanes.forEach((lane, li) => ctx.fillText(lane.name, 4, laneY(li) + LANE_H / 2, LABEL_W - 8));
  };

  const hit = (e) => {
    const rect = canvas.getBoundingClientRect();
    const x = e.clientX - rect.left, y = e.clientY - rect.top;
    const li = Math.floor((y - AXIS_H) / (LANE_H + LANE_GAP));
    const lane = lanes[li];
    if (!lane || x < LABEL_W) return undefined;
    const t = tOf(x), tolerance = (v1 - v0) / plotW() * 2;
    return lane.items.find((it) => it.start - tolerance <= t && t <= it.start + it.seconds + tolerance);
  };

  let drag;
  canvas.addEventListener("mousedown", (e) => { drag = { x: e.clientX, v0, v1, moved: false }; canvas.classList.add("dragging"); });
  window.addEventListener("mouseup", (e) => {
    if (!drag) return;
    const clicked = !drag.moved;
    drag = undefined;
    canvas.classList.remove("dragging");
    if (!clicked) return;
    const item = hit(e);
    if (item && item.section !== undefined) state.set(item.section);
    else if (item && item.span && item.span.section !== undefined) state.set(item.span.section);
  });
  canvas.addEventListener("mousemove", (e) => {
    if (drag) {
      const dt = ((e.clientX - drag.x) / plotW()) * (drag.v1 - drag.v0);
      if (Math.abs(e.clientX - drag.x) > 2) drag.moved = true;
      v0 = drag.v0 - dt; v1 = drag.v1 - dt;
      hideTip();
      return draw();
    }
    const item = hit(e);
    if (item) showTip(e, timelineItemTip(plan, item)); else hideTip();
  });
  canvas.addEventListener("mouseleave", hideTip);
  const zoom = (factor, at) => {
    const span = Math.max((v1 - v0) * factor, (domain[1] - domain[0]) * 1e-6);
    const f = (at - v0) / (v1 - v0);
    v0 = at - f * span; v1 = v0 + span;
    draw();
  };
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const rect = canvas.getBoundingClientRect();
    zoom(e.deltaY > 0 ? 1.25 : 0.8, tOf(e.clientX - rect.left));
  }, { passive: false });
  const fit = () => { [v0, v1] = v0 === domain[0] && v1 === domain[1] ? initial : domain; draw(); };
  canvas.addEventListener("dblclick", fit);
  const focusSection = () => {
    const i = state.get(), sec = plan.sections[i];
    if (!sec) return;
    const mid = view.sectionStart[i] + sec.cost.seconds / 2, span = Math.max(sec.cost.seconds * 12, (domain[1] - domain[0]) / 2000);
    v0 = mid - span / 2; v1 = mid + span / 2;
    draw();
  };
  const button = (label, title, f) => h("button", { title, onclick: f }, label);
  p.head.append(h("div", { class: "toolbar" },
    button("−", "zoom out", () => zoom(1.5, (v0 + v1) / 2)), button("+", "zoom in", () => zoom(1 / 1.5, (v0 + v1) / 2)),
    button("fit", "toggle between the run and everything, weight loading included (or double-click)", fit), button("selected", "zoom to the selected section", focusSection)));
  state.onChange((i) => {
    const sec = plan.sections[i];
    // Follow the selection when it leaves the visible window, keeping the zoom.
    if (sec && (view.sectionStart[i] < v0 || view.sectionStart[i] + sec.cost.seconds > v1)) {
      const span = v1 - v0;
      v0 = Math.max(domain[0], view.sectionStart[i] + sec.cost.seconds / 2 - span / 2); v1 = v0 + span;
    }
    draw();
  });
  const legend = h("div", { class: "legend" },
    Object.entries(BOUND_COLOURS).map(([bound, colour]) => h("span", {}, h("span", { class: "swatch", style: `background:${colour}` }), `${BOUND_NAMES[bound]}-bound`)),
    h("span", {}, h("span", { class: "swatch", style: "background:#8e9bb3" }), "weight load"),
    h("span", {}, h("span", { class: "swatch", style: "background:#49a9c4" }), "host input"),
    view.trace ? h("span", {}, h("span", { class: "swatch", style: "background:#364152" }), "measured (trace)") : null,
    h("span", {}, "· wheel zooms, drag pans, double-click fits"));
  p.root.append(canvas, legend);
  const redraw = () => { width = Math.max(300, p.root.clientWidth - 28); draw(); };
  return { root: p.root, redraw };
}
