// Measured efficiency curves (a target's `efficiency.curves`, targets/target.schema.json):
// points [x, y], y the fraction of a peak a kernel of size x reached. Between points y is
// linear in log x (the microbenchmarks step sizes geometrically); above the last point it
// holds the last value. Below the first point of a bytes or FLOPs curve the kernel takes the
// first point's time: there the per-kernel cost (launch or graph replay) is what was measured,
// and a smaller kernel costs no less.

import type { EfficiencyCurve } from "../../targets/target.js";

/** y of the curve at x (x > 0), ends held. */
export function curveValue(curve: EfficiencyCurve, x: number): number {
  const p = curve.points;
  if (x <= p[0]![0]) return p[0]![1];
  const last = p[p.length - 1]!;
  if (x >= last[0]) return last[1];
  let i = 1;
  while (p[i]![0] < x) i++;
  const [x0, y0] = p[i - 1]!, [x1, y1] = p[i]!;
  if (x0 <= 0) return y0 + ((y1 - y0) * (x - x0)) / (x1 - x0);
  const t = Math.log(x / x0) / Math.log(x1 / x0);
  return y0 + t * (y1 - y0);
}

/**
 * Seconds to do `work` (bytes or FLOPs) in a kernel whose size on the curve's axis is `x`, at
 * the curve's efficiency of `peak` (bytes/s or FLOP/s). Below the first point of a bytes or
 * FLOPs curve the kernel takes the first point's time, scaled by the share of the kernel `work`
 * is (work / x).
 */
export function curveSeconds(curve: EfficiencyCurve, x: number, work: number, peak: number): number {
  if (work <= 0) return 0;
  const [x0, y0] = curve.points[0]!;
  if (curve.x !== "rows" && x < x0 && x > 0) return (x0 / (y0 * peak)) * (work / x);
  return work / (curveValue(curve, Math.max(x, Number.MIN_VALUE)) * peak);
}
