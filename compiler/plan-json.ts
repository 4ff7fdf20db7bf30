// plan.json: the placement level as JSON, versioned, with a schema in
// ir/placement/plan.schema.json. Keys come out in a fixed order (the order the
// compiler builds objects in), so the same input gives byte-identical files.

import type { Plan } from "../ir/placement/plan.js";

export function planToJson(plan: Plan): string {
  return `${JSON.stringify(plan, null, 1)}\n`;
}
