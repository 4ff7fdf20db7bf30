// The memory tiers. Per tier: a bar to scale (peak occupancy of capacity), an
// address map of the tensors live at the peak (zoomed to the used range, since
// a model can use a fraction of a percent of DDR), the bytes by role, and live
// bytes per section with the selected section marked.

function tierMapCanvas(tier, tensors) {
  const canvas = h("canvas", { class: "tier-map", "data-tier": tier.tier });
  const segments = tier.segments;
  const end = segments.reduce((m, g) => Math.max(m, g.offset + g.bytes), 0) || 1;
  const height = 24;
  const draw = (w) => {
    const ctx = sizeCanvas(canvas, w, height);
    ctx.fillStyle = "#eef0f3";
    ctx.fillRect(0, 0, w, height);
    for (const g of segments) {
      const x0 = (g.offset / end) * w, x1 = ((g.offset + g.bytes) / end) * w;
      ctx.fillStyle = ROLE_COLOURS[g.role] || "#999";
      ctx.fillRect(x0, 0, Math.max(0.6, x1 - x0), height);
      if (x1 - x0 > 5) { ctx.fillStyle = "rgba(255,255,255,.8)"; ctx.fillRect(x0, 0, 1, height); }
    }
  };
  canvas.addEventListener("mousemove", (e) => {
    const rect = canvas.getBoundingClientRect();
    const address = ((e.clientX - rect.left) / rect.width) * end;
    const i = findLast(segments, address, (g) => g.offset);
    const g = segments[i];
    if (!g || address > g.offset + g.bytes) {
      return showTip(e, [`free at ${formatAddress(Math.floor(address))}`, "between live tensors (alignment or fragmentation)"]);
    }
    const t = tensors.get(g.tensor);
    showTip(e, [
      g.tensor,
      `${ROLE_NAMES[g.role] || g.role} · ${formatBytes(g.bytes)}${t ? ` · ${formatTensorType(t)}` : ""}`,
      `address ${formatAddress(g.offset)} – ${formatAddress(g.offset + g.bytes)}`,
      `live in sections s${g.firstSection}–s${g.lastSection}`,
    ]);
  });
  canvas.addEventListener("mouseleave", hideTip);
  return { canvas, draw, end };
}

function sparkCanvas(tier, plan, state) {
  const canvas = h("canvas", { class: "tier-spark", "data-tier": tier.tier });
  const live = tier.liveBySection;
  const height = 34;
  let width = 300;
  const max = live.reduce((m, v) => Math.max(m, v), 1);
  const xOf = (i) => ((i + 0.5) / live.length) * width;
  const draw = (w = width) => {
    width = w;
    const ctx = sizeCanvas(canvas, width, height);
    ctx.fillStyle = "#f3f5f8";
    ctx.fillRect(0, 0, width, height);
    // One column per pixel holds the largest value it covers, so peaks never vanish.
    const columns = Math.max(1, Math.floor(width));
    ctx.fillStyle = "rgba(91,127,201,.55)";
    for (let px = 0; px < columns; px++) {
      const a = Math.floor((px / columns) * live.length), b = Math.max(a + 1, Math.floor(((px + 1) / columns) * live.length));
      let v = 0;
      for (let i = a; i < b && i < live.length; i++) v = Math.max(v, live[i]);
      const hgt = (v / max) * (height - 4);
      ctx.fillRect(px, height - hgt, 1, hgt);
    }
    const x = xOf(state.get());
    ctx.fillStyle = "#e8590c";
    ctx.fillRect(Math.round(x) - 1, 0, 2, height);
  };
  canvas.addEventListener("mousemove", (e) => {
    const rect = canvas.getBoundingClientRect();
    const i = Math.min(live.length - 1, Math.floor(((e.clientX - rect.left) / rect.width) * live.length));
    const sec = plan.sections[i];
    showTip(e, [`${sec ? sec.name : `s${i}`}: ${formatBytes(live[i] || 0)} live`, formatPercent(live[i] || 0, tier.capacity) + " of capacity", "click to select this section"]);
  });
  canvas.addEventListener("mouseleave", hideTip);
  canvas.addEventListener("click", (e) => {
    const rect = canvas.getBoundingClientRect();
    state.set(Math.floor(((e.clientX - rect.left) / rect.width) * live.length));
  });
  return { canvas, draw };
}

function roleBreakdown(tier) {
  const byRole = new Map();
  for (const g of tier.segments) {
    const r = byRole.get(g.role) || { bytes: 0, count: 0 };
    r.bytes += g.bytes;
    r.count += 1;
    byRole.set(g.role, r);
  }
  return h("div", { class: "legend" }, [...byRole].sort((a, b) => b[1].bytes - a[1].bytes).map(([role, r]) =>
    h("span", { "data-role": role, "data-bytes": r.bytes },
      h("span", { class: "swatch", style: `background:${ROLE_COLOURS[role] || "#999"}` }),
      `${ROLE_NAMES[role] || role} ${formatBytes(r.bytes)} (${r.count})`)));
}

function renderTiers(plan, view, state) {
  const p = panel("tiers-panel", "Memory tiers", view.parallel
    ? "one socket's peak against its capacity; every socket's in the node panel"
    : "peak occupancy against capacity");
  const tensors = new Map(plan.dataflow.tensors.map((t) => [t.name, t]));
  const redraws = [];
  for (const tier of view.tiers) {
    const drawn = tier.segments.reduce((sum, g) => sum + g.bytes, 0);
    const name = TIER_NAMES[tier.tier];
    const sectionName = plan.sections[tier.peakSection] ? plan.sections[tier.peakSection].name : `s${tier.peakSection}`;
    const fraction = tier.capacity > 0 ? tier.peak / tier.capacity : 0;
    const fill = h("div", { class: `tier-fill${fraction > 0.95 ? " full" : ""}`, style: `width:${Math.min(100, 100 * fraction)}%;${tier.peak > 0 ? "min-width:2px" : ""}` });
    const map = tierMapCanvas(tier, tensors);
    const spark = sparkCanvas(tier, plan, state);
    const liveNow = h("span", {});
    const showLive = () => { liveNow.textContent = `${formatBytes(tier.liveBySection[state.get()] || 0)} live in ${plan.sections[state.get()] ? plan.sections[state.get()].name : "–"}`; };
    showLive();
    const box = h("div", {
      class: "tier", id: `tier-${tier.tier}`, "data-tier": tier.tier,
      // The bytes actually drawn (live tensors at the peak), for checks against plan.occupancy.
      "data-bytes": drawn, "data-peak": tier.peak, "data-capacity": tier.capacity,
      "data-peak-section": tier.peakSection, "data-segments": tier.segments.length,
    },
      h("div", { class: "tier-head" }, h("span", { class: "tier-name" }, name),
        h("span", { class: "tier-numbers" }, `${formatBytes(tier.peak)} peak of ${formatBytes(tier.capacity)} · ${formatPercent(tier.peak, tier.capacity)}`)),
      h("div", { class: "tier-scale", title: `${name}: ${tier.peak} of ${tier.capacity} bytes at the peak (to scale)` }, fill),
      tier.segments.length > 0
        ? [h("div", { class: "tier-caption" }, `${tier.segments.length} tensors live at the peak (${sectionName}), by address: 0 – ${formatBytes(map.end)}`), map.canvas, roleBreakdown(tier)]
        : h("div", { class: "tier-caption" }, "nothing placed here"),
      h("div", { class: "tier-caption" }, "live bytes by section · ", liveNow),
      spark.canvas);
    p.root.append(box);
    state.onChange(() => { spark.draw(); showLive(); });
    redraws.push((w) => { if (tier.segments.length > 0) map.draw(w); spark.draw(w); });
  }
  const redraw = () => { const w = Math.max(200, p.root.clientWidth - 28); for (const f of redraws) f(w); };
  return { root: p.root, redraw };
}
