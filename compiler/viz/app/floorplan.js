// The chip: compute units (squares) and memory units (dots) in a checkerboard,
// as on SN40L-like tiles, coloured by the kernel placed on them in the selected
// section. Units are given to kernels contiguously, in the section's order;
// colour depth shows each kernel's utilisation.

/** Grid cells in reading order; each is a compute or memory unit with its index. */
function floorplanCells(computeUnits, memoryUnits) {
  const total = computeUnits + memoryUnits;
  let cols = Math.max(2, Math.round(Math.sqrt(total * 1.8)));
  if (cols % 2 === 1) cols += 1;
  const rows = Math.ceil(total / cols);
  const cells = [];
  let c = 0, m = 0;
  for (let r = 0; r < rows; r++) {
    for (let col = 0; col < cols && cells.length < total; col++) {
      // Alternate kinds like a checkerboard; once one kind runs out, the other fills in.
      const compute = (r + col) % 2 === 0 ? c < computeUnits : m >= memoryUnits;
      cells.push({ r, col, compute, unit: compute ? c++ : m++ });
    }
  }
  return { cells, cols, rows };
}

/** Which kernel (slot in the section's device kernels) owns each unit. */
function unitOwners(plan, target, sectionIndex) {
  const compute = new Int32Array(target.compute.units).fill(-1);
  const memory = new Int32Array(target.sram.units).fill(-1);
  const slots = [];
  const sec = plan.sections[sectionIndex];
  let c = 0, m = 0;
  for (const k of sec ? sec.kernels : []) {
    if (k.computeUnits === 0 && k.memoryUnits === 0) continue;
    const slot = slots.length;
    slots.push(k);
    for (let i = 0; i < k.computeUnits && c < compute.length; i++) compute[c++] = slot;
    for (let i = 0; i < k.memoryUnits && m < memory.length; i++) memory[m++] = slot;
  }
  return { compute, memory, slots };
}

function renderFloorplan(plan, view, state) {
  const target = view.target;
  const { cells, cols, rows } = floorplanCells(target.compute.units, target.sram.units);
  let cell = Math.max(7, Math.min(40, Math.floor(600 / cols)));
  const canvas = h("canvas", {
    class: "floorplan", id: "floorplan",
    "data-compute-units": target.compute.units, "data-memory-units": target.sram.units, "data-cells": cells.length,
  });
  const kernels = new Map(plan.dataflow.kernels.map((k) => [k.name, k]));
  const tableBody = h("tbody", {});
  const table = h("table", { class: "kernel-table", id: "unit-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "kernel"), h("th", {}, "ops"), h("th", { class: "num" }, "CU"),
      h("th", { class: "num" }, "MU"), h("th", { class: "num" }, "utilisation"), h("th", { class: "num" }, "stream time"))),
    tableBody);
  const note = h("div", { class: "legend" });
  let owners, highlight = -1;

  const draw = () => {
    const ctx = sizeCanvas(canvas, cols * cell, rows * cell);
    let colouredCompute = 0, colouredMemory = 0;
    for (const c of cells) {
      const owner = c.compute ? owners.compute[c.unit] : owners.memory[c.unit];
      const k = owner >= 0 ? owners.slots[owner] : undefined;
      const dim = highlight >= 0 && owner !== highlight;
      const x = c.col * cell, y = c.r * cell;
      if (c.compute) {
        if (k) colouredCompute++;
        ctx.fillStyle = k ? kernelColour(owner, k.utilisation) : "#e4e7ec";
        ctx.globalAlpha = dim ? 0.25 : 1;
        ctx.fillRect(x + 0.5, y + 0.5, cell - 1, cell - 1);
      } else {
        if (k) colouredMemory++;
        ctx.fillStyle = "#f6f7f9";
        ctx.globalAlpha = 1;
        ctx.fillRect(x + 0.5, y + 0.5, cell - 1, cell - 1);
        ctx.fillStyle = k ? kernelColour(owner, k.utilisation, 8) : "#d5d9e0";
        ctx.globalAlpha = dim ? 0.25 : 1;
        ctx.beginPath();
        ctx.arc(x + cell / 2, y + cell / 2, cell * 0.3, 0, Math.PI * 2);
        ctx.fill();
      }
    }
    ctx.globalAlpha = 1;
    canvas.dataset.section = String(state.get());
    canvas.dataset.colouredCompute = String(colouredCompute);
    canvas.dataset.colouredMemory = String(colouredMemory);
    // A compact fingerprint of the colouring, so a test can tell two sections' pictures apart.
    canvas.dataset.colouring = owners.slots.map((k) => `${k.kernel}:${k.computeUnits}/${k.memoryUnits}`).join(",");
  };

  const fillTable = () => {
    const rowsOut = owners.slots.map((k, slot) => {
      const df = kernels.get(k.kernel);
      const tr = h("tr", { "data-kernel": k.kernel },
        h("td", {}, h("span", { class: "swatch", style: `background:${kernelColour(slot, k.utilisation)}` }), k.kernel),
        h("td", {}, df ? df.ops.map(shortOp).join("+") : ""),
        h("td", { class: "num" }, k.computeUnits), h("td", { class: "num" }, k.memoryUnits),
        h("td", { class: "num" }, `${(100 * k.utilisation).toFixed(0)}%`), h("td", { class: "num" }, formatSeconds(k.seconds)));
      tr.addEventListener("mouseenter", () => { highlight = slot; draw(); });
      tr.addEventListener("mouseleave", () => { highlight = -1; draw(); });
      return tr;
    });
    tableBody.replaceChildren(...rowsOut);
    const sec = plan.sections[state.get()];
    const offChip = sec ? sec.kernels.length - owners.slots.length : 0;
    const used = sec ? `${sec.computeUnits} of ${target.compute.units} compute and ${sec.memoryUnits} of ${target.sram.units} memory units in use` : "";
    const on = socketsRunning(view, state.get());
    note.replaceChildren(
      h("span", {}, h("span", { class: "swatch" , style: "background:#7f9fdc" }), "compute unit"),
      h("span", {}, h("span", { class: "swatch round", style: "background:#9fb7e6" }), "memory unit"),
      h("span", {}, "deeper colour = higher utilisation"),
      h("span", {}, used + (offChip > 0 ? ` · ${offChip} host/view kernel${offChip === 1 ? "" : "s"} take no units` : "")),
      on.stage >= 0 ? h("span", { id: "chip-sockets" }, `${sec.name} runs on each of sockets ${formatSocketList(on.sockets)} (stage ${on.stage})`) : null);
  };

  const update = () => { owners = unitOwners(plan, target, state.get()); highlight = -1; draw(); fillTable(); };

  canvas.addEventListener("mousemove", (e) => {
    const rect = canvas.getBoundingClientRect();
    const col = Math.floor((e.clientX - rect.left) / cell), r = Math.floor((e.clientY - rect.top) / cell);
    const c = cells[r * cols + col];
    if (!c || col >= cols) return hideTip();
    const owner = c.compute ? owners.compute[c.unit] : owners.memory[c.unit];
    const k = owner >= 0 ? owners.slots[owner] : undefined;
    const df = k && kernels.get(k.kernel);
    showTip(e, [
      `${c.compute ? "compute" : "memory"} unit ${c.unit}`,
      k ? `${k.kernel} ${df ? df.ops.map(shortOp).join("+") : ""}` : "idle in this section",
      k && `utilisation ${(100 * k.utilisation).toFixed(0)}% · ${k.computeUnits} CU, ${k.memoryUnits} MU`,
    ]);
  });
  canvas.addEventListener("mouseleave", hideTip);
  state.onChange(update);
  update();

  const p = panel("chip-panel", "Chip", `${target.name}${view.parallel ? ", one socket" : ""}: ${target.compute.units} compute units, ${target.sram.units} memory units of ${formatBytes(target.sram.bytesPerUnit)}`);
  p.root.append(canvas, note, h("div", { class: "table-box" }, table));
  // Cells as large as the panel allows, within reason: a 32-unit chip should not fill the screen.
  const redraw = () => { cell = Math.max(6, Math.min(56, Math.floor((p.root.clientWidth - 28) / cols), Math.floor(440 / rows))); draw(); };
  return { root: p.root, redraw };
}
