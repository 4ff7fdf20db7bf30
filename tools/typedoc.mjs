#!/usr/bin/env node
// Runs TypeDoc (its command-line arguments pass through) on the TypeScript 5.8 compiler API.
// TypeDoc reads sources through the `typescript` package's JS API; the project compiles with
// TypeScript 7, the native compiler, which has none. The devDependency `typescript-5` is
// TypeScript 5.8 under another name: here TypeDoc's `typescript` resolves to it, both for its
// ES module imports (a resolve hook) and for its require.resolve (which finds the lib files).
import Module, { createRequire, register } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const hook = `export async function resolve(specifier, context, next) {
  const fromTypedoc = context.parentURL?.includes("/node_modules/typedoc/") ?? false;
  return next(fromTypedoc && specifier === "typescript" ? "typescript-5" : specifier, context);
}`;
register(`data:text/javascript,${encodeURIComponent(hook)}`);

const resolveFilename = Module._resolveFilename;
Module._resolveFilename = function (request, parent, ...rest) {
  const fromTypedoc = /[\\/]node_modules[\\/]typedoc[\\/]/.test(parent?.filename ?? "");
  return resolveFilename.call(this, fromTypedoc && request === "typescript" ? "typescript-5" : request, parent, ...rest);
};

const typedoc = dirname(createRequire(import.meta.url).resolve("typedoc/package.json"));
await import(pathToFileURL(join(typedoc, "dist", "cli.js")).href);
