// Assertions on refusals: what a hostile input must give instead of a crash.

import { expect } from "vitest";
import { TierflowError } from "../../ir/diagnostics.js";

/** Run `body`; it must raise a TierflowError whose message matches `pattern`. */
export function expectTierflowError(body: () => unknown, pattern: RegExp): void {
  let err: unknown;
  try {
    body();
  } catch (e) {
    err = e;
  }
  expect(err, "no error was raised").toBeInstanceOf(TierflowError);
  expect((err as Error).message).toMatch(pattern);
}
