// Diagnostics: every user-facing failure is a TierflowError carrying where it
// happened (file, node, line:column). The CLI prints it as one line and exits
// non-zero; the library lets it propagate as a typed error.

export interface Location {
  readonly file?: string;
  readonly node?: string;
  readonly line?: number;
  readonly column?: number;
}

/**
 * The error every user-facing failure of the library throws: a one-line message and, in
 * `location`, where it happened (file, node, line and column). Other exceptions are bugs.
 *
 * @example
 * ```ts
 * import { TierflowError, loadModel } from "tierflow";
 *
 * try {
 *   await loadModel("examples/models/missing.onnx");
 * } catch (err) {
 *   if (!(err instanceof TierflowError)) throw err;
 *   console.error(`tierflow: error: ${err.format()}`); // "file:line:col: node 'n': message"
 * }
 * ```
 */
export class TierflowError extends Error {
  readonly location: Location;

  constructor(message: string, location: Location = {}) {
    super(message);
    this.name = "TierflowError";
    this.location = location;
  }

  /** The same error with more location filled in (inner locations win). */
  at(location: Location): TierflowError {
    const merged = { ...location, ...this.location };
    const err = new TierflowError(this.message, merged);
    err.stack = this.stack ?? "";
    return err;
  }

  /** One line: "file:line:col: node 'n': message". */
  format(): string {
    const { file, node, line, column } = this.location;
    let where = file ?? "";
    if (line !== undefined) where += `${where ? ":" : ""}${line}${column !== undefined ? `:${column}` : ""}`;
    const prefix = where ? `${where}: ` : "";
    const nodePart = node !== undefined ? `node '${node}': ` : "";
    return `${prefix}${nodePart}${this.message}`;
  }
}

export function fail(message: string, location: Location = {}): never {
  throw new TierflowError(message, location);
}

/** Wrap a step so that any TierflowError it raises gets `location` added. */
export function withLocation<T>(location: Location, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof TierflowError) throw err.at(location);
    throw err;
  }
}
