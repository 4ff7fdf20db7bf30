// infer-shapes: give every value a type, with symbolic dims where sizes depend
// on inputs. Shape arithmetic (Shape -> Gather -> Concat -> Reshape) is
// followed through small int tensors, as ONNX's data propagation does.

import type { Graph, Module } from "../../ir/graph/graph.js";
import { mapGraphs } from "../../ir/graph/graph.js";
import { inferGraph, inferredTypes } from "../../ir/graph/infer.js";
import { registerPass } from "./pass.js";

export function inferShapes(module: Module): Module {
  const opset = module.opsets[""] ?? 0;
  return mapGraphs(module, (graph) => inferGraphShapes(graph, opset));
}

/** One graph with every value typed (infer-shapes of one graph of a module of that opset). */
export function inferGraphShapes(graph: Graph, opset: number): Graph {
  return { ...graph, types: inferredTypes(graph, inferGraph(graph, opset)) };
}

registerPass({ name: "infer-shapes", summary: "infer dtypes and (symbolic) shapes of every value", run: inferShapes });
