#!/usr/bin/env python3
"""Export a small Composition of Experts (CoE) from PyTorch for tierflow's examples.

A router (a text classifier) picks one of several expert language models per
request.  Three of the experts are "fine-tuned" from one base model: they share
the base's graph and differ only in their weights, so the graph is stored once
and each of them ships a weights file alone.  A fourth expert has a graph of
its own, to show a composition that mixes both kinds.

Everything is built from transformers config classes with random weights under
fixed seeds (nothing is downloaded) and exported with the TorchScript exporter
(``torch.onnx.export(..., dynamo=False)``, opset 17), eager attention, no KV
cache, dynamic ``batch`` and ``sequence`` axes.  The export helpers (and the
replacement rules for aten::diff and aten::cumsum that the causal LMs need)
come from ``export_models.py`` beside this file.

Files written to the output folder:

* ``router.onnx`` - BertForSequenceClassification (vocab 512, hidden 64,
  2 layers, 4 heads, intermediate 128, 3 labels); input ``input_ids`` int64
  [batch, sequence] (no mask input: every position is attended to), output
  ``logits`` float32 [batch, 3]; weights embedded.  Its classifier is re-drawn
  with a larger spread and its bias is set so that the three labels are about
  equally likely over the candidate prompts (so that routing is decisive and
  every label occurs).
* ``base/model.onnx`` + ``base/model.onnx.data`` - LlamaForCausalLM (vocab 512,
  hidden 64, intermediate 128, 2 layers, 4 heads, 2 KV heads), every initializer
  in the one external data file ``model.onnx.data``.  The base's RMSNorm
  weights are drawn around 1 rather than left at exactly 1: the TorchScript
  exporter merges initializers with equal values, which would give a fine-tuned
  model (whose norms differ) another graph.
* ``experts/math.data``, ``experts/code.data``, ``experts/chat.data`` - the
  weights of three fine-tunes of the base: every parameter plus a seeded random
  delta (``FINE_TUNE_SCALE`` times the parameter's standard deviation).  Each
  fine-tune is exported the same way as the base; its graph is checked to be the
  base's, and its tensors are written at the very offsets and lengths that
  ``base/model.onnx`` records for ``model.onnx.data``, so the base graph runs
  with any of these files in place of its own data file.
* ``experts/story.onnx`` - GPT2LMHeadModel (vocab 512, n_embd 64, 2 layers,
  4 heads), weights embedded.
* ``coe.json`` - the manifest (docs/COE.md): router, label -> expert mapping, experts.
* ``reference.json`` - for 4 fixed prompts: the router's logits and argmax, and
  for every expert the last position's argmax, top-5 and the next 3 greedy
  tokens, all computed by onnxruntime (CPU) re-running the growing prefix
  without a KV cache; plus checks against PyTorch.

The script also checks every file with ``onnx.checker``, runs the base graph
with each expert's data file (copied next to the graph under the data file's
name) in onnxruntime and compares with the fine-tuned PyTorch model, and
records how much the experts' logits differ.

Requirements: torch (2.11 was used), transformers 5.x, onnx, onnxruntime, numpy.

Usage (from the repository root):

    python3 examples/export/export_coe.py                # writes examples/coe/
    python3 examples/export/export_coe.py --out /tmp/coe

The exit status is non-zero if any check failed; the files are written anyway.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_models as em  # noqa: E402

VOCAB = em.VOCAB
ROUTES = ["math", "code", "chat"]  # router output index -> expert
SHARED_EXPERTS = ROUTES  # experts that are fine-tunes of the base
STORY = "story"  # the expert with a graph of its own

BASE_SEED = 0
ROUTER_SEED = 1
STORY_SEED = 2
NORM_SEED = 10
EXPERT_SEEDS = {"math": 101, "code": 102, "chat": 103}
PROMPT_SEED = 1234

FINE_TUNE_SCALE = 0.3  # delta std, relative to each parameter's std
NORM_SPREAD = 0.1  # base RMSNorm weights: 1 + NORM_SPREAD * N(0, 1)
ROUTER_CLASSIFIER_STD = 0.125
N_CANDIDATES = 256  # candidate prompts the 4 reference prompts are picked from
PROMPT_LENGTHS = [5, 6, 7, 8]
GREEDY_STEPS = 3
TOP_K = 5
TOLERANCE = 1e-4  # onnxruntime vs PyTorch, max abs difference of logits
MAX_FILE_BYTES = 2 * 1024 * 1024
DATA_NAME = "model.onnx.data"

ROUTER_SPEC = {"outputs": ["logits"], "dynamic_axes": {"input_ids": em.TEXT_AXES, "logits": {0: "batch"}}}
LM_SPEC = {"outputs": ["logits"], "dynamic_axes": {"input_ids": em.TEXT_AXES, "logits": em.TEXT_AXES}}


# --------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------


class RouterWrapper(torch.nn.Module):
    """input_ids -> logits [batch, labels]; attends to every position."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.with_mask = True  # an all-ones mask: the same numbers as no mask

    def forward(self, input_ids):
        mask = torch.ones_like(input_ids) if self.with_mask else None
        out = self.model(input_ids=input_ids, attention_mask=mask)
        return out.logits if hasattr(out, "logits") else out[0]


def build_router():
    from transformers import BertConfig, BertForSequenceClassification

    config = em._eager(
        BertConfig(
            vocab_size=VOCAB,
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            intermediate_size=128,
            max_position_embeddings=128,
            num_labels=len(ROUTES),
        )
    )
    torch.manual_seed(ROUTER_SEED)
    model = BertForSequenceClassification(config)
    gen = torch.Generator().manual_seed(ROUTER_SEED)
    with torch.no_grad():
        w = model.classifier.weight
        w.copy_(torch.randn(w.shape, generator=gen, dtype=w.dtype) * ROUTER_CLASSIFIER_STD)
        model.classifier.bias.zero_()
    return RouterWrapper(model).eval()


def build_base():
    torch.manual_seed(BASE_SEED)
    model = em.build_llama().eval()
    gen = torch.Generator().manual_seed(NORM_SEED)
    with torch.no_grad():
        for _, p in model.named_parameters():
            flat = p.reshape(-1)
            if flat.numel() > 1 and bool((flat == flat[0]).all()):
                p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * NORM_SPREAD)
    return model


def fine_tune(base, seed):
    """A copy of the base with every parameter moved by a seeded random delta."""
    model = em.build_llama()
    model.load_state_dict(base.state_dict())
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in model.named_parameters():
            std = float(p.std()) if p.numel() > 1 else 0.0
            sigma = FINE_TUNE_SCALE * (std if std > 0 else 1.0)
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype) * sigma)
    return model.eval()


def build_story():
    torch.manual_seed(STORY_SEED)
    return em.build_gpt2().eval()


# --------------------------------------------------------------------------------------
# Prompts
# --------------------------------------------------------------------------------------


def candidate_prompts():
    gen = torch.Generator().manual_seed(PROMPT_SEED)
    out = []
    for i in range(N_CANDIDATES):
        length = PROMPT_LENGTHS[i % len(PROMPT_LENGTHS)]
        out.append([int(x) for x in torch.randint(0, VOCAB, (length,), generator=gen)])
    return out


def torch_router_logits(router, prompts):
    with torch.no_grad():
        return torch.stack([router(torch.tensor([p], dtype=torch.int64))[0] for p in prompts])


def calibrate_router(router, prompts):
    """Set the classifier bias so that the mean logit over the candidates is 0 for every label."""
    logits = torch_router_logits(router, prompts)
    with torch.no_grad():
        router.model.classifier.bias.sub_(logits.mean(0))
    return torch_router_logits(router, prompts)


def greedy_margins(model, prompts):
    """Per prompt, the smallest top-2 margin of the last position over the greedy steps (PyTorch).

    Prompts of one length run as one batch (no padding needed).
    """
    res = [0.0] * len(prompts)
    by_len = {}
    for i, p in enumerate(prompts):
        by_len.setdefault(len(p), []).append(i)
    with torch.no_grad():
        for idx in by_len.values():
            ids = torch.tensor([prompts[i] for i in idx], dtype=torch.int64)
            m = torch.full((len(idx),), float("inf"))
            for _ in range(GREEDY_STEPS):
                top = model(ids)[:, -1].topk(2, dim=1)
                m = torch.minimum(m, top.values[:, 0] - top.values[:, 1])
                ids = torch.cat([ids, top.indices[:, :1]], dim=1)
            for k, i in enumerate(idx):
                res[i] = float(m[k])
    return res


def pick_prompts(cands, logits, expert_margin):
    """One prompt per label, then one more, each the most decisive of those left.

    Decisive: the larger of min(router's top-2 margin, expert_margin) - expert_margin
    being the smallest top-2 margin of any expert's greedy steps - so that the
    reference argmaxes are not near-ties.  Prompt i prefers length PROMPT_LENGTHS[i],
    so the four lengths differ.  Returns the indices of the chosen candidates.
    """
    top = logits.topk(2, dim=1)
    arg = top.indices[:, 0].tolist()
    margin = [min(float(a - b), e) for a, b, e in zip(top.values[:, 0], top.values[:, 1], expert_margin)]
    chosen = []
    wanted = list(range(len(ROUTES))) + [None] * (len(PROMPT_LENGTHS) - len(ROUTES))
    for slot, label in enumerate(wanted):
        best = None
        for i, c in enumerate(cands):
            if i in chosen:
                continue
            key = (label is None or arg[i] == label, len(c) == PROMPT_LENGTHS[slot], margin[i])
            if best is None or key > best[0]:
                best = (key, i)
        chosen.append(best[1])
    return chosen


# --------------------------------------------------------------------------------------
# Export and ONNX helpers
# --------------------------------------------------------------------------------------


def export(model, spec, path: Path):
    example = em.text_inputs(False, em.EXPORT_BATCH, em.EXPORT_SEQ)
    with torch.no_grad():
        em.export_torchscript(model, example, spec, path)
    em.embed_external_data(path)


def raw_bytes(t) -> bytes:
    from onnx import numpy_helper

    if t.HasField("raw_data"):
        return bytes(t.raw_data)
    return numpy_helper.from_array(numpy_helper.to_array(t)).raw_data


def save_with_external_data(src: Path, dst: Path):
    """Re-save an embedded model with every initializer in one external file DATA_NAME."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(src), load_external_data=True)
    for i, t in enumerate(proto.graph.initializer):
        if not t.HasField("raw_data"):  # only tensors in raw_data are moved out
            proto.graph.initializer[i].CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t), t.name))
    data = dst.parent / DATA_NAME
    if data.exists():
        data.unlink()  # onnx appends to an existing file
    onnx.save_model(
        proto,
        str(dst),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location=DATA_NAME,
        size_threshold=0,
    )


_ELEM_BYTES = {1: 4, 2: 1, 3: 1, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 16: 2}


def external_layout(model_path: Path):
    """[(name, offset, length)] of the initializers in external data, in file order."""
    import onnx

    proto = onnx.load(str(model_path), load_external_data=False)
    layout, embedded = [], []
    for t in proto.graph.initializer:
        if t.data_location != onnx.TensorProto.EXTERNAL:
            embedded.append(t.name)
            continue
        info = {e.key: e.value for e in t.external_data}
        if info.get("location") != DATA_NAME:
            raise ValueError(f"{t.name}: external data in {info.get('location')!r}, not {DATA_NAME}")
        offset = int(info.get("offset", 0) or 0)
        if "length" in info:
            length = int(info["length"])
        else:
            length = int(np.prod(list(t.dims), dtype=np.int64)) * _ELEM_BYTES[t.data_type]
        layout.append((t.name, offset, length))
    layout.sort(key=lambda e: e[1])
    return layout, embedded


def graph_without_weights(proto) -> bytes:
    import onnx

    g = onnx.GraphProto()
    g.CopyFrom(proto.graph)
    for t in g.initializer:
        for f in ("raw_data", "float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data"):
            t.ClearField(f)
    return g.SerializeToString()


def expert_tensors_by_export(base_proto, expert_path: Path):
    """name -> bytes, from the fine-tune's own export, which must have the base's graph."""
    import onnx

    expert = onnx.load(str(expert_path), load_external_data=True)
    b = list(base_proto.graph.initializer)
    e = list(expert.graph.initializer)
    if len(b) != len(e):
        raise ValueError(f"{len(e)} initializers in the fine-tune's export, {len(b)} in the base's")
    for x, y in zip(b, e):
        if x.name != y.name or list(x.dims) != list(y.dims) or x.data_type != y.data_type:
            raise ValueError(f"initializer {y.name} {list(y.dims)} where the base has {x.name} {list(x.dims)}")
    if graph_without_weights(base_proto) != graph_without_weights(expert):
        raise ValueError("the fine-tune's graph differs from the base's")
    return {x.name: raw_bytes(y) for x, y in zip(b, e)}


def expert_tensors_by_value(base_proto, base_model, expert_model):
    """name -> bytes, mapping each base initializer to the parameter it holds (maybe transposed).

    A fallback when the fine-tune's own export does not have the base's graph.
    """
    from onnx import numpy_helper

    base_params = {n: p.detach().numpy() for n, p in base_model.named_parameters()}
    expert_params = {n: p.detach().numpy() for n, p in expert_model.named_parameters()}
    out, used = {}, set()
    for t in base_proto.graph.initializer:
        arr = numpy_helper.to_array(t)
        value = arr
        for n, p in base_params.items():
            if n in used:
                continue
            if p.shape == arr.shape and np.array_equal(p, arr):
                value = expert_params[n]
            elif p.ndim == 2 and p.T.shape == arr.shape and np.array_equal(p.T, arr):
                value = expert_params[n].T
            else:
                continue
            used.add(n)
            break
        out[t.name] = np.ascontiguousarray(value.astype(arr.dtype)).tobytes()
    missing = sorted(set(base_params) - used)
    if missing:
        raise ValueError(f"parameters not found among the base's initializers: {missing}")
    return out


def write_expert_data(base_data: bytes, layout, tensors, dst: Path):
    buf = bytearray(base_data)
    for name, offset, length in layout:
        raw = tensors[name]
        if len(raw) != length:
            raise ValueError(f"{name}: {len(raw)} bytes where the base has {length}")
        buf[offset : offset + length] = raw
    if len(buf) != len(base_data):
        raise AssertionError("expert data size differs from the base's")
    dst.write_bytes(bytes(buf))


def check_same_layout(base_data: bytes, expert_data: bytes, layout):
    """Bytes outside the tensors are the base's; returns how many tensors differ from the base's."""
    if len(base_data) != len(expert_data):
        raise AssertionError("sizes differ")
    covered = np.zeros(len(base_data), dtype=bool)
    changed = 0
    for _, offset, length in layout:
        covered[offset : offset + length] = True
        changed += base_data[offset : offset + length] != expert_data[offset : offset + length]
    a = np.frombuffer(base_data, dtype=np.uint8)
    b = np.frombuffer(expert_data, dtype=np.uint8)
    if not np.array_equal(a[~covered], b[~covered]):
        raise AssertionError("bytes outside the tensors differ")
    return int(changed)


def session(path: Path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def ort_fn(sess):
    return lambda ids: sess.run(None, {"input_ids": np.asarray(ids, dtype=np.int64)})[0]


def torch_fn(model):
    def run(ids):
        with torch.no_grad():
            return model(torch.tensor(np.asarray(ids), dtype=torch.int64)).numpy()

    return run


def greedy(fn, prompt, steps=GREEDY_STEPS):
    """Re-run the growing prefix (no KV cache); returns (first step's logits [seq, vocab], new tokens)."""
    ids = list(prompt)
    first = None
    for _ in range(steps):
        logits = fn([ids])[0]
        if first is None:
            first = logits
        ids.append(int(np.argmax(logits[-1])))
    return first, ids[len(prompt) :]


def checker(path: Path):
    import onnx

    try:
        onnx.checker.check_model(str(path), full_check=True)
        return {"passed": True}
    except Exception as exc:  # noqa: BLE001
        return {"passed": False, "error": str(exc)[:1000]}


def file_info(path: Path):
    data = path.read_bytes()
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def main(argv=None) -> int:
    default_out = Path(__file__).resolve().parent.parent / "coe"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=default_out, help=f"output directory (default {default_out})")
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore")
    import onnx
    import onnxruntime
    import transformers

    t_start = time.time()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    for d in ("base", "experts"):
        if (out / d).exists():
            shutil.rmtree(out / d)
    for f in ("router.onnx", "coe.json", "reference.json"):
        if (out / f).exists():
            (out / f).unlink()
    (out / "base").mkdir()
    (out / "experts").mkdir()
    tmp = Path(tempfile.mkdtemp(prefix="coe-"))

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "onnx": onnx.__version__,
        "onnxruntime": onnxruntime.__version__,
    }
    print("versions:", json.dumps(versions), flush=True)
    failures = []
    checks = {}

    def fail(what, exc):
        traceback.print_exc()
        failures.append(f"{what}: {exc!r}"[:1500])
        print(f"[FAIL] {what}: {exc!r}"[:1500], flush=True)

    # ---------------- models and prompts ----------------
    router = build_router()
    base = build_base()
    experts_torch = {name: fine_tune(base, EXPERT_SEEDS[name]) for name in SHARED_EXPERTS}
    story = build_story()
    cands = candidate_prompts()
    cand_logits = calibrate_router(router, cands)
    label_share = torch.bincount(cand_logits.argmax(1), minlength=len(ROUTES)).tolist()
    per_expert = [greedy_margins(m, cands) for m in [*experts_torch.values(), story]]
    expert_margin = [min(ms) for ms in zip(*per_expert)]
    chosen = pick_prompts(cands, cand_logits, expert_margin)
    prompts = [cands[i] for i in chosen]
    print("candidate prompts per label:", label_share, flush=True)
    print("prompts:", prompts, "smallest expert margins:", [round(expert_margin[i], 4) for i in chosen], flush=True)

    try:
        export(router, ROUTER_SPEC, out / "router.onnx")
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        print(f"[warn] router export with an all-ones mask failed ({exc!r}); exporting without a mask", flush=True)
        router.with_mask = False
        export(router, ROUTER_SPEC, out / "router.onnx")
    checks["router.onnx"] = {"checker": checker(out / "router.onnx"), "all_ones_mask_in_graph": router.with_mask}
    print("[ok]   router.onnx", flush=True)

    # ---------------- base and fine-tunes ----------------
    base_embedded = tmp / "base-embedded.onnx"
    export(base, LM_SPEC, base_embedded)
    save_with_external_data(base_embedded, out / "base" / "model.onnx")
    base_proto = onnx.load(str(base_embedded), load_external_data=True)
    layout, embedded = external_layout(out / "base" / "model.onnx")
    base_data = (out / "base" / DATA_NAME).read_bytes()
    checks["base/model.onnx"] = {
        "checker": checker(out / "base" / "model.onnx"),
        "initializers": len(base_proto.graph.initializer),
        "initializers_external": len(layout),
        "initializers_embedded": embedded,
        "data_bytes": len(base_data),
        "layout": [{"name": n, "offset": o, "length": ln} for n, o, ln in layout],
    }
    if embedded:
        failures.append(f"base/model.onnx: initializers left embedded: {embedded}")
    print(f"[ok]   base/model.onnx: {len(layout)} external initializers, {len(base_data)} bytes of data", flush=True)

    for name in SHARED_EXPERTS:
        try:
            model = experts_torch[name]
            method = "own export, same graph"
            try:
                export(model, LM_SPEC, tmp / f"{name}.onnx")
                tensors = expert_tensors_by_export(base_proto, tmp / f"{name}.onnx")
            except Exception as exc:  # noqa: BLE001
                print(f"[warn] {name}: {exc!r}; mapping the base's initializers to parameters instead", flush=True)
                method = f"parameters mapped onto the base's initializers ({exc!r})"[:500]
                tensors = expert_tensors_by_value(base_proto, base, model)
            dst = out / "experts" / f"{name}.data"
            write_expert_data(base_data, layout, tensors, dst)
            changed = check_same_layout(base_data, dst.read_bytes(), layout)
            checks[f"experts/{name}.data"] = {"method": method, "tensors_differing_from_base": changed}
            print(f"[ok]   experts/{name}.data ({method}; {changed}/{len(layout)} tensors differ from base)", flush=True)
        except Exception as exc:  # noqa: BLE001
            fail(f"experts/{name}.data", exc)

    # ---------------- story ----------------
    export(story, LM_SPEC, out / "experts" / f"{STORY}.onnx")
    checks[f"experts/{STORY}.onnx"] = {"checker": checker(out / "experts" / f"{STORY}.onnx")}
    print(f"[ok]   experts/{STORY}.onnx", flush=True)

    # ---------------- onnxruntime: sessions ----------------
    sessions, torch_models = {}, {}
    sessions["router"] = session(out / "router.onnx")
    sessions["base"] = session(out / "base" / "model.onnx")
    torch_models["base"] = base
    for name in SHARED_EXPERTS:
        if not (out / "experts" / f"{name}.data").exists():
            continue
        d = tmp / f"run-{name}"
        d.mkdir()
        shutil.copyfile(out / "base" / "model.onnx", d / "model.onnx")
        shutil.copyfile(out / "experts" / f"{name}.data", d / DATA_NAME)
        checks[f"experts/{name}.data"]["checker_with_base_graph"] = checker(d / "model.onnx")
        try:
            sessions[name] = session(d / "model.onnx")
            torch_models[name] = experts_torch[name]
        except Exception as exc:  # noqa: BLE001
            fail(f"onnxruntime base graph + experts/{name}.data", exc)
    sessions[STORY] = session(out / "experts" / f"{STORY}.onnx")
    torch_models[STORY] = story
    torch_models["router"] = router

    # Dynamic axes: batch 2, sequence 11, against PyTorch.
    labels = {"router": "router.onnx", "base": "base/model.onnx", STORY: f"experts/{STORY}.onnx"}
    labels.update({n: f"experts/{n}.data" for n in SHARED_EXPERTS})
    dyn = em.text_inputs(False, 2, 11)["input_ids"].numpy()
    for key, sess in sessions.items():
        try:
            d = float(np.max(np.abs(ort_fn(sess)(dyn) - torch_fn(torch_models[key])(dyn))))
            checks.setdefault(labels[key], {})["batch2_seq11_max_abs_diff"] = d
            if not d < TOLERANCE:
                failures.append(f"{key}: batch 2 x sequence 11 differs from PyTorch by {d}")
        except Exception as exc:  # noqa: BLE001
            fail(f"{key}: batch 2 x sequence 11", exc)

    # ---------------- reference ----------------
    reference = {
        "description": "onnxruntime (CPU, float32) results for the CoE in this folder; "
        "greedy tokens re-run the growing prefix without a KV cache",
        "versions": versions,
        "prompts": prompts,
        "greedy_steps": GREEDY_STEPS,
        "construction": {
            "seeds": {"base": BASE_SEED, "base_norms": NORM_SEED, "router": ROUTER_SEED, "story": STORY_SEED,
                      "fine_tunes": EXPERT_SEEDS, "prompts": PROMPT_SEED},
            "fine_tune_delta_std_relative": FINE_TUNE_SCALE,
            "base_norm_spread": NORM_SPREAD,
            "router_classifier_std": ROUTER_CLASSIFIER_STD,
            "prompt_candidates": N_CANDIDATES,
            "candidates_per_router_label": label_share,
            "prompt_min_expert_top2_margin": [expert_margin[i] for i in chosen],
        },
        "router": [],
        "experts": {},
        "routed": [],
        "checks": checks,
    }
    for p in prompts:
        logits = ort_fn(sessions["router"])([p])[0]
        ref = torch_fn(router)([p])[0]
        d = float(np.max(np.abs(logits - ref)))
        srt = np.sort(logits)
        arg = int(np.argmax(logits))
        reference["router"].append(
            {
                "logits": [float(x) for x in logits],
                "argmax": arg,
                "expert": ROUTES[arg],
                "top2_margin": float(srt[-1] - srt[-2]),
                "torch_argmax": int(np.argmax(ref)),
                "max_abs_diff_vs_torch": d,
            }
        )
        if not d < TOLERANCE or int(np.argmax(ref)) != arg:
            failures.append(f"router on {p}: differs from PyTorch (max abs diff {d})")

    first_logits = {}
    for name in ["base"] + SHARED_EXPERTS + [STORY]:
        if name not in sessions:
            continue
        rows = []
        for i, p in enumerate(prompts):
            first, tokens = greedy(ort_fn(sessions[name]), p)
            t_first, t_tokens = greedy(torch_fn(torch_models[name]), p)
            first_logits[(name, i)] = first
            last = first[-1]
            order = np.argsort(-last, kind="stable")[:TOP_K]
            d = float(np.max(np.abs(first - t_first)))
            rows.append(
                {
                    "last_argmax": int(order[0]),
                    "last_top": [[int(j), float(last[j])] for j in order],
                    "last_top2_margin": float(last[order[0]] - last[order[1]]),
                    "last_logits_sum": float(np.sum(last, dtype=np.float64)),
                    "last_logits_abs_sum": float(np.sum(np.abs(last), dtype=np.float64)),
                    "greedy": tokens,
                    "torch_greedy": t_tokens,
                    "max_abs_diff_vs_torch": d,
                }
            )
            if not d < TOLERANCE:
                failures.append(f"{name} on {p}: logits differ from PyTorch by {d}")
            if tokens != t_tokens:
                print(f"[warn] {name} on {p}: greedy {tokens} vs PyTorch {t_tokens}", flush=True)
        if name == "base":
            reference["base_model"] = rows  # the base's own weights; not an expert
        else:
            reference["experts"][name] = rows

    # How different the experts are: per pair, the smallest (over prompts) max abs difference.
    names = [n for n in ["base"] + SHARED_EXPERTS if n in sessions]
    diffs = {}
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            m = min(
                float(np.max(np.abs(first_logits[(names[a], i)] - first_logits[(names[b], i)])))
                for i in range(len(prompts))
            )
            diffs[f"{names[a]}-{names[b]}"] = m
            if not m > 1e-3:
                failures.append(f"{names[a]} and {names[b]} give the same logits (min max abs diff {m})")
    reference["expert_logit_differences"] = {
        "description": "per pair, the smallest over the prompts of the max abs difference of the first step's logits",
        "pairs": diffs,
    }

    for i, p in enumerate(prompts):
        r = reference["router"][i]
        rows = reference["experts"].get(r["expert"])
        reference["routed"].append(
            {"prompt": p, "expert": r["expert"], "greedy": rows[i]["greedy"] if rows else None}
        )

    # ---------------- manifest ----------------
    files = ["router.onnx", "base/model.onnx", f"base/{DATA_NAME}"]
    files += [f"experts/{n}.data" for n in SHARED_EXPERTS] + [f"experts/{STORY}.onnx"]
    manifest = {
        "$schema": "../../compiler/coe/manifest.schema.json",
        "format": "tierflow-coe",
        "version": 1,
        "description": "A router picks one expert per request; math, code and chat are fine-tunes of one base "
        "and share its graph, story has a graph of its own.",
        "target": "sn40l-node",
        "router": {
            "model": "router.onnx",
            "input": {"name": "input_ids", "dtype": "int64", "dims": ["batch", "sequence"]},
            "output": {"name": "logits", "dtype": "float32", "dims": ["batch", len(ROUTES)]},
            "select": "argmax",
            "routes": {str(i): n for i, n in enumerate(ROUTES)},
        },
        "experts": {
            **{n: {"graph": "base/model.onnx", "weights": f"experts/{n}.data"} for n in SHARED_EXPERTS},
            STORY: {"model": f"experts/{STORY}.onnx"},
        },
        "shared_graphs": {
            "base/model.onnx": {
                "external_data_location": DATA_NAME,
                "own_weights": f"base/{DATA_NAME}",
                "note": "every initializer is external, in one file; an expert's weights file has the same "
                "layout (offsets and lengths) and takes the place of model.onnx.data",
            }
        },
        "expert_io": {
            "input": {"name": "input_ids", "dtype": "int64", "dims": ["batch", "sequence"]},
            "output": {"name": "logits", "dtype": "float32", "dims": ["batch", "sequence", VOCAB]},
        },
        "vocab_size": VOCAB,
        "files": {f: file_info(out / f) for f in files if (out / f).exists()},
    }
    (out / "coe.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "reference.json").write_text(json.dumps(reference, indent=2) + "\n")
    shutil.rmtree(tmp, ignore_errors=True)

    # ---------------- summary ----------------
    print("\n==================== summary ====================")
    total = 0
    for f in sorted(p for p in out.rglob("*") if p.is_file()):
        size = f.stat().st_size
        total += size
        flag = "  [larger than 2 MiB]" if size > MAX_FILE_BYTES else ""
        print(f"{str(f.relative_to(out)):28s} {size:9d}{flag}")
    print(f"{'total':28s} {total:9d}")
    for k, v in checks.items():
        small = {a: b for a, b in v.items() if a != "layout"}
        print(f"check {k}: {json.dumps(small)[:600]}")
    for i, p in enumerate(prompts):
        r = reference["router"][i]
        print(f"prompt {p}: router {[round(x, 4) for x in r['logits']]} -> {r['argmax']} ({r['expert']})")
        for n, rows in reference["experts"].items():
            print(f"    {n:6s} argmax {rows[i]['last_argmax']:4d}  greedy {rows[i]['greedy']}")
    print("expert differences:", json.dumps(diffs))
    print(f"seconds: {time.time() - t_start:.1f}")
    if failures:
        print("\nFAILURES:")
        for f in failures:
            print("   ", f)
    print(f"\n{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
