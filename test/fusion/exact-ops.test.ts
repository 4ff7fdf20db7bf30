// The exact composites (domain tierflow.exact) the reference interpreter's
// patterns build: each direct kernel, where it applies, gives the bits of the
// op's decomposition (the exported nodes it stands for), and the op's
// inference is its decomposition's.

import { describe, expect, it } from "vitest";
import type { Attrs } from "../../ir/graph/graph.js";
import type { Tensor } from "../../ir/tensor.js";
import { makeTensor, tensorFromValues } from "../../ir/tensor.js";
import { EXACT_OPS } from "../../ir/graph/ops/composite-exact.js";
import { EXACT_DOMAIN } from "../../ir/graph/ops/exact.js";
import { DECOMPOSITION_OPSET } from "../../ir/graph/ops/decompose.js";
import { decompositionKernel } from "../../targets/reference/op-kernels/decomposition.js";
import { EXACT_DIRECT_KERNELS } from "../../targets/reference/op-kernels/exact.js";
import { directKernelFor } from "../../targets/reference/kernel-table.js";

let seed = 11;
const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32 - 0.5);
const x = (dims: number[], k = 1) => makeTensor("f32", dims, Float32Array.from({ length: dims.reduce((p, d) => p * d, 1) }, () => rnd() * k));
const scalar = (v: number) => tensorFromValues("f32", [], [v]);
const int = (value: number) => ({ type: "int" as const, value });
const ints = (value: number[]) => ({ type: "ints" as const, value });

const CASES: [string, string, (Tensor | undefined)[], Attrs][] = [
  ["bias row", "MatMulAdd", [x([2, 3, 8]), x([8, 4]), x([4])], {}],
  ["bias first, full addend", "MatMulAdd", [x([2, 3, 8]), x([8, 4]), x([2, 3, 4])], { c_first: int(1) }],
  ["Gather", "GatherMatMul", [x([5, 6, 8]), tensorFromValues("i64", [7], [0, 4, -1, 2, 2, 1, 3].map(BigInt)), x([7, 8, 2])], {}],
  ["GatherND", "GatherMatMul", [x([5, 6, 8]), tensorFromValues("i64", [7, 1], [0, 4, 1, 2, 2, 1, 3].map(BigInt)), x([7, 8, 1])], { nd: int(1) }],
  ["both transposed", "TransposeMatMul", [x([2, 8, 3, 5]), x([2, 8, 3, 5])], { transpose_a: int(1), perm_a: ints([0, 2, 1, 3]), transpose_b: int(1), perm_b: ints([0, 2, 3, 1]) }],
  ["default perm", "TransposeMatMul", [x([9, 4]), x([9, 6])], { transpose_a: int(1) }],
  ["Mul, mask", "ScaledSoftmax", [x([2, 3, 8, 8], 8), scalar(0.25), x([2, 1, 8, 8])], {}],
  ["scale first, Div", "ScaledSoftmax", [x([2, 3, 8, 8], 8), scalar(4)], { divide: int(1) }],
  ["bshd, Div, mask", "Attention", [x([2, 8, 3, 8]), x([2, 8, 3, 8]), x([2, 8, 3, 8]), scalar(2), x([2, 1, 8, 8])],
    { transpose_q: int(1), perm_q: ints([0, 2, 1, 3]), transpose_k: int(1), perm_k: ints([0, 2, 3, 1]), transpose_v: int(1), perm_v: ints([0, 2, 1, 3]), divide: int(1) }],
  ["odd keys (parts), casts", "Attention", [x([2, 3, 7, 8]), x([2, 3, 8, 7]), x([2, 3, 7, 8]), scalar(0.5)], { cast_probs: int(1) }],
  ["gelu_tanh", "GeluTanh", [x([4, 12], 6), x([4, 12], 100), scalar(0.5), scalar(0.044715), scalar(Math.sqrt(2 / Math.PI)), scalar(1)], {}],
  ["gelu_erf", "GeluErf", [x([4, 7], 6), scalar(Math.SQRT2), scalar(1), scalar(0.5)], {}],
  ["silu_gate", "SiLUGate", [x([4, 12], 6), x([4, 12])], {}],
];

describe("exact composites", () => {
  for (const [name, op, inputs, attrs] of CASES) {
    it(`${op}: ${name}`, () => {
      const def = EXACT_OPS.find((d) => d.op === op)!;
      const ctx = { attrs, opset: DECOMPOSITION_OPSET, outputCount: 1 };
      const direct = EXACT_DIRECT_KERNELS[op]!(inputs, ctx);
      expect(direct, "the direct kernel applies").toBeDefined();
      const [want] = decompositionKernel(def)(inputs, ctx);
      expect(direct![0]!.dims).toEqual(want!.dims);
      const differ = Array.from(want!.data as Float32Array).filter((v, i) => !Object.is(v, (direct![0]!.data as Float32Array)[i])).length;
      expect(differ, "elements that differ").toBe(0);
      const types = def.infer({ inputs: inputs.map((t) => t && { type: { dtype: t.dtype, shape: t.dims }, value: undefined, symbolic: undefined }), attrs, opset: DECOMPOSITION_OPSET, outputCount: 1, fresh: (h) => h });
      expect(types.types[0]).toEqual({ dtype: want!.dtype, shape: want!.dims });
    });
  }

  it("every exact composite has a doc with sample IR, a decomposition and a direct kernel the fused steps run", () => {
    for (const def of EXACT_OPS) {
      expect(def.doc, def.op).toContain(`"tierflow.exact".${def.op}(`);
      expect(def.decompose, def.op).toBeDefined();
      expect(directKernelFor({ domain: EXACT_DOMAIN, op: def.op }), def.op).toBe(EXACT_DIRECT_KERNELS[def.op]);
    }
  });
});
