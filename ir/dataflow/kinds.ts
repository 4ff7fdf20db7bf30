// The dataflow-level op table: the kinds of kernel a dataflow module holds and
// which graph ops lower to each. A kind decides whether the kernel does device
// work at all (views and host-side shape arithmetic do not) and how it streams.

export interface KernelKind {
  readonly name: string;
  readonly doc: string;
  /** False for views (a new shape over the same bytes) and host-side shape arithmetic. */
  readonly device: boolean;
  /** Keeps the weight block of a tile resident and streams activations past it. */
  readonly weighted: boolean;
}

export const KERNEL_KINDS: Readonly<Record<string, KernelKind>> = {
  matmul: { name: "matmul", doc: "Matrix products (MatMul, Gemm, MatMulBias): a systolic stage with a resident weight block.", device: true, weighted: true },
  conv: { name: "conv", doc: "Convolution as an implicit matrix product over input windows.", device: true, weighted: true },
  attention: { name: "attention", doc: "Scaled-dot-product attention over a KV sequence (the KV cache in decode).", device: true, weighted: false },
  cache: { name: "cache", doc: "Appends the new tokens' keys or values to a KV cache the graph takes and returns (tierflow.CacheAppend), in place in the cache's tier.", device: true, weighted: false },
  norm: { name: "norm", doc: "Row-wise normalisation and reductions (RMSNorm, LayerNorm, BatchNorm, Reduce*).", device: true, weighted: false },
  softmax: { name: "softmax", doc: "Row-wise softmax and log-softmax.", device: true, weighted: false },
  elementwise: { name: "elementwise", doc: "Pointwise arithmetic, activations, casts, rotary embedding.", device: true, weighted: false },
  gather: { name: "gather", doc: "Row gathers (embedding lookups) and index selection (TopK, ArgMax, OneHot).", device: true, weighted: false },
  layout: { name: "layout", doc: "Data movement: transpose, concat, slice, split, expand, tile.", device: true, weighted: false },
  pool: { name: "pool", doc: "Windowed pooling and global averages.", device: true, weighted: false },
  collective: { name: "collective", doc: "A collective between the sockets of a group (all-reduce, all-gather, all-to-all, send), inserted by the node-level passes: a stream stage on dataflow targets, its own kernel (NCCL) on GPUs.", device: true, weighted: false },
  view: { name: "view", doc: "Reshape-like ops: the same bytes under a new shape, no work.", device: false, weighted: false },
  host: { name: "host", doc: "Shape arithmetic on a few int64 elements, done by the host at compile or launch time.", device: false, weighted: false },
};

/** Pointwise ops: each output element from the elements at its index (broadcast). */
const ELEMENTWISE = [
  "Abs", "Add", "And", "Cast", "CastLike", "Ceil", "Clip", "Cos", "DequantizeLinear", "Div", "Equal", "Erf", "Exp", "Floor", "Gelu",
  "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish", "Less", "LessOrEqual", "Log", "Max", "Min", "Mul", "Neg", "Not", "Or", "Pow",
  "QuantizeLinear", "Reciprocal", "Relu", "Sigmoid", "Sin", "Sqrt", "Sub", "Sum", "Tanh", "Where", "Xor",
  "tierflow.Rotary", "tierflow.SiLU", "tierflow.SwiGLU",
  // Known weakness: the experts of a MoE layer are costed as one pointwise pass over their weights.
  "tierflow.MoEExperts",
];

/**
 * Graph op (domain-qualified key) -> kernel kind. Every op that reaches lowering is listed;
 * ops the graph passes rewrite first (imported attention and normalisation forms, which
 * `expand-ops` replaces; Constant, which import folds into literals) have none, and lowering
 * refuses them by name rather than guess a kind.
 */
const KIND_OF_OP: Readonly<Record<string, string>> = {
  ...Object.fromEntries(ELEMENTWISE.map((op) => [op, "elementwise"])),
  MatMul: "matmul", Gemm: "matmul", "tierflow.MatMulBias": "matmul",
  // Products over quantized weights: the weight is read at its quantized bytes and dequantized on the way.
  "tierflow.DequantMatMul": "matmul", "com.microsoft.MatMulNBits": "matmul",
  Conv: "conv",
  "tierflow.Attention": "attention", "tierflow.CacheAppend": "cache",
  Softmax: "softmax", LogSoftmax: "softmax",
  LayerNormalization: "norm", "tierflow.RMSNorm": "norm", "tierflow.LayerNorm": "norm", BatchNormalization: "norm",
  ReduceMean: "norm", ReduceSum: "norm", ReduceMax: "norm", ReduceMin: "norm", ReduceProd: "norm",
  Gather: "gather", GatherElements: "gather", GatherND: "gather", TopK: "gather", ArgMax: "gather", ArgMin: "gather",
  OneHot: "gather", "tierflow.MoEGate": "gather",
  Transpose: "layout", Concat: "layout", Slice: "layout", Split: "layout", Expand: "layout", Tile: "layout",
  ScatterND: "layout", ScatterElements: "layout", Trilu: "layout", CumSum: "layout", Range: "layout", ConstantOfShape: "layout",
  MaxPool: "pool", AveragePool: "pool", GlobalAveragePool: "pool",
  Reshape: "view", Squeeze: "view", Unsqueeze: "view", Flatten: "view", Identity: "view", Dropout: "view",
  Shape: "host", Size: "host",
};

/** The kind of kernel an op lowers to; undefined for an op with no lowering (see KIND_OF_OP). */
export function kindOfOp(opKey: string): KernelKind | undefined {
  const kind = Object.hasOwn(KIND_OF_OP, opKey) ? KIND_OF_OP[opKey] : undefined;
  return kind !== undefined ? KERNEL_KINDS[kind] : undefined;
}

export function kernelKind(name: string): KernelKind | undefined {
  return KERNEL_KINDS[name];
}
