// Records keyed by names a user chose (ONNX value names, opset domains). A
// plain object inherits Object.prototype: `reads["constructor"]` finds a
// function and `reads["__proto__"] = n` sets no key at all. So such records
// are built from a Map in one step, every name an own key (as JSON.parse and
// the text readers build them), and read through own keys only.

/** The entries as a record of own keys: `__proto__` and `constructor` are keys like any other. */
export function recordOf<T>(entries: ReadonlyMap<string, T>): Record<string, T> {
  return Object.fromEntries(entries);
}

/** The value stored under `key` itself, never one inherited. */
export function ownValue<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}
