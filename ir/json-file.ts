// Reading a JSON document a user gave (a target, a plan, a manifest, a trace):
// a file that cannot be read, is not a regular file, is over its size limit or
// is not JSON gets a one-line diagnostic naming it. The diagnostic never quotes
// the file's text: a path may lead to a file the user did not mean to show.

import type { FileKind } from "./read-file.js";
import { readUserText } from "./read-file.js";
import { TierflowError } from "./diagnostics.js";

export function readJsonFile(path: string, what: FileKind, shownAs: string = path): unknown {
  const text = readUserText(path, what, shownAs);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new TierflowError(`${what} is not JSON (${jsonErrorWithoutText(err)})`, { file: shownAs });
  }
}

/** JSON.parse's message without the excerpt of the text it quotes ("Unexpected token 'r', "root:x..." is not valid JSON"). */
export function jsonErrorWithoutText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const unexpected = /^Unexpected token\b/.exec(message);
  return unexpected ? "unexpected token" : message.replace(/, ".*" is not valid JSON$/s, "");
}
