// chevrotain's runtime, loaded from the single-file build its package ships
// (lib/chevrotain.mjs) rather than from its module tree: the tree is some six
// hundred modules (lodash-es's among them) that take about 300 ms to load, a
// sixth of a `tierflow verify`; the build, the same release's code, about 20 ms.
// Every parser and lexer takes chevrotain from here, so all share one copy (a
// token type or EOF from the module tree would not be the build's). Types still
// come from the package itself.

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

type Chevrotain = typeof import("chevrotain");

// The package's entry (lib/src/api.js), found as any import of it would be; the build sits in lib/.
const entry = createRequire(import.meta.url).resolve("chevrotain");
const chevrotain = (await import(pathToFileURL(join(dirname(entry), "..", "chevrotain.mjs")).href)) as Chevrotain;

export const { CstParser, EOF, Lexer, createToken } = chevrotain;
