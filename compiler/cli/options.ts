// Checks of option values shared by the commands that compile: one message
// for each kind of bad value, whichever command is given it.

import { fail } from "../../ir/diagnostics.js";
import { isDType } from "../../ir/dtype.js";
import type { DType } from "../../ir/dtype.js";
import type { OptLevel } from "../schedule/sections.js";

export function parseOptLevel(text: string): OptLevel {
  if (!/^[012]$/.test(text)) fail(`-O '${text}': the levels are 0, 1 and 2`);
  return Number(text) as OptLevel;
}

export function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1) fail(`${flag} '${text}' must be a positive integer`);
  return n;
}

/** The floating-point dtype a plan may store data in, or undefined when not given. */
export function parsePlanDType(text: string | undefined): DType | undefined {
  if (text === undefined) return undefined;
  if (!isDType(text) || !["f32", "f16", "bf16"].includes(text)) fail(`--dtype '${text}': use f32, f16 or bf16`);
  return text;
}
