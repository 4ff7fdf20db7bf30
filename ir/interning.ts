// One object per distinct value. IR objects are immutable, so values of equal
// type, shape or tiling may share one: a chain of 200,000 nodes of one type
// then keeps one type object and one shape array, not 200,000 of each (each a
// few dozen bytes, and an array grown by push holds room for 17 elements).

import type { Dim } from "./symbolic.js";

/** A key that tells dim lists apart: a symbolic dim is prefixed with its length, so no dim's text can pass for another's. */
export function dimsKey(dims: readonly Dim[]): string {
  let key = "";
  for (const d of dims) key += typeof d === "number" ? `${d},` : `s${d.length}:${d},`;
  return key;
}

/** A table of first-seen values by key; `keyOf` must give equal keys exactly to values equal in every field. */
export class Interner<T> {
  private readonly table = new Map<string, T>();

  constructor(private readonly keyOf: (value: T) => string) {}

  /** The first value seen equal to `value`, or `value` itself. */
  intern(value: T): T {
    const key = this.keyOf(value);
    const seen = this.table.get(key);
    if (seen !== undefined) return seen;
    this.table.set(key, value);
    return value;
  }
}
