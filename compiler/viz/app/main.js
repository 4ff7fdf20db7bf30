// Reads the embedded plan and view model and builds the page. The panels share
// one piece of state, the selected section.

function readEmbedded(id) {
  const node = document.getElementById(id);
  return JSON.parse(node ? node.textContent : "null");
}

function main() {
  const started = performance.now();
  const plan = readEmbedded("plan-data"), view = readEmbedded("view-data");
  const app = document.getElementById("app");
  // Open on the first section that does work on the chip, not on the host's shape arithmetic before it.
  const opening = plan.sections.findIndex((s) => s.cost.seconds > 0 && s.kernels.some((k) => k.computeUnits > 0));
  const state = createSectionState(Math.max(1, plan.sections.length), Math.max(0, opening));
  const tiers = renderTiers(plan, view, state);
  const timeline = renderTimeline(plan, view, state);
  const detail = renderSectionDetail(plan, view, state);
  const floorplan = renderFloorplan(plan, view, state);
  timeline.root.append(detail.root);
  app.replaceChildren(
    h("header", { class: "page-head" }, h("h1", {}, "tierflow plan"),
      h("span", { class: "sub" }, `${plan.model.file} on ${view.target.name}${view.parallel ? ` (${view.parallel.layout} over ${view.parallel.sockets} sockets)` : ""} · -O${plan.options.opt} · ${plan.options.phase}`)),
    renderSummary(plan, view),
    renderControls(plan, view, state),
    view.parallel ? renderNode(plan, view, state) : null,
    h("div", { class: "grid-two" }, floorplan.root, tiers.root),
    timeline.root,
    renderGraph(plan, view, state),
    renderPasses(view));
  // Canvases that fill their panel are sized once the panels are in the page, and again on resize.
  const fit = () => { floorplan.redraw(); tiers.redraw(); timeline.redraw(); detail.redraw(); };
  fit();
  let pending;
  window.addEventListener("resize", () => { clearTimeout(pending); pending = setTimeout(fit, 120); });
  document.body.dataset.ready = "true";
  document.body.dataset.renderMs = (performance.now() - started).toFixed(0);
}

try {
  main();
} catch (err) {
  document.getElementById("app").replaceChildren(h("div", { class: "error" }, `The plan could not be drawn: ${err && err.message ? err.message : err}`));
  throw err;
}
