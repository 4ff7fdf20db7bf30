// Run before every test file. onnxruntime-node 1.30 keeps float16 tensors in a
// Float16Array where the runtime has one (Node 24), which its native binding
// cannot read back as an input ("not enough space: expected N, got 0").
// Without the global they stay bits in a Uint16Array, as on Node 20 and 22,
// and the tests compare tierflow with onnxruntime alike on every line.
// tierflow itself never uses the type.

delete (globalThis as { Float16Array?: unknown }).Float16Array;
