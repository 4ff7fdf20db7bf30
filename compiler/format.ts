// Human-readable numbers for reports.

import type { Dim } from "../ir/symbolic.js";

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

export function formatBytes(n: number): string {
  let v = n, u = 0;
  while (Math.abs(v) >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(2)} ${UNITS[u]}`;
}

export function formatCount(n: number): string {
  if (Math.abs(n) >= 1e12) return `${(n / 1e12).toFixed(2)} T`;
  if (Math.abs(n) >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (Math.abs(n) >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (Math.abs(n) >= 1e3) return `${(n / 1e3).toFixed(2)} K`;
  return String(n);
}

/** A dim that may be symbolic: numbers get a readable form beside the exact value. */
export function formatDimCount(d: Dim, unit: "bytes" | "count"): string {
  if (typeof d !== "number") return d;
  return unit === "bytes" ? `${formatBytes(d)} (${d})` : `${formatCount(d)} (${d})`;
}

export function formatShape(shape: readonly Dim[] | null): string {
  return shape ? `[${shape.join(", ")}]` : "[*]";
}

/** Seconds in the unit that reads best: s, ms, us or ns. */
export function formatSeconds(s: number): string {
  if (s >= 1) return `${s.toFixed(3)} s`;
  if (s >= 1e-3) return `${(s * 1e3).toFixed(3)} ms`;
  if (s >= 1e-6 || s === 0) return `${(s * 1e6).toFixed(2)} us`;
  return `${(s * 1e9).toFixed(2)} ns`;
}
