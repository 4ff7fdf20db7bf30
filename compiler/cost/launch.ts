// Eager launch: the host issues a forward's kernels one after another, the device runs each
// once it is issued and the one before it has finished. Two stages in a pipeline, host then
// device:
//   issued_i = F + c * (launches of kernels 0..i)      (F: the forward's host work before its
//                                                       first kernel, c: host time per kernel)
//   done_i   = max(issued_i, done_{i-1}) + device_i
// so short kernels wait for the host and a long kernel lets the host run ahead, absorbing the
// waits of the short ones after it. A kernel's share of the forward is done_i - done_{i-1}: the
// shares add up to the forward's time, and each section (one kernel on a GPU) takes its own.
// Source: the measured eager forwards of bench/device/measure_framework.py (the host time per
// kernel as transformers issues them) and the eager prefill profiles of bench/device/h100-grid.json.
// Known weakness: the host time per kernel is one figure for every kernel; a framework spends
// more on some ops (and on views that launch nothing) than on others.

import type { DataflowModule } from "../../ir/dataflow/dataflow.js";

export interface Launched {
  readonly name: string;
  readonly deviceSeconds: number;
  readonly launches: number;
}

/** Each kernel's share of an eager forward (seconds it advances the device's finish), by name. */
export function eagerShares(kernels: readonly Launched[], hostPerKernel: number, hostBefore: number): Map<string, number> {
  const shares = new Map<string, number>();
  let issued = hostBefore, done = 0;
  for (const k of kernels) {
    issued += hostPerKernel * k.launches;
    const finish = Math.max(issued, done) + k.deviceSeconds;
    shares.set(k.name, (shares.get(k.name) ?? 0) + finish - done);
    done = finish;
  }
  return shares;
}

/** A cache of one value per (module, key): every section of a module asks for the same timeline. */
export class PerModule<K extends object, V> {
  private readonly entries = new WeakMap<DataflowModule, WeakMap<K, V>>();

  get(m: DataflowModule, key: K, make: () => V): V {
    let byKey = this.entries.get(m);
    if (!byKey) this.entries.set(m, (byKey = new WeakMap()));
    let value = byKey.get(key);
    if (value === undefined) byKey.set(key, (value = make()));
    return value;
  }
}
