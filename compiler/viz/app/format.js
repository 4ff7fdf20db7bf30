// Number formats and the colour scheme shared by every panel.

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

function formatBytes(n) {
  let v = n, u = 0;
  while (Math.abs(v) >= 1024 && u < BYTE_UNITS.length - 1) { v /= 1024; u++; }
  return u === 0 ? `${n} B` : `${v.toFixed(v >= 100 ? 1 : 2)} ${BYTE_UNITS[u]}`;
}

function formatSeconds(s) {
  const a = Math.abs(s);
  if (a === 0) return "0 s";
  if (a >= 1) return `${s.toFixed(3)} s`;
  if (a >= 1e-3) return `${(s * 1e3).toFixed(a >= 1e-1 ? 1 : 3)} ms`;
  if (a >= 1e-6) return `${(s * 1e6).toFixed(2)} µs`;
  return `${(s * 1e9).toFixed(a >= 1e-9 ? 1 : 3)} ns`;
}

function formatCount(n) {
  const a = Math.abs(n);
  if (a >= 1e12) return `${(n / 1e12).toFixed(2)} T`;
  if (a >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (a >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (a >= 1e3) return `${(n / 1e3).toFixed(2)} K`;
  return String(n);
}

function formatPercent(part, whole) {
  if (!(whole > 0)) return "–";
  const f = part / whole;
  return f > 0 && f < 1e-4 ? "< 0.01%" : `${(100 * f).toFixed(f < 0.01 ? 2 : 1)}%`;
}

function formatTensorType(t) {
  return t ? `${t.dtype}[${t.shape.join(",")}]` : "?";
}

function formatAddress(n) {
  return `0x${n.toString(16)}`;
}

function shortOp(op) {
  return op.replace(/^tierflow\./, "");
}

const BOUND_COLOURS = { compute: "#4f7cd6", hbm: "#e08a2e", ddr: "#c0503a", sram: "#3a9b7a", overhead: "#a3abb6" };
const BOUND_NAMES = { compute: "compute", hbm: "HBM", ddr: "DDR", sram: "SRAM", overhead: "overhead" };

const ROLE_COLOURS = {
  weight: "#4f7cd6", "kv-cache": "#8e5cc7", activation: "#e8a33d", buffers: "#3a9b7a",
  input: "#49a9c4", output: "#c75c8e", constant: "#8a96a8",
};
const ROLE_NAMES = {
  weight: "weights", "kv-cache": "KV cache", activation: "activations", buffers: "stage buffers",
  input: "inputs", output: "outputs", constant: "constants",
};

const HOME_COLOURS = { hbm: "#d9822b", ddr: "#b5523b", stream: "#3a9b7a", host: "#98a2b3", none: "#c4c9d1" };
const HOME_NAMES = { hbm: "HBM", ddr: "DDR", stream: "stream", host: "host", none: "unplaced" };

const TIER_NAMES = { sram: "SRAM", hbm: "HBM", ddr: "DDR", host: "host" };

/** Kernels in one section get hues a golden angle apart, so neighbours differ; busier kernels are deeper. */
function kernelColour(slot, utilisation, lighter = 0) {
  const hue = (slot * 137.508 + 215) % 360;
  const u = Math.max(0, Math.min(1, utilisation));
  return `hsl(${hue.toFixed(0)} 62% ${(78 - 30 * u + lighter).toFixed(0)}%)`;
}
