// A plan's identity, for what refers to one plan (a runtime trace of it): the
// model file's sha256, the target, the options and bindings, the kernels and
// the sections they run in. Paths the plan records are left out, so a plan
// moved to another folder keeps its digest.

import { createHash } from "node:crypto";
import type { Plan } from "./plan.js";

export function planDigest(plan: Plan): string {
  const identity = [
    plan.model.sha256, plan.target, plan.options, plan.bindings,
    plan.dataflow.kernels.map((k) => [k.name, k.ops]), plan.sections.map((s) => [s.name, s.kernels.map((k) => k.kernel)]),
  ];
  return createHash("sha256").update(JSON.stringify(identity)).digest("hex");
}
