#!/usr/bin/env python3
"""Export small, randomly initialised PyTorch models to ONNX for tierflow's examples.

Every model is built from its architecture definition (transformers config
classes, torchvision constructors) with random weights under
``torch.manual_seed(0)``; nothing is downloaded.  Each model is exported twice:

* ``<name>.torchscript.onnx`` - ``torch.onnx.export(..., dynamo=False)``, opset 17
* ``<name>.dynamo.onnx``      - ``torch.onnx.export(..., dynamo=True)``, the
  exporter's default opset (>= 18), weights embedded in the single file

plus ``llama-tiny-external/model.onnx`` + ``model.onnx.data``: the TorchScript
export of llama-tiny re-saved with ONNX external data.

Notes on the models:

* transformers models use eager attention (plain MatMul/Softmax), no KV cache;
  Mixtral uses the dense ``batched_mm`` experts implementation (no data-dependent
  loop over experts).
* The causal LMs are called without an attention mask, so transformers' packed-
  sequence check (torch.diff + cumsum on position ids) is part of their graphs.
  The TorchScript exporter has no rule for aten::diff and emits CumSum on a bool
  tensor for aten::cumsum; this script registers replacements for both
  (``_diff_symbolic``, ``_cumsum_symbolic``).
* mobilenet's BatchNorm statistics/affine parameters and classifier weights are
  re-drawn at random so that BatchNorm is not an identity.

All exports are float32, eval mode, without KV cache, with dynamic batch and
sequence axes (dynamic batch only for the CNN).  ``models.json`` records, for
every file, its header (IR version, opsets, producer), its graph inputs and
outputs as stored, an op-type histogram, local functions, initializer totals,
the onnx checker result, and the output shapes (and a comparison with PyTorch)
obtained by running onnxruntime on a fixed sample input:

* text models: batch=2, seq=7, ``input_ids`` drawn with ``torch.manual_seed(0)``
  from ``[0, vocab)``; ``attention_mask`` all ones except the last 2 positions of
  the second row;
* CNN: ``pixels`` of shape [2, 3, 64, 64] drawn from a standard normal with
  ``torch.manual_seed(0)``.

Requirements: torch (2.11 was used), transformers 5.x, torchvision, onnx,
onnxscript, onnxruntime, numpy.

Usage (from the repository root):

    python3 examples/export/export_models.py                 # writes examples/models/
    python3 examples/export/export_models.py --out /tmp/m    # another directory
    python3 examples/export/export_models.py --only llama-tiny gpt2-tiny

A failing export is reported in the summary and does not stop the others.
The exit status is non-zero if any export failed.
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import inspect
import json
import os
import platform
import shutil
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

VOCAB = 512
TEXT_BATCH, TEXT_SEQ = 2, 7
EXPORT_BATCH, EXPORT_SEQ = 3, 9  # example sizes used while exporting (not 0/1 to avoid specialisation)
TORCHSCRIPT_OPSET = 17
MAX_FILE_BYTES = 2 * 1024 * 1024


# --------------------------------------------------------------------------------------
# Model definitions
# --------------------------------------------------------------------------------------


def _eager(config):
    """Plain MatMul/Softmax attention and no KV cache."""
    config._attn_implementation = "eager"
    config.use_cache = False
    return config


class CausalLMWrapper(torch.nn.Module):
    """input_ids -> logits."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False, return_dict=True).logits


class EncoderWrapper(torch.nn.Module):
    """(input_ids, attention_mask) -> (last_hidden_state, pooler_output)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, return_dict=True)
        return out.last_hidden_state, out.pooler_output


def build_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    config = _eager(
        LlamaConfig(
            vocab_size=VOCAB,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=128,
            tie_word_embeddings=False,
        )
    )
    return CausalLMWrapper(LlamaForCausalLM(config))


def build_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    config = _eager(GPT2Config(vocab_size=VOCAB, n_embd=64, n_layer=2, n_head=4, n_positions=128))
    return CausalLMWrapper(GPT2LMHeadModel(config))


def build_bert():
    from transformers import BertConfig, BertModel

    config = _eager(
        BertConfig(
            vocab_size=VOCAB,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=128,
        )
    )
    return EncoderWrapper(BertModel(config, add_pooling_layer=True))


def build_mixtral():
    from transformers import MixtralConfig, MixtralForCausalLM

    config = _eager(
        MixtralConfig(
            vocab_size=VOCAB,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            num_local_experts=4,
            num_experts_per_tok=2,
            max_position_embeddings=128,
            tie_word_embeddings=False,
        )
    )
    # Dense batched expert computation: no data-dependent loop over experts.
    config._experts_implementation = "batched_mm"
    return CausalLMWrapper(MixtralForCausalLM(config))


def build_mobilenet(**overrides):
    """``overrides`` are extra keyword arguments for torchvision's constructor (e.g. ``reduced_tail=True``)."""
    from torchvision.models import mobilenet_v3_small

    model = mobilenet_v3_small(**{"weights": None, "width_mult": 0.5, "num_classes": 16, **overrides})
    # Default initialisation leaves BatchNorm as an identity (mean 0, var 1, gamma 1,
    # beta 0) and the classifier near zero; give them random values so that the
    # numbers that come out are a meaningful reference.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
            elif isinstance(m, torch.nn.Linear):
                torch.nn.init.kaiming_uniform_(m.weight, a=5**0.5)
    return model


def text_inputs(with_mask: bool, batch: int, seq: int):
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, VOCAB, (batch, seq), dtype=torch.int64, generator=gen)
    if not with_mask:
        return {"input_ids": ids}
    mask = torch.ones((batch, seq), dtype=torch.int64)
    if batch > 1 and seq > 2:
        mask[1, -2:] = 0
    return {"input_ids": ids, "attention_mask": mask}


def image_inputs(batch: int):
    gen = torch.Generator().manual_seed(0)
    return {"pixels": torch.randn((batch, 3, 64, 64), dtype=torch.float32, generator=gen)}


TEXT_AXES = {0: "batch", 1: "sequence"}
# Further (batch, seq) sizes run through onnxruntime and compared with PyTorch.
EXTRA_TEXT_SIZES = [(1, 1), (1, 16), (4, 3)]
EXTRA_IMAGE_SIZES = [(1, 0), (4, 0)]

MODELS = {
    "llama-tiny": dict(
        build=build_llama,
        inputs=lambda b, s: text_inputs(False, b, s),
        outputs=["logits"],
        dynamic_axes={"input_ids": TEXT_AXES, "logits": TEXT_AXES},
        description="LlamaForCausalLM, vocab 512, hidden 64, intermediate 128, 2 layers, 4 heads, 2 KV heads",
    ),
    "gpt2-tiny": dict(
        build=build_gpt2,
        inputs=lambda b, s: text_inputs(False, b, s),
        outputs=["logits"],
        dynamic_axes={"input_ids": TEXT_AXES, "logits": TEXT_AXES},
        description="GPT2LMHeadModel, vocab 512, n_embd 64, 2 layers, 4 heads, n_positions 128",
    ),
    "bert-tiny": dict(
        build=build_bert,
        inputs=lambda b, s: text_inputs(True, b, s),
        outputs=["last_hidden_state", "pooler_output"],
        dynamic_axes={
            "input_ids": TEXT_AXES,
            "attention_mask": TEXT_AXES,
            "last_hidden_state": TEXT_AXES,
            "pooler_output": {0: "batch"},
        },
        description="BertModel, vocab 512, hidden 64, 2 layers, 4 heads, intermediate 128, with pooler",
    ),
    "mixtral-tiny": dict(
        build=build_mixtral,
        inputs=lambda b, s: text_inputs(False, b, s),
        outputs=["logits"],
        dynamic_axes={"input_ids": TEXT_AXES, "logits": TEXT_AXES},
        description="MixtralForCausalLM, vocab 512, hidden 64, intermediate 128, 2 layers, 4 heads, "
        "2 KV heads, 4 experts, top-2 routing",
    ),
    "mobilenet-tiny": dict(
        build=build_mobilenet,
        inputs=lambda b, s: image_inputs(b),
        extra_sizes=EXTRA_IMAGE_SIZES,
        outputs=["logits"],
        dynamic_axes={"pixels": {0: "batch"}, "logits": {0: "batch"}},
        description="torchvision mobilenet_v3_small(width_mult=0.5, num_classes=16), input [batch, 3, 64, 64]",
    ),
}


# --------------------------------------------------------------------------------------
# Export
# --------------------------------------------------------------------------------------


def _supported_kwargs(fn, kwargs):
    params = inspect.signature(fn).parameters
    return {k: v for k, v in kwargs.items() if k in params}


def _diff_symbolic(g, self, n, dim, prepend, append):
    """aten::diff (n=1) for the TorchScript exporter, which has no built-in rule.

    transformers' masking code calls torch.diff on position_ids to detect packed
    sequences when no attention_mask is given; it lowers to Concat/Slice/Sub.
    Registering it changes nothing for models that do not call torch.diff.
    """
    from torch.onnx import symbolic_helper as sh

    if sh._get_const(n, "i", "n") != 1:
        return sh._unimplemented("diff", "n != 1")
    axis = sh._get_const(dim, "i", "dim")
    parts = [p for p in (prepend, self, append) if p is self or not sh._is_none(p)]
    x = g.op("Concat", *parts, axis_i=axis) if len(parts) > 1 else self

    def const(v):
        return g.op("Constant", value_t=torch.tensor([v], dtype=torch.int64))

    hi = g.op("Slice", x, const(1), const(sys.maxsize), const(axis))
    lo = g.op("Slice", x, const(0), const(-1), const(axis))
    return g.op("Sub", hi, lo)


_ONNX_TYPE_OF_SCALAR_TYPE = {3: 6, 4: 7, 6: 1, 7: 11}  # torch ScalarType -> ONNX (int32, int64, float, double)


def _cumsum_symbolic(g, self, dim, dtype):
    """aten::cumsum that follows torch's type promotion (bool/integers sum as int64).

    The built-in rule emits CumSum directly on a bool tensor, which ONNX rejects;
    the same packed-sequence check in transformers does ``(diff != 1).cumsum(-1)``.
    """
    from torch.onnx import symbolic_helper as sh

    axis = g.op("Constant", value_t=torch.tensor(sh._get_const(dim, "i", "dim"), dtype=torch.int64))
    if not sh._is_none(dtype):
        st = sh._get_const(dtype, "i", "dtype")
        if st not in _ONNX_TYPE_OF_SCALAR_TYPE:
            return sh._unimplemented("cumsum", f"dtype {st}")
        x = g.op("Cast", self, to_i=_ONNX_TYPE_OF_SCALAR_TYPE[st])
    elif self.type().scalarType() in ("Bool", "Byte", "Char", "Short", "Int"):
        x = g.op("Cast", self, to_i=7)
    else:
        x = self
    return g.op("CumSum", x, axis)


def export_torchscript(model, inputs, spec, path: Path):
    torch.onnx.register_custom_op_symbolic("aten::diff", _diff_symbolic, TORCHSCRIPT_OPSET)
    torch.onnx.register_custom_op_symbolic("aten::cumsum", _cumsum_symbolic, TORCHSCRIPT_OPSET)
    names = list(inputs)
    torch.onnx.export(
        model,
        tuple(inputs.values()),
        str(path),
        **_supported_kwargs(
            torch.onnx.export,
            dict(
                dynamo=False,
                opset_version=TORCHSCRIPT_OPSET,
                input_names=names,
                output_names=spec["outputs"],
                dynamic_axes=spec["dynamic_axes"],
                do_constant_folding=True,
                external_data=False,
            ),
        ),
    )


def export_dynamo(model, inputs, spec, path: Path):
    from torch.export import Dim

    dims = {}

    def dim(name):
        if name not in dims:
            dims[name] = Dim(name, min=1, max=128) if name == "sequence" else Dim(name, min=1, max=1024)
        return dims[name]

    names = list(inputs)
    # A tuple in argument order: the dict form would have to use forward()'s own parameter names.
    dynamic_shapes = tuple({ax: dim(label) for ax, label in spec["dynamic_axes"][n].items()} for n in names)
    program = torch.onnx.export(
        model,
        tuple(inputs.values()),
        **_supported_kwargs(
            torch.onnx.export,
            dict(
                dynamo=True,
                input_names=names,
                output_names=spec["outputs"],
                dynamic_shapes=dynamic_shapes,
                external_data=False,
                optimize=True,
                fallback=False,
                report=False,
                verify=False,
            ),
        ),
    )
    program.save(str(path), **_supported_kwargs(program.save, dict(external_data=False)))


def embed_external_data(path: Path):
    """Make sure a model is one self-contained file."""
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    if not external:
        return False
    sidecars = {entry.value for t in external for entry in t.external_data if entry.key == "location"}
    proto = onnx.load(str(path), load_external_data=True)
    onnx.save_model(proto, str(path), save_as_external_data=False)
    for name in sidecars:
        side = path.parent / name
        if side.exists():
            side.unlink()
    return True


# --------------------------------------------------------------------------------------
# Inspection
# --------------------------------------------------------------------------------------


def _dtype_name(elem_type: int) -> str:
    import onnx

    return onnx.TensorProto.DataType.Name(elem_type).lower()


def _value_infos(values):
    out = []
    for v in values:
        tt = v.type.tensor_type
        dims = None
        if tt.HasField("shape"):
            dims = []
            for d in tt.shape.dim:
                if d.HasField("dim_value"):
                    dims.append(d.dim_value)
                elif d.HasField("dim_param"):
                    dims.append(d.dim_param)
                else:
                    dims.append(None)
        out.append({"name": v.name, "dtype": _dtype_name(tt.elem_type), "dims": dims})
    return out


def _op_key(node) -> str:
    return node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}:{node.op_type}"


def _all_ops(graph, counter):
    """Histogram of every node including nested subgraphs (If/Loop/Scan bodies)."""
    import onnx

    for node in graph.node:
        counter[_op_key(node)] += 1
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                _all_ops(attr.g, counter)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    _all_ops(g, counter)


def describe(
    path: Path,
    rel: str,
    model_name: str,
    exporter: str,
    spec,
    sample,
    torch_outputs,
    torch_model,
    intra_op_threads: int | None = None,
):
    import onnx

    entry = {
        "file": rel,
        "model": model_name,
        "description": spec["description"],
        "exporter": exporter,
        "file_bytes": path.stat().st_size,
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    data_file = path.parent / "model.onnx.data"
    if exporter.endswith("external-data"):
        entry["external_data_file"] = data_file.name
        entry["external_data_bytes"] = data_file.stat().st_size

    proto = onnx.load(str(path), load_external_data=True)
    g = proto.graph
    entry["ir_version"] = proto.ir_version
    entry["opset_import"] = {op.domain: op.version for op in proto.opset_import}
    entry["producer_name"] = proto.producer_name
    entry["producer_version"] = proto.producer_version
    entry["graph_name"] = g.name
    init_names = {t.name for t in g.initializer}
    entry["inputs"] = _value_infos([v for v in g.input if v.name not in init_names])
    entry["outputs"] = _value_infos(g.output)
    entry["value_info_count"] = len(g.value_info)
    entry["value_info_dim_params"] = sorted(
        {d.dim_param for v in g.value_info for d in v.type.tensor_type.shape.dim if d.HasField("dim_param")}
    )
    entry["node_count"] = len(g.node)
    entry["op_histogram"] = dict(collections.Counter(_op_key(n) for n in g.node))
    nested = collections.Counter()
    _all_ops(g, nested)
    if nested != collections.Counter(_op_key(n) for n in g.node):
        entry["op_histogram_including_subgraphs"] = dict(nested)
    entry["functions"] = [f"{f.domain}:{f.name}" for f in proto.functions]
    if proto.functions:
        fops = collections.Counter()
        for f in proto.functions:
            for n in f.node:
                fops[_op_key(n)] += 1
        entry["function_op_histogram"] = dict(fops)
    entry["initializer_count"] = len(g.initializer)
    params = 0
    nbytes = 0
    init_dtypes = collections.Counter()
    for t in g.initializer:
        arr = onnx.numpy_helper.to_array(t)
        params += int(arr.size)
        nbytes += int(arr.nbytes)
        init_dtypes[_dtype_name(t.data_type)] += 1
    entry["parameter_elements"] = params
    entry["initializer_bytes"] = nbytes
    entry["initializer_dtypes"] = dict(init_dtypes)
    entry["constant_node_count"] = sum(1 for n in g.node if n.op_type == "Constant")

    # The checker, with the path so that external data is resolved.
    for key, full in (("checker", False), ("checker_full", True)):
        try:
            onnx.checker.check_model(str(path), full_check=full)
            entry[key] = {"passed": True}
        except Exception as exc:  # noqa: BLE001
            entry[key] = {"passed": False, "error": str(exc)[:2000]}

    # onnxruntime on the sample input.
    try:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if intra_op_threads:
            opts.intra_op_num_threads = intra_op_threads
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        feeds = {k: v.numpy() for k, v in sample.items()}
        results = sess.run(None, feeds)
        names = [o.name for o in sess.get_outputs()]
        entry["ort_sample_input_shapes"] = {k: list(v.shape) for k, v in feeds.items()}
        entry["ort_output_shapes"] = {n: list(r.shape) for n, r in zip(names, results)}
        entry["ort_output_dtypes"] = {n: str(r.dtype) for n, r in zip(names, results)}
        entry["ort_vs_torch_max_abs_diff"] = _diffs(names, results, torch_outputs)
        entry["ort"] = {"passed": True}
    except Exception as exc:  # noqa: BLE001
        entry["ort"] = {"passed": False, "error": str(exc)[:2000]}
        return entry

    # Other sizes, to see that the dynamic axes really are dynamic.
    checks = []
    for b, s in spec.get("extra_sizes", EXTRA_TEXT_SIZES):
        inputs = spec["inputs"](b, s)
        check = {"input_shapes": {k: list(v.shape) for k, v in inputs.items()}}
        try:
            with torch.no_grad():
                ref = torch_model(*inputs.values())
            ref = list(ref) if isinstance(ref, (tuple, list)) else [ref]
            results = sess.run(None, {k: v.numpy() for k, v in inputs.items()})
            check["output_shapes"] = {n: list(r.shape) for n, r in zip(names, results)}
            check["max_abs_diff"] = _diffs(names, results, ref)
            check["passed"] = all(isinstance(d, float) and d < 1e-3 for d in check["max_abs_diff"].values())
        except Exception as exc:  # noqa: BLE001
            check["passed"] = False
            check["error"] = str(exc)[:1000]
        checks.append(check)
    entry["ort_other_sizes"] = checks
    return entry


def _diffs(names, results, torch_outputs):
    diffs = {}
    for n, r, t in zip(names, results, torch_outputs):
        t = t.detach().numpy()
        diffs[n] = float(np.max(np.abs(r - t))) if r.shape == t.shape else f"shape mismatch {r.shape} vs {t.shape}"
    return diffs


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def main(argv=None) -> int:
    repo_models = Path(__file__).resolve().parent.parent / "models"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=repo_models, help=f"output directory (default {repo_models})")
    ap.add_argument("--only", nargs="*", choices=sorted(MODELS), help="export only these models")
    ap.add_argument("--exporters", nargs="*", default=["torchscript", "dynamo"], choices=["torchscript", "dynamo"])
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore")
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(MODELS)

    import onnx
    import onnxruntime
    import transformers

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    for mod in ("torchvision", "onnxscript"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001
            versions[mod] = None
    print("versions:", json.dumps(versions), flush=True)

    entries, failures = [], []
    for name in names:
        spec = MODELS[name]
        try:
            torch.manual_seed(0)
            model = spec["build"]().eval()
            example = spec["inputs"](EXPORT_BATCH, EXPORT_SEQ)
            sample = spec["inputs"](TEXT_BATCH, TEXT_SEQ)
            with torch.no_grad():
                ref = model(*sample.values())
            ref = list(ref) if isinstance(ref, (tuple, list)) else [ref]
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            failures.append((name, "build", repr(exc)[:500]))
            continue

        for exporter in args.exporters:
            rel = f"{name}.{exporter}.onnx"
            path = out / rel
            t0 = time.time()
            try:
                with torch.no_grad():
                    if exporter == "torchscript":
                        export_torchscript(model, example, spec, path)
                    else:
                        export_dynamo(model, example, spec, path)
                embedded = embed_external_data(path)
                entry = describe(path, rel, name, exporter, spec, sample, ref, model)
                entry["external_data_embedded_after_export"] = embedded
                entry["export_seconds"] = round(time.time() - t0, 2)
                entry["versions"] = versions
                entries.append(entry)
                print(f"[ok]   {rel}  {entry['file_bytes']} bytes  {entry['export_seconds']} s", flush=True)
                if entry["file_bytes"] > MAX_FILE_BYTES:
                    print(f"[warn] {rel} is larger than {MAX_FILE_BYTES} bytes", flush=True)
            except Exception as exc:  # noqa: BLE001
                traceback.print_exc()
                failures.append((rel, exporter, repr(exc)[:1000]))
                print(f"[FAIL] {rel}: {exc!r}"[:1200], flush=True)
                if path.exists():
                    path.unlink()

            if name == "llama-tiny" and exporter == "torchscript" and path.exists():
                ext_dir = out / "llama-tiny-external"
                rel_ext = "llama-tiny-external/model.onnx"
                try:
                    if ext_dir.exists():
                        shutil.rmtree(ext_dir)
                    ext_dir.mkdir(parents=True)
                    proto = onnx.load(str(path), load_external_data=True)
                    onnx.save_model(
                        proto,
                        str(ext_dir / "model.onnx"),
                        save_as_external_data=True,
                        all_tensors_to_one_file=True,
                        location="model.onnx.data",
                        size_threshold=1024,
                    )
                    entry = describe(
                        ext_dir / "model.onnx", rel_ext, name, "torchscript+external-data", spec, sample, ref, model
                    )
                    entry["versions"] = versions
                    entries.append(entry)
                    print(f"[ok]   {rel_ext}  {entry['file_bytes']} + {entry['external_data_bytes']} bytes", flush=True)
                except Exception as exc:  # noqa: BLE001
                    traceback.print_exc()
                    failures.append((rel_ext, "external-data", repr(exc)[:1000]))

    entries.sort(key=lambda e: e["file"])
    (out / "models.json").write_text(json.dumps(entries, indent=2, sort_keys=True) + "\n")

    # ---------------- summary ----------------
    print("\n==================== summary ====================")
    union = collections.Counter()
    domains = set()
    sym = set()
    for e in entries:
        union.update(e.get("op_histogram_including_subgraphs", e["op_histogram"]))
        for f in e.get("function_op_histogram", {}):
            union[f] += 0
        domains.update(d for d in e["opset_import"])
        for v in e["inputs"] + e["outputs"]:
            sym.update(d for d in (v["dims"] or []) if isinstance(d, str))
        print(
            f"{e['file']:42s} {e['exporter']:26s} ir={e['ir_version']} opsets={e['opset_import']} "
            f"bytes={e['file_bytes']} nodes={e['node_count']} inits={e['initializer_count']} "
            f"params={e['parameter_elements']} checker={e['checker']['passed']} full={e['checker_full']['passed']} "
            f"ort={e['ort']['passed']} out={e.get('ort_output_shapes')} diff={e.get('ort_vs_torch_max_abs_diff')} "
            f"other_sizes_ok={all(c['passed'] for c in e.get('ort_other_sizes', [{'passed': False}]))}"
        )
        print(f"    inputs={[(v['name'], v['dtype'], v['dims']) for v in e['inputs']]}")
        print(f"    outputs={[(v['name'], v['dtype'], v['dims']) for v in e['outputs']]}")
        if e["functions"]:
            print(f"    functions={e['functions']}")
    print("\nop-type union (count over all files):")
    for op, n in sorted(union.items()):
        print(f"    {op}: {n}")
    print("opset domains:", sorted(domains))
    print("symbolic dim names:", sorted(sym))
    if failures:
        print("\nFAILURES:")
        for f in failures:
            print("   ", f)
    print(f"\n{len(entries)} files written to {out}, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
