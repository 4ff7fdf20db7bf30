// The layouts the quantization ops describe, shared by their type checks
// (ops/quant.ts) and the reference kernels: which scale each element uses, and
// how MatMulNBits packs its weight blocks and zero points.

/** Which scale (and zero point) each element uses: one, one per index along `axis`, or one per block of `block` along it. */
export type Granularity =
  | { readonly kind: "tensor" }
  | { readonly kind: "axis"; readonly axis: number }
  | { readonly kind: "block"; readonly axis: number; readonly block: number };

export interface NBitsLayout {
  readonly k: number;
  readonly n: number;
  readonly bits: number;
  readonly blockSize: number;
}

/** Blocks along K per row, and bytes of one block's blob. */
export function nbitsBlocks(l: NBitsLayout): { blocks: number; blob: number } {
  return { blocks: Math.ceil(l.k / l.blockSize), blob: (l.blockSize * l.bits) / 8 };
}

/** Bytes of one row's packed uint8 zero points: the blocks' points packed as the weights are. */
export const zeroPointBytes = (l: NBitsLayout): number => Math.ceil((nbitsBlocks(l).blocks * l.bits) / 8);
