// The selected section is the page's one piece of shared state: the
// floorplan, tier sparklines, timeline and graph all follow it.

function createSectionState(count, initial = 0) {
  let current = Math.max(0, Math.min(count - 1, initial));
  const listeners = [];
  return {
    count,
    get: () => current,
    set(i) {
      const next = Math.max(0, Math.min(count - 1, i));
      if (next === current) return;
      current = next;
      for (const f of listeners) f(current);
    },
    onChange: (f) => listeners.push(f),
  };
}

function sectionSummary(plan, i) {
  const sec = plan.sections[i];
  if (!sec) return "no sections";
  const device = sec.kernels.filter((k) => k.computeUnits > 0 || k.memoryUnits > 0).length;
  return `${device} kernel${device === 1 ? "" : "s"} on ${sec.computeUnits} CU + ${sec.memoryUnits} MU · ` +
    `${formatSeconds(sec.cost.seconds)} · ${BOUND_NAMES[sec.cost.bound]}-bound · II ${formatSeconds(sec.initiationInterval)}`;
}

function renderControls(plan, view, state) {
  const n = plan.sections.length;
  const range = h("input", { type: "range", min: 0, max: Math.max(0, n - 1), value: 0, "aria-label": "section", id: "section-range" });
  const select = h("select", { id: "section-select", "aria-label": "section" },
    plan.sections.map((sec, i) => h("option", { value: i }, `${sec.name} (${i + 1}/${n})`)));
  const name = h("b", {});
  const info = h("div", { class: "info", id: "section-info" }, "Section ", name, " ", h("span", {}));
  const play = h("button", { id: "play", title: "walk through the sections" }, "▶ Play");
  let timer;
  const stop = () => { clearInterval(timer); timer = undefined; play.textContent = "▶ Play"; };
  // A whole walk takes at most ~10 s for small plans; long plans step every 40 ms.
  const stepMs = Math.max(40, Math.min(700, 10000 / Math.max(1, n)));
  play.addEventListener("click", () => {
    if (timer !== undefined) return stop();
    if (state.get() >= n - 1) state.set(0);
    play.textContent = "❚❚ Pause";
    timer = setInterval(() => (state.get() >= n - 1 ? stop() : state.set(state.get() + 1)), stepMs);
  });
  const prev = h("button", { id: "prev", title: "previous section (←)", onclick: () => state.set(state.get() - 1) }, "◀");
  const next = h("button", { id: "next", title: "next section (→)", onclick: () => state.set(state.get() + 1) }, "▶");
  range.addEventListener("input", () => state.set(Number(range.value)));
  select.addEventListener("change", () => state.set(Number(select.value)));
  document.addEventListener("keydown", (e) => {
    if (e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement) return;
    if (e.key === "ArrowLeft") state.set(state.get() - 1);
    if (e.key === "ArrowRight") state.set(state.get() + 1);
  });
  const update = (i) => {
    range.value = String(i);
    select.value = String(i);
    name.textContent = plan.sections[i] ? plan.sections[i].name : "–";
    info.lastChild.textContent = sectionSummary(plan, i);
  };
  state.onChange(update);
  update(state.get());
  return h("div", { class: "controls", id: "controls" }, prev, play, next, range, select, info);
}
