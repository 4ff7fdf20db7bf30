// Every command's action runs through here: a TierflowError (bad input) is
// printed as one line on stderr with exit code 1, never as a stack trace.
// Anything else is a bug in tierflow and says so.

import { TierflowError } from "../../ir/diagnostics.js";

export const EXIT_BAD_INPUT = 1;
export const EXIT_INTERNAL = 70;

export function reportError(err: unknown): number {
  if (err instanceof TierflowError) {
    process.stderr.write(`tierflow: error: ${err.format()}\n`);
    return EXIT_BAD_INPUT;
  }
  if (err instanceof RangeError && /call stack|Invalid array length|Array buffer allocation/i.test(err.message)) {
    process.stderr.write(`tierflow: error: input too large or too deeply nested (${err.message})\n`);
    return EXIT_BAD_INPUT;
  }
  const message = err instanceof Error ? err.message : String(err);
  process.stderr.write(`tierflow: internal error: ${message}\n`);
  if (process.env.TIERFLOW_DEBUG) process.stderr.write(`${err instanceof Error ? err.stack : ""}\n`);
  return EXIT_INTERNAL;
}

/** Wrap a command action so failures become diagnostics and exit codes. */
export function action<A extends unknown[]>(body: (...args: A) => void | Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (err) {
      process.exitCode = reportError(err);
    }
  };
}
