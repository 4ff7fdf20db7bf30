// Graph-level IR text -> Module, with empty list attributes typed from the op
// table. Kept apart from load.ts because the parser library takes about half a
// second to load: ONNX-only runs never import it.

import type { Module } from "../ir/graph/graph.js";
import { parseModule } from "../ir/graph/parser.js";
import { attrTypeOf } from "../ir/graph/ops.js";

export function parseGraphText(text: string, file?: string): Module {
  const emptyListType = (domain: string, op: string, attr: string) => {
    const t = attrTypeOf(domain, op, attr);
    return t === "floats" || t === "strings" ? t : "ints";
  };
  return parseModule(text, file === undefined ? { emptyListType } : { file, emptyListType });
}
