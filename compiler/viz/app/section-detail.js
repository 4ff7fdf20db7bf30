// The selected section up close: its cost terms (the largest sets its time)
// and each kernel's time to stream its tiles on its units. Kernels of a section
// run at once as a pipeline, so their bars all start at zero. Measured spans
// from a trace, when they name the section or a kernel, are drawn beneath.

const ROW_H = 18, NAME_W = 190, VALUE_W = 150;

function renderSectionDetail(plan, view, state) {
  const box = h("div", { class: "detail-box", id: "section-detail" });
  const kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));
  const measuredKernel = new Map(), measuredSection = new Map();
  for (const span of view.trace || []) {
    if (span.kernel !== undefined) measuredKernel.set(span.kernel, (measuredKernel.get(span.kernel) || 0) + span.seconds);
    else if (span.section !== undefined) measuredSection.set(span.section, (measuredSection.get(span.section) || 0) + span.seconds);
  }
  let width = 800;

  const draw = () => {
    const i = state.get(), sec = plan.sections[i];
    if (!sec) return box.replaceChildren(h("div", { class: "muted" }, "The plan has no sections."));
    const c = sec.cost;
    /** @type {{ label: string, seconds: number, colour: string, measured?: number, strong?: boolean, faint?: boolean, note?: string, kernel?: string }[]} */
    const rows = [
      { label: "section total", seconds: c.seconds, colour: BOUND_COLOURS[c.bound], measured: measuredSection.get(i), strong: true },
      ...["compute", "hbm", "ddr", "sram", "overhead"].map((b) => ({
        label: `${BOUND_NAMES[b]}${b === c.bound ? " (bound)" : ""}`, seconds: c[`${b}Seconds`], colour: BOUND_COLOURS[b], faint: b !== c.bound,
      })),
    ];
    const device = sec.kernels.filter((k) => k.computeUnits > 0 || k.memoryUnits > 0);
    device.forEach((k, slot) => {
      const df = kernels.get(k.kernel);
      rows.push({
        label: `${k.kernel} ${df ? df.ops.map(shortOp).join("+") : ""}`, seconds: k.seconds, colour: kernelColour(slot, k.utilisation),
        note: `${(100 * k.utilisation).toFixed(0)}% · ${k.computeUnits} CU`, measured: measuredKernel.get(k.kernel), kernel: k.kernel,
      });
    });
    // Kernels stream at once, each far quicker than the section's memory traffic:
    // they get their own scale, the slowest kernel at full width.
    const scaleOf = (from, to) => rows.slice(from, to).reduce((m, r) => Math.max(m, r.seconds, r.measured || 0), 1e-15);
    const costScale = scaleOf(0, 6), kernelScale = scaleOf(6, rows.length);
    const plotW = Math.max(80, width - NAME_W - VALUE_W);
    const rowH = (r) => (r.measured !== undefined ? ROW_H + 7 : ROW_H);
    const height = rows.reduce((sum, r) => sum + rowH(r), 0) + (device.length ? 28 : 0) + 4;
    const svg = s("svg", { class: "gantt", width, height, "data-section": i, "data-rows": rows.length });
    let y = 2;
    rows.forEach((r, ri) => {
      if (ri === 6 && device.length) {
        svg.append(s("line", { x1: 0, x2: width, y1: y + 4, y2: y + 4, stroke: "#e3e6eb" }),
          s("text", { x: 0, y: y + 20, class: "muted" }, `kernels: time to stream their tiles, pipelined${kernelScale > 1e-15 ? ` (own scale: ${formatSeconds(kernelScale)} full width)` : ""}`));
        y += 28;
      }
      const scale = ri < 6 ? costScale : kernelScale;
      const w = (r.seconds / scale) * plotW;
      const label = r.label.length > 30 ? `${r.label.slice(0, 29)}…` : r.label;
      svg.append(
        s("text", { x: 0, y: y + 12, class: r.faint ? "muted" : "", "font-weight": r.strong ? 650 : 400 }, label),
        s("rect", { x: NAME_W, y: y + 3, width: Math.max(r.seconds > 0 ? 1 : 0, w), height: ROW_H - 6, rx: 2, fill: r.colour, opacity: r.faint ? 0.45 : 1 }),
        s("text", { x: NAME_W + w + 6, y: y + 12, class: "muted" }, `${formatSeconds(r.seconds)}${r.note ? ` · ${r.note}` : ""}`));
      if (r.measured !== undefined) {
        const mw = (r.measured / scale) * plotW;
        svg.append(s("rect", { x: NAME_W, y: y + ROW_H - 1, width: Math.max(1, mw), height: 5, fill: "#364152" }),
          s("text", { x: NAME_W + mw + 6, y: y + ROW_H + 4, class: "muted" }, `measured ${formatSeconds(r.measured)}`));
      }
      y += rowH(r);
    });
    const offChip = sec.kernels.length - device.length;
    box.replaceChildren(
      h("div", { class: "detail-title" }, h("b", {}, sec.name), ` · starts at ${formatSeconds(view.sectionStart[i])} · ${sectionSummary(plan, i)}`,
        offChip ? ` · ${offChip} host/view kernel${offChip === 1 ? "" : "s"} not shown` : ""),
      svg);
  };
  state.onChange(draw);
  const redraw = () => { width = Math.max(400, box.clientWidth - 4); draw(); };
  return { root: box, redraw };
}
