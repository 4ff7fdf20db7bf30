#!/usr/bin/env node
// Entry point of the `tierflow` command (built into dist/ by `npm install`).
import { main } from "../dist/compiler/cli/main.js";

await main(process.argv.slice(2));
