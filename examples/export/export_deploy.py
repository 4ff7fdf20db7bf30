#!/usr/bin/env python3
"""Export tiny decoders and encoders in the forms deployed ONNX models take.

The logits-only corpus (export_corpus.py) is what a plain export gives; the
models people download and serve look different.  For a Llama and a Qwen2
decoder (random weights under ``torch.manual_seed(0)``, nothing downloaded),
this script writes, into one folder:

* ``<arch>.past.torchscript.onnx`` / ``<arch>.past.dynamo.onnx`` - exported
  "with past", the layout of Hugging Face Optimum and transformers.js: inputs
  ``input_ids``, ``attention_mask``, ``position_ids``,
  ``past_key_values.<i>.key|value`` ([batch, kv_heads, past_sequence, head_dim]);
  outputs ``logits``, ``present.<i>.key|value``.  One file serves prefill (a
  past of length 0) and decode.
* ``<arch>.opset23.onnx`` - the same, exported by the dynamo exporter at opset
  23 with PyTorch's scaled-dot-product attention (ONNX ``Attention``).
* ``<arch>.contrib.onnx`` - onnxruntime's contrib-op form: the
  onnxruntime-genai model builder where it is installed (GroupQueryAttention,
  rotary embeddings, SkipSimplifiedLayerNormalization), otherwise the best of
  onnxruntime's transformers optimizer over the TorchScript export.
* ``<arch>.int4.onnx`` - MatMulNBits, 4-bit blocks of 32
  (``MatMulNBitsQuantizer``) over the TorchScript export; ``<arch>.int4qdq.onnx``
  - the same weights as blocked int4 DequantizeLinear -> MatMul (opset 21).
* ``llama.f16.onnx`` - the TorchScript export converted to float16
  (onnxruntime's ``convert_float_to_float16``).
* ``bert.qdq.onnx`` - a BERT encoder quantized statically to int8 QDQ
  (per-channel weights, per-tensor activations).

``deploy.json`` records, per file: its form, the op histogram (domain-qualified),
the inputs and outputs, and the check that onnxruntime ran it: for decoders a
greedy loop of ``GREEDY_TOKENS`` tokens from a fixed prompt, prefill with an
empty past and then one token per step with the presents fed back, compared
with PyTorch's greedy ids (recomputing the whole prefix, no cache) and with the
first step's logits; for the encoder, the difference from PyTorch's float model.
A step that fails is recorded and the others go on.

Requirements: torch (2.11), transformers 5.x, onnx, onnxscript, onnxruntime
(with its transformers tools and quantization), numpy; onnxruntime-genai optional.

Usage (from the repository root):

    python3 examples/export/export_deploy.py --out examples/deploy
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_models as em  # noqa: E402

VOCAB = 128
HIDDEN = 64
LAYERS = 2
HEADS = 4
KV_HEADS = 2
INTERMEDIATE = 128
MAX_POSITIONS = 256
INIT_RANGE = 0.2
PROMPT_BATCH, PROMPT_LEN = 2, 5
GREEDY_TOKENS = 32
EXPORT_BATCH, EXPORT_SEQ, EXPORT_PAST = 2, 3, 4  # distinct, and not 0 or 1, so nothing specialises
TORCHSCRIPT_OPSET = 17


def llama_config(attn="eager"):
    from transformers import LlamaConfig

    c = LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE, num_hidden_layers=LAYERS,
                    num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=MAX_POSITIONS,
                    initializer_range=INIT_RANGE, tie_word_embeddings=False, pad_token_id=0, bos_token_id=1, eos_token_id=2)
    c._attn_implementation = attn
    c.architectures = ["LlamaForCausalLM"]
    return c


def qwen2_config(attn="eager"):
    from transformers import Qwen2Config

    c = Qwen2Config(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE, num_hidden_layers=LAYERS,
                    num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=MAX_POSITIONS,
                    initializer_range=INIT_RANGE, tie_word_embeddings=False, use_sliding_window=False,
                    pad_token_id=0, bos_token_id=1, eos_token_id=2)
    c._attn_implementation = attn
    c.architectures = ["Qwen2ForCausalLM"]
    return c


ARCHS = {"llama": ("LlamaForCausalLM", llama_config), "qwen2": ("Qwen2ForCausalLM", qwen2_config)}


def build(arch, attn="eager"):
    import transformers

    cls_name, config_fn = ARCHS[arch]
    torch.manual_seed(0)
    model = getattr(transformers, cls_name)(config_fn(attn)).eval()
    # Norm gains are all ones after initialisation: offset them so a wrong norm shows.
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and torch.all(p == p.flatten()[0]):
                p.add_(0.1 * torch.randn(p.shape, generator=g))
    return model


def make_cache(config, past):
    from transformers import DynamicCache

    try:
        cache = DynamicCache(config=config)
    except TypeError:
        cache = DynamicCache()
    for i in range(LAYERS):
        cache.update(past[2 * i], past[2 * i + 1], i)
    return cache


def cache_tensors(cache):
    if hasattr(cache, "layers"):
        return [t for layer in cache.layers for t in (layer.keys, layer.values)]
    if hasattr(cache, "key_cache"):
        return [t for i in range(len(cache.key_cache)) for t in (cache.key_cache[i], cache.value_cache[i])]
    return [t for kv in cache for t in kv]


class WithPast(torch.nn.Module):
    """(input_ids, attention_mask, position_ids, past k/v per layer) -> (logits, present k/v per layer)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, position_ids, k0, v0, k1, v1):
        cache = make_cache(self.model.config, [k0, v0, k1, v1])
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         past_key_values=cache, use_cache=True)
        return (out.logits, *cache_tensors(out.past_key_values))


INPUTS = ["input_ids", "attention_mask", "position_ids"] + [f"past_key_values.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
OUTPUTS = ["logits"] + [f"present.{i}.{kv}" for i in range(LAYERS) for kv in ("key", "value")]
AXES = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "total_sequence"},
        "position_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}}
for _i in range(LAYERS):
    for _kv in ("key", "value"):
        AXES[f"past_key_values.{_i}.{_kv}"] = {0: "batch", 2: "past_sequence"}
        AXES[f"present.{_i}.{_kv}"] = {0: "batch", 2: "total_sequence"}


def example_inputs(config):
    head_dim = config.hidden_size // config.num_attention_heads
    g = torch.Generator().manual_seed(0)
    b, s, p = EXPORT_BATCH, EXPORT_SEQ, EXPORT_PAST
    ids = torch.randint(3, VOCAB, (b, s), generator=g)
    mask = torch.ones(b, p + s, dtype=torch.int64)
    pos = torch.arange(p, p + s).unsqueeze(0).expand(b, s).contiguous()
    past = [torch.randn(b, config.num_key_value_heads, p, head_dim, generator=g) for _ in range(2 * LAYERS)]
    return (ids, mask, pos, *past)


def export_torchscript(model, path):
    wrapper = WithPast(model).eval()
    with torch.no_grad():
        torch.onnx.export(wrapper, example_inputs(model.config), str(path), dynamo=False, opset_version=TORCHSCRIPT_OPSET,
                          input_names=INPUTS, output_names=OUTPUTS, dynamic_axes=AXES, do_constant_folding=True)
    em.embed_external_data(path)


def export_dynamo(model, path, opset=None):
    from torch.export import Dim

    wrapper = WithPast(model).eval()
    shapes = tuple({ax: Dim.AUTO for ax in AXES[name]} for name in INPUTS)
    kwargs = dict(dynamo=True, input_names=INPUTS, output_names=OUTPUTS, dynamic_shapes=shapes, external_data=False,
                  optimize=True, report=False, verify=False)
    if opset is not None:
        kwargs["opset_version"] = opset
    with torch.no_grad():
        program = torch.onnx.export(wrapper, example_inputs(model.config), **em._supported_kwargs(torch.onnx.export, kwargs))
    program.save(str(path), **em._supported_kwargs(program.save, dict(external_data=False)))
    em.embed_external_data(path)
    name_dims(path)


def name_dims(path):
    """Give the exporter's symbols (s0, s1 + s2, ...) the axis names the TorchScript export uses."""
    import onnx

    proto = onnx.load(str(path))
    rename = {}
    for value in list(proto.graph.input):
        for ax, label in AXES.get(value.name, {}).items():
            d = value.type.tensor_type.shape.dim[ax]
            if d.dim_param and d.dim_param not in rename:
                rename[d.dim_param] = label
    if not rename:
        return
    import re

    pattern = re.compile(r"\b(" + "|".join(re.escape(k) for k in sorted(rename, key=len, reverse=True)) + r")\b")
    for value in list(proto.graph.input) + list(proto.graph.output) + list(proto.graph.value_info):
        for d in value.type.tensor_type.shape.dim:
            if d.dim_param:
                d.dim_param = pattern.sub(lambda m: rename[m.group(1)], d.dim_param)
    onnx.save_model(proto, str(path), save_as_external_data=False)


# --------------------------------------------------------------------------------------
# Checks: onnxruntime's greedy loop against PyTorch's
# --------------------------------------------------------------------------------------


def prompt():
    g = torch.Generator().manual_seed(2)
    return torch.randint(3, VOCAB, (PROMPT_BATCH, PROMPT_LEN), generator=g)


def torch_greedy(model, ids, tokens):
    out = []
    with torch.no_grad():
        first = model(input_ids=ids, use_cache=False).logits[:, -1, :].float().numpy()
        for _ in range(tokens):
            nxt = model(input_ids=ids, use_cache=False).logits[:, -1, :].argmax(-1, keepdim=True)
            out.append(nxt)
            ids = torch.cat([ids, nxt], 1)
    return torch.cat(out, 1).numpy(), first


ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64, "tensor(int32)": np.int32}


def ort_greedy(path, ids, tokens):
    """Prefill with an empty past, then one token per step, the presents fed back as the past."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    meta = {i.name: i for i in sess.get_inputs()}
    b = ids.shape[0]
    past = {}
    for name, i in meta.items():
        if name.startswith("past_key_values."):
            shape = [b if k == 0 else (0 if k == 2 else int(d)) for k, d in enumerate(i.shape)]
            past[name] = np.zeros(shape, ORT_TYPES[i.type])
    current = ids.numpy().astype(np.int64)
    total = 0
    out, first = [], None
    for _ in range(tokens):
        s = current.shape[1]
        feed = {}
        for name, i in meta.items():
            if name == "input_ids":
                feed[name] = current.astype(ORT_TYPES[i.type])
            elif name == "attention_mask":
                feed[name] = np.ones((b, total + s), ORT_TYPES[i.type])
            elif name == "position_ids":
                feed[name] = np.broadcast_to(np.arange(total, total + s), (b, s)).astype(ORT_TYPES[i.type]).copy()
            elif name in past:
                feed[name] = past[name]
            else:
                raise ValueError(f"input '{name}' is not one the greedy loop knows")
        names = [o.name for o in sess.get_outputs()]
        results = dict(zip(names, sess.run(None, feed)))
        logits = results["logits"][:, -1, :].astype(np.float32)
        if first is None:
            first = logits
        nxt = logits.argmax(-1)[:, None].astype(np.int64)
        out.append(nxt)
        for name in past:
            past[name] = results[name.replace("past_key_values.", "present.")]
        total += s
        current = nxt
    return np.concatenate(out, 1), first


def check_decoder(path, model, record):
    ids = prompt()
    want, want_first = torch_greedy(model, ids, GREEDY_TOKENS)
    got, got_first = ort_greedy(path, ids, GREEDY_TOKENS)
    record["prompt"] = ids.tolist()
    record["torch_ids"] = want.tolist()
    record["ort_ids"] = got.tolist()
    record["ids_equal"] = bool((want == got).all())
    record["first_logits_max_abs_diff"] = float(np.abs(want_first - got_first).max())


# --------------------------------------------------------------------------------------
# Forms
# --------------------------------------------------------------------------------------


def histogram(path):
    import onnx

    proto = onnx.load(str(path))
    counts = collections.Counter((f"{n.domain}." if n.domain else "") + n.op_type for n in proto.graph.node)
    opsets = {o.domain or "ai.onnx": o.version for o in proto.opset_import}
    return dict(sorted(counts.items())), opsets


def io_of(path):
    import onnx

    proto = onnx.load(str(path))

    def info(v):
        t = v.type.tensor_type
        return {"name": v.name, "elem_type": t.elem_type, "shape": [d.dim_param or d.dim_value for d in t.shape.dim]}

    init = {i.name for i in proto.graph.initializer}
    return [info(v) for v in proto.graph.input if v.name not in init], [info(v) for v in proto.graph.output]


def contrib_by_builder(arch, model, path, precision):
    """onnxruntime-genai's model builder over the saved Hugging Face model."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime_genai") is None:
        raise RuntimeError("onnxruntime_genai is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        hf = Path(tmp) / "hf"
        model.save_pretrained(hf)
        out = Path(tmp) / "out"
        run = subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(hf), "-o", str(out), "-p", precision,
                              "-e", "cpu", "-c", str(Path(tmp) / "cache")], capture_output=True, text=True, timeout=600)
        built = out / "model.onnx"
        if not built.exists():
            raise RuntimeError(f"builder wrote no model.onnx: {run.stderr[-1500:]}")
        shutil.copy(built, path)
        data = out / "model.onnx.data"
        if data.exists():
            shutil.copy(data, path.parent / "model.onnx.data")
            em.embed_external_data(path)
        return {"tool": "onnxruntime_genai.models.builder", "precision": precision, "builder_log_tail": run.stderr[-600:]}


def contrib_by_optimizer(src, path):
    """The onnxruntime transformers optimizer: keep the model type that leaves most contrib ops."""
    from onnxruntime.transformers.optimizer import optimize_model

    best = None
    for model_type in ("gpt2", "bert", "phi", "gpt_neox"):
        try:
            m = optimize_model(str(src), model_type=model_type, num_heads=HEADS, hidden_size=HIDDEN, opt_level=0)
            contrib = sum(1 for n in m.model.graph.node if n.domain == "com.microsoft")
            if best is None or contrib > best[0]:
                best = (contrib, model_type, m)
        except Exception as exc:  # noqa: BLE001 - one model type failing leaves the others
            print(f"  optimizer {model_type}: {exc!r}"[:300], flush=True)
    if best is None:
        raise RuntimeError("no optimizer model type worked")
    best[2].save_model_to_file(str(path), use_external_data_format=False)
    trimmed = trim_rotary_caches(path)
    return {"tool": "onnxruntime.transformers.optimizer", "model_type": best[1], "contrib_nodes": best[0], "rotary_cache_rows": trimmed}


def trim_rotary_caches(path):
    """The optimizer's cos/sin caches cover 131072 positions (8 MiB here): keep the model's MAX_POSITIONS rows."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(path))
    rows = None
    for i, t in enumerate(proto.graph.initializer):
        if t.name in ("cos_cache", "sin_cache") and t.dims[0] > MAX_POSITIONS:
            rows = MAX_POSITIONS
            proto.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t)[:MAX_POSITIONS].copy(), t.name))
    onnx.save_model(proto, str(path))
    return rows


def quantize_int4(src, path, qdq):
    import onnx
    from onnxruntime.quantization import QuantFormat

    try:
        from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer as Quantizer
    except ImportError:
        from onnxruntime.quantization.matmul_4bits_quantizer import MatMul4BitsQuantizer as Quantizer
    kwargs = dict(block_size=32, is_symmetric=not qdq)
    if qdq:
        kwargs.update(quant_format=QuantFormat.QDQ, op_types_to_quantize=("MatMul",))
    q = Quantizer(onnx.load(str(src)), **kwargs)
    q.process()
    q.model.save_model_to_file(str(path), use_external_data_format=False)
    return {"tool": Quantizer.__name__, **{k: (str(v) if not isinstance(v, (bool, int)) else v) for k, v in kwargs.items()}}


# Ops whose float16 form onnxruntime's CPU provider lacks or computes poorly: kept in float32.
F32_OPS = ["ReduceMean", "Pow", "Sqrt", "Softmax", "Cos", "Sin", "Range", "Where", "Expand", "Trilu", "CumSum"]


def to_float16(sources, path):
    """The first float16 conversion onnxruntime loads: whole, keeping float32 I/O, or keeping some ops float32."""
    import onnx
    import onnxruntime as ort
    from onnxruntime.transformers.float16 import convert_float_to_float16

    errors = []
    for src in sources:
        for keep_io, block in ((False, None), (True, None), (True, F32_OPS)):
            kwargs = {"keep_io_types": keep_io, **({"op_block_list": block} if block else {})}
            try:
                proto = convert_float_to_float16(onnx.load(str(src)), **kwargs)
                onnx.save_model(proto, str(path))
                ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
                return {"tool": "onnxruntime.transformers.float16.convert_float_to_float16", "source": Path(src).name, "keep_io_types": keep_io,
                        "op_block_list": block or "default"}
            except Exception as exc:  # noqa: BLE001 - the next variant may load
                errors.append(f"{Path(src).name} {kwargs}: {exc!r}"[:300])
    raise RuntimeError("onnxruntime cannot load any float16 conversion: " + " | ".join(errors))


def bert_qdq(path, record):
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=HIDDEN, num_hidden_layers=LAYERS, num_attention_heads=HEADS,
                        intermediate_size=INTERMEDIATE, max_position_embeddings=MAX_POSITIONS, initializer_range=INIT_RANGE)
    config._attn_implementation = "eager"
    model = BertModel(config, add_pooling_layer=False).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(3, VOCAB, (3, 9), generator=g)
    mask = torch.ones(3, 9, dtype=torch.int64)
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
            "last_hidden_state": {0: "batch", 1: "sequence"}}
    with tempfile.TemporaryDirectory() as tmp:
        float_path = Path(tmp) / "bert.onnx"
        with torch.no_grad():
            torch.onnx.export(Encoder(model), (ids, mask), str(float_path), dynamo=False, opset_version=TORCHSCRIPT_OPSET,
                              input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"], dynamic_axes=axes)

        class Reader(CalibrationDataReader):
            def __init__(self):
                gen = torch.Generator().manual_seed(3)
                self.items = iter([{"input_ids": torch.randint(3, VOCAB, (2, 8), generator=gen).numpy(),
                                    "attention_mask": np.ones((2, 8), np.int64)} for _ in range(8)])

            def get_next(self):
                return next(self.items, None)

        quantize_static(str(float_path), str(path), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    sample = torch.randint(3, VOCAB, (2, 7), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        want = model(input_ids=sample, attention_mask=torch.ones(2, 7, dtype=torch.int64)).last_hidden_state.numpy()
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input_ids": sample.numpy(), "attention_mask": np.ones((2, 7), np.int64)})[0]
    record["float_max_abs_diff"] = float(np.abs(want - got).max())
    record["float_max_abs"] = float(np.abs(want).max())
    record["tool"] = "onnxruntime.quantization.quantize_static (QDQ, per-channel int8 weights, uint8 activations)"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="examples/deploy")
    parser.add_argument("--only", nargs="*", help="form names (llama.past.torchscript, bert.qdq, ...)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(4)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = []

    def form(name, fn, model=None, decoder=True, **fields):
        if args.only and name not in args.only:
            return
        path = out / f"{name}.onnx"
        record = {"file": path.name, "form": name.split(".", 1)[1], "architecture": name.split(".")[0], **fields}
        try:
            made = fn(path, record)
            if isinstance(made, dict):
                record.update(made)
            record["ops"], record["opsets"] = histogram(path)
            record["inputs"], record["outputs"] = io_of(path)
            record["bytes"] = path.stat().st_size
            if decoder:
                check_decoder(path, model, record)
            print(f"ok {name} {record.get('ids_equal', '')} {record.get('first_logits_max_abs_diff', '')}", flush=True)
        except Exception as exc:  # noqa: BLE001 - a failing form is recorded, the others go on
            record["error"] = "".join(traceback.format_exception_only(type(exc), exc)).strip()[-2000:]
            record["traceback"] = traceback.format_exc()[-3000:]
            print(f"FAIL {name}: {record['error'][:400]}", flush=True)
            if path.exists() and "ops" not in record:
                path.unlink()
        records.append(record)

    for arch in ARCHS:
        model = build(arch)
        ts = out / f"{arch}.past.torchscript.onnx"
        form(f"{arch}.past.torchscript", lambda p, r, m=model: export_torchscript(m, p), model)
        form(f"{arch}.past.dynamo", lambda p, r, m=model: export_dynamo(m, p), model)
        sdpa = build(arch, attn="sdpa")
        form(f"{arch}.opset23", lambda p, r, m=sdpa: export_dynamo(m, p, opset=23), sdpa)

        def contrib(p, r, m=model, a=arch):
            try:
                return contrib_by_builder(a, m, p, "fp32")
            except Exception as exc:  # noqa: BLE001 - fall back to the optimizer
                print(f"  builder: {exc!r}"[:400], flush=True)
                return {**contrib_by_optimizer(ts, p), "builder_error": repr(exc)[:400]}

        form(f"{arch}.contrib", contrib, model)
        form(f"{arch}.int4", lambda p, r, s=ts: quantize_int4(s, p, qdq=False), model)
        # The blocked int4 DequantizeLinear needs opset 21, which the dynamo export's ReduceMean (axes as an input) survives.
        form(f"{arch}.int4qdq", lambda p, r, s=out / f"{arch}.past.dynamo.onnx": quantize_int4(s, p, qdq=True), model)
        form(f"{arch}.genai-int4", lambda p, r, m=model, a=arch: contrib_by_builder(a, m, p, "int4"), model)
        if arch == "llama":
            form("llama.f16", lambda p, r, s=ts: to_float16([out / "llama.past.dynamo.onnx", s], p), model)
    form("bert.qdq", bert_qdq, decoder=False)

    import onnx
    import onnxruntime

    versions = {"python": platform.python_version(), "torch": torch.__version__, "onnx": onnx.__version__,
                "onnxruntime": onnxruntime.__version__}
    try:
        import transformers

        versions["transformers"] = transformers.__version__
    except ImportError:
        pass
    try:
        import onnxruntime_genai

        versions["onnxruntime_genai"] = onnxruntime_genai.__version__
    except ImportError:
        pass
    summary = {"versions": versions, "greedy_tokens": GREEDY_TOKENS, "prompt_batch": PROMPT_BATCH, "prompt_len": PROMPT_LEN,
               "config": {"vocab": VOCAB, "hidden": HIDDEN, "layers": LAYERS, "heads": HEADS, "kv_heads": KV_HEADS,
                          "intermediate": INTERMEDIATE}, "files": records}
    (out / "deploy.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    print(json.dumps(versions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
