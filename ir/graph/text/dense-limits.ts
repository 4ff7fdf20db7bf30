// Element counts of the dense literals in graph text, checked on the raw text
// before lexing: every element costs a few hundred bytes as tokens and syntax
// tree (2 M elements took 1.7 GB), so a literal too large is refused before any
// token exists. The scan skips strings and comments, finds each `dense`
// keyword and counts the commas of the `[...]` list after it (and after its
// `<type>`, in an attribute).

import { STRING_LITERAL } from "./names.js";

/** Elements one dense literal may hold: four times what constant folding writes. */
export const MAX_DENSE_ELEMENTS = 262_144;
/** Elements all the dense literals of one text may hold together. */
export const MAX_DENSE_TOTAL = 1_048_576;

export interface DenseProblem {
  readonly offset: number;
  readonly message: string;
}

// A string (a quoted name's quotes included), a comment, or the keyword (not part of a longer name).
const SCAN = new RegExp(`${STRING_LITERAL.source}|//[^\\n\\r]*|(?<![A-Za-z0-9_.$:/%@-])dense(?![A-Za-z0-9_.$/-])`, "g");
const LIST_START = /\s*(?:<[^<>]*>\s*)?\[/y;
const COMMA = 44, CLOSE = 93;

/** The first dense literal over a limit, or null. */
export function checkDenseLiterals(text: string): DenseProblem | null {
  let total = 0;
  SCAN.lastIndex = 0;
  for (let m = SCAN.exec(text); m; m = SCAN.exec(text)) {
    if (m[0] !== "dense") continue;
    LIST_START.lastIndex = SCAN.lastIndex;
    if (!LIST_START.test(text)) continue;
    let elements = 1, i = LIST_START.lastIndex;
    for (; i < text.length && text.charCodeAt(i) !== CLOSE; i++) {
      if (text.charCodeAt(i) !== COMMA) continue;
      if (++elements > MAX_DENSE_ELEMENTS) {
        return { offset: m.index, message: `dense literal has more than ${MAX_DENSE_ELEMENTS} elements, the limit of one literal` };
      }
    }
    total += elements;
    if (total > MAX_DENSE_TOTAL) {
      return { offset: m.index, message: `dense literals hold more than ${MAX_DENSE_TOTAL} elements in all, the limit of one text` };
    }
    SCAN.lastIndex = i;
  }
  return null;
}
