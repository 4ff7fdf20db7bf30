// Reading a JSON document a user gave (a target, a plan, a manifest): a file
// that cannot be read or is not JSON gets a one-line diagnostic naming it.

import { readFileSync } from "node:fs";
import { TierflowError } from "./diagnostics.js";

export function readJsonFile(path: string, what: string, shownAs: string = path): unknown {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new TierflowError(`cannot read ${what}: it does not exist or is not readable`, { file: shownAs });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new TierflowError(`${what} is not JSON (${err instanceof Error ? err.message : String(err)})`, { file: shownAs });
  }
}
