#!/usr/bin/env python3
"""Export a corpus of tiny, randomly initialised models to ONNX with both PyTorch exporters.

Every model is built from its architecture definition (transformers config
classes, torchvision constructors) with random weights under
``torch.manual_seed(0)``; nothing is downloaded and no network is needed.  The
corpus covers the architectural features that real checkpoints exercise: grouped-
query and multi-query attention, sliding windows, QKV bias, q/k normalisation,
fused projections, soft-capping, partial rotary embeddings, learned and
padding-derived positions, parallel residuals, scaling multipliers, mixtures of
experts (top-k, shared experts, grouped routing), multi-head latent attention,
bidirectional encoders with padding masks, relative position buckets, patch and
convolutional front ends.

Each model is exported twice into one folder:

* ``<name>.torchscript.onnx`` - ``torch.onnx.export(..., dynamo=False)``, opset 17
* ``<name>.dynamo.onnx``      - ``torch.onnx.export(..., dynamo=True)``, the
  exporter's default opset, ``optimize=True``, weights embedded in the file

and ``corpus.json`` describes every file: what ``export_models.describe``
records (header, inputs/outputs, op histogram, initializers, checker, the
onnxruntime outputs on a fixed sample and on other sizes compared with
PyTorch), plus ``architecture``, ``family``, ``features``, the model's
``config``, ``verified`` / ``problems`` / ``max_abs_diff`` (the verdict of the
onnxruntime comparison, tolerance 1e-3) and a list of ``failures``.

Export and verification reuse ``export_models.py`` (``export_torchscript``,
``export_dynamo``, ``embed_external_data``, ``describe``).  Notes:

* transformers models use eager attention (plain MatMul/Softmax) and no KV cache.
* The causal LMs take ``input_ids`` and ``attention_mask``.  Without a mask,
  transformers runs a packed-sequence check (``torch.diff`` + ``cumsum`` on the
  position ids), and the TorchScript exporter has no rule for aten::diff; with a
  2-D mask the check is skipped.  ``export_models.export_torchscript`` registers
  its aten::diff / aten::cumsum replacements all the same (the cumsum rule serves
  OPT and RoBERTa, which derive positions from a cumulative sum of the mask or
  of the non-padding tokens).
* Mixture-of-experts models use the dense ``batched_mm`` experts implementation
  (``config._experts_implementation``): every token gathers the weights of its
  top-k experts, with no data-dependent loop over experts.  DeepSeek-V3's grouped
  routing scatters a group mask, which becomes ONNX ScatterElements.
* Weights are drawn with ``initializer_range`` (or its equivalent) 0.2 rather than
  the usual 0.02, so that attention is not uniform, routing is decisive and
  soft-capping is not an identity; parameters whose values are all equal after
  initialisation (norm gains, zero biases) receive small random offsets; the
  CNN's BatchNorm statistics are re-drawn (``export_models.build_mobilenet``).
* Text models are exported from an example of batch 3, sequence 9 with dynamic
  ``batch`` and ``sequence`` axes (``max_position_embeddings`` covers the dynamo
  bound of 128 positions); image and audio models have a dynamic batch only.
* Sample input for verification: batch 2, sequence 7, ``input_ids`` from
  ``torch.Generator().manual_seed(0)`` in ``[0, vocab)`` (``[3, vocab)`` for
  RoBERTa, whose positions count the tokens that are not the padding id); ``attention_mask`` all ones
  except the last 2 positions of the second row.  Images and audio features are
  standard normal from the same generator.  onnxruntime also runs (batch,
  sequence) = (1, 1), (1, 16), (4, 3) for text and batch 1 and 4 otherwise.

Each model is built and exported in its own process (``--jobs`` at a time, 2
torch threads each, ``--timeout`` seconds each), so a failure, a crash or a hang
of one model never stops the others.  Failures are recorded in ``corpus.json``;
the exit status is 0 unless the driver itself breaks.  Files whose onnxruntime
run fails or differs from PyTorch are kept and marked (``verified: false``).

Requirements: torch (2.11), transformers 5.x, torchvision, onnx, onnxscript,
onnxruntime, numpy.

Usage (from the repository root):

    python3 examples/export/export_corpus.py --out /tmp/corpus --jobs 8
    python3 examples/export/export_corpus.py                      # writes examples/corpus/
    python3 examples/export/export_corpus.py --only llama gemma2 --exporters dynamo
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import export_models as em  # noqa: E402

import torch  # noqa: E402

VOCAB = 128
HIDDEN = 32
LAYERS = 2
HEADS = 4
KV_HEADS = 2
INTERMEDIATE = 64
# The dynamo export bounds the sequence axis at 128 (export_models.export_dynamo), and
# position tables are sliced to the sequence length, so they must cover 128 positions.
MAX_POSITIONS = 128
PAD, BOS, EOS = 0, 1, 2
INIT_RANGE = 0.2

SAMPLE_BATCH, SAMPLE_SEQ = em.TEXT_BATCH, em.TEXT_SEQ  # 2, 7
EXPORT_BATCH, EXPORT_SEQ = em.EXPORT_BATCH, em.EXPORT_SEQ  # 3, 9
EXTRA_TEXT_SIZES = [(1, 1), (1, 16), (4, 3)]
EXTRA_BATCH_SIZES = [(1, 0), (4, 0)]
TOLERANCE = 1e-3
MAX_FILE_BYTES = 1_500_000
EXPORTERS = ("torchscript", "dynamo")

TEXT_AXES = {0: "batch", 1: "sequence"}
BATCH_AXES = {0: "batch"}


# --------------------------------------------------------------------------------------
# Wrappers: positional tensors in, a tensor (or a tuple of tensors) out
# --------------------------------------------------------------------------------------


class TextWrapper(torch.nn.Module):
    """(input_ids, attention_mask) -> the named fields of the model's output."""

    def __init__(self, model, outputs, decoder):
        super().__init__()
        self.model = model
        self.output_fields = list(outputs)
        self.decoder = decoder

    def forward(self, input_ids, attention_mask):
        kwargs = {"use_cache": False} if self.decoder else {}
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)
        values = tuple(getattr(out, name) for name in self.output_fields)
        return values[0] if len(values) == 1 else values


class FeatureWrapper(torch.nn.Module):
    """A float tensor (pixel_values / input_features) -> last_hidden_state."""

    def __init__(self, model, input_name):
        super().__init__()
        self.model = model
        self.input_name = input_name

    def forward(self, features):
        return self.model(**{self.input_name: features}).last_hidden_state


def _eager(config, experts=False):
    """Plain MatMul/Softmax attention, no KV cache, dense experts for MoE models."""
    config._attn_implementation = "eager"
    config.use_cache = False
    if experts:
        config._experts_implementation = "batched_mm"
    return config


def _tokens(**overrides):
    ids = {"pad_token_id": PAD, "bos_token_id": BOS, "eos_token_id": EOS}
    ids.update(overrides)
    return ids


def _decoder(model_cls, config):
    return TextWrapper(model_cls(config), ["logits"], decoder=True), config


# --------------------------------------------------------------------------------------
# Model definitions (config keywords checked against transformers 5.17)
# --------------------------------------------------------------------------------------


def _llama_like(**overrides):
    """The keywords shared by the Llama family of configs."""
    kw = dict(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        intermediate_size=INTERMEDIATE,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        num_key_value_heads=KV_HEADS,
        max_position_embeddings=MAX_POSITIONS,
        initializer_range=INIT_RANGE,
        tie_word_embeddings=False,
        **_tokens(),
    )
    kw.update(overrides)
    return kw


def build_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    return _decoder(LlamaForCausalLM, _eager(LlamaConfig(**_llama_like())))


def build_mistral():
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(**_llama_like(head_dim=HIDDEN // HEADS, sliding_window=4))
    return _decoder(MistralForCausalLM, _eager(config))


def build_qwen2():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    return _decoder(Qwen2ForCausalLM, _eager(Qwen2Config(**_llama_like(use_sliding_window=False))))


def build_qwen3():
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(**_llama_like(head_dim=HIDDEN // HEADS, use_sliding_window=False))
    return _decoder(Qwen3ForCausalLM, _eager(config))


def build_phi3():
    from transformers import Phi3Config, Phi3ForCausalLM

    # Phi3 defaults pad/eos to 32000, beyond the tiny vocabulary (_llama_like sets 0/1/2).
    config = Phi3Config(**_llama_like(original_max_position_embeddings=MAX_POSITIONS))
    return _decoder(Phi3ForCausalLM, _eager(config))


def build_gemma2():
    from transformers import Gemma2Config, Gemma2ForCausalLM

    config = Gemma2Config(
        **_llama_like(
            head_dim=HIDDEN // HEADS,
            hidden_activation="gelu_pytorch_tanh",
            query_pre_attn_scalar=HIDDEN // HEADS,
            sliding_window=4,  # layer 0 slides, layer 1 is global (the default alternation)
            # Smaller caps than the real 30 / 50 so that tanh is not an identity on tiny logits.
            final_logit_softcapping=5.0,
            attn_logit_softcapping=3.0,
        )
    )
    return _decoder(Gemma2ForCausalLM, _eager(config))


def build_gemma3():
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    config = Gemma3TextConfig(
        **_llama_like(
            head_dim=HIDDEN // HEADS,
            hidden_activation="gelu_pytorch_tanh",
            query_pre_attn_scalar=HIDDEN // HEADS,
            sliding_window=4,
            # The default pattern (5 sliding : 1 global) would make both layers sliding.
            layer_types=["sliding_attention", "full_attention"],
        )
    )
    return _decoder(Gemma3ForCausalLM, _eager(config))


def build_gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(
        vocab_size=VOCAB,
        n_positions=MAX_POSITIONS,
        n_embd=HIDDEN,
        n_layer=LAYERS,
        n_head=HEADS,
        n_inner=INTERMEDIATE,
        initializer_range=INIT_RANGE,
        tie_word_embeddings=False,
        **_tokens(),
    )
    return _decoder(GPT2LMHeadModel, _eager(config))


def build_gpt_neox():
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    # head_dim 16 so that a rotary fraction of 0.25 rotates 4 dimensions (2 frequencies).
    config = GPTNeoXConfig(
        vocab_size=VOCAB,
        hidden_size=2 * HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=2 * INTERMEDIATE,
        max_position_embeddings=MAX_POSITIONS,
        initializer_range=INIT_RANGE,
        use_parallel_residual=True,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.25},
        tie_word_embeddings=False,
        **_tokens(),
    )
    return _decoder(GPTNeoXForCausalLM, _eager(config))


def build_opt():
    from transformers import OPTConfig, OPTForCausalLM

    # OPT's learned position table has max_position_embeddings + 2 rows (positions start at 2).
    config = OPTConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        ffn_dim=INTERMEDIATE,
        max_position_embeddings=MAX_POSITIONS,
        num_attention_heads=HEADS,
        word_embed_proj_dim=HIDDEN,
        do_layer_norm_before=True,
        activation_function="relu",
        init_std=INIT_RANGE,
        tie_word_embeddings=False,
        **_tokens(pad_token_id=1, bos_token_id=2, eos_token_id=2),  # OPT's own ids, inside the vocabulary
    )
    return _decoder(OPTForCausalLM, _eager(config))


def build_falcon():
    from transformers import FalconConfig, FalconForCausalLM

    config = FalconConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        new_decoder_architecture=False,
        multi_query=True,
        parallel_attn=True,
        alibi=False,
        bias=False,
        ffn_hidden_size=INTERMEDIATE,
        max_position_embeddings=MAX_POSITIONS,
        initializer_range=INIT_RANGE,
        tie_word_embeddings=False,
        **_tokens(),
    )
    return _decoder(FalconForCausalLM, _eager(config))


def build_stablelm():
    from transformers import StableLmConfig, StableLmForCausalLM

    # head_dim 16 so that a rotary fraction of 0.25 rotates 4 dimensions.
    config = StableLmConfig(
        **_llama_like(hidden_size=2 * HIDDEN, intermediate_size=2 * INTERMEDIATE, partial_rotary_factor=0.25)
    )
    return _decoder(StableLmForCausalLM, _eager(config))


def build_phi():
    from transformers import PhiConfig, PhiForCausalLM

    config = PhiConfig(**_llama_like(num_key_value_heads=HEADS, hidden_act="gelu_new", partial_rotary_factor=0.5))
    return _decoder(PhiForCausalLM, _eager(config))


def build_granite():
    from transformers import GraniteConfig, GraniteForCausalLM

    config = GraniteConfig(
        **_llama_like(
            embedding_multiplier=12.0,
            residual_multiplier=0.22,
            attention_multiplier=0.25,
            logits_scaling=4.0,
        )
    )
    return _decoder(GraniteForCausalLM, _eager(config))


def build_mixtral():
    from transformers import MixtralConfig, MixtralForCausalLM

    config = MixtralConfig(**_llama_like(num_local_experts=4, num_experts_per_tok=2))
    return _decoder(MixtralForCausalLM, _eager(config, experts=True))


def build_qwen2_moe():
    from transformers import Qwen2MoeConfig, Qwen2MoeForCausalLM

    config = Qwen2MoeConfig(
        **_llama_like(
            use_sliding_window=False,
            decoder_sparse_step=1,
            num_experts=4,
            num_experts_per_tok=2,
            moe_intermediate_size=32,
            shared_expert_intermediate_size=64,
        )
    )
    return _decoder(Qwen2MoeForCausalLM, _eager(config, experts=True))


def build_olmoe():
    from transformers import OlmoeConfig, OlmoeForCausalLM

    # OLMoE uses full multi-head attention with q/k RMSNorm over the whole projection.
    config = OlmoeConfig(**_llama_like(num_key_value_heads=HEADS, num_experts=4, num_experts_per_tok=2))
    return _decoder(OlmoeForCausalLM, _eager(config, experts=True))


def build_deepseek_v3():
    from transformers import DeepseekV3Config, DeepseekV3ForCausalLM

    config = DeepseekV3Config(
        **_llama_like(
            num_key_value_heads=HEADS,  # MLA expands the latent to every head
            q_lora_rank=24,
            kv_lora_rank=16,
            qk_rope_head_dim=4,
            qk_nope_head_dim=8,
            v_head_dim=8,
            n_routed_experts=8,
            num_experts_per_tok=2,
            n_group=2,
            topk_group=1,
            n_shared_experts=1,
            moe_intermediate_size=32,
            first_k_dense_replace=1,  # layer 0 dense, layer 1 MoE
            routed_scaling_factor=2.5,
            norm_topk_prob=True,
            rope_interleave=True,
            rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        )
    )
    return _decoder(DeepseekV3ForCausalLM, _eager(config, experts=True))


def build_bert():
    from transformers import BertConfig, BertModel

    config = BertConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE,
        max_position_embeddings=MAX_POSITIONS,
        initializer_range=INIT_RANGE,
        pad_token_id=PAD,
    )
    model = BertModel(_eager(config), add_pooling_layer=True)
    return TextWrapper(model, ["last_hidden_state", "pooler_output"], decoder=False), config


def build_roberta():
    from transformers import RobertaConfig, RobertaModel

    # Positions are padding_idx + 1 + index, so the table needs MAX_POSITIONS + 2 rows.
    config = RobertaConfig(
        vocab_size=VOCAB,
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE,
        max_position_embeddings=MAX_POSITIONS + 2,
        type_vocab_size=1,
        initializer_range=INIT_RANGE,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    model = RobertaModel(_eager(config), add_pooling_layer=True)
    return TextWrapper(model, ["last_hidden_state", "pooler_output"], decoder=False), config


def build_distilbert():
    from transformers import DistilBertConfig, DistilBertModel

    config = DistilBertConfig(
        vocab_size=VOCAB,
        dim=HIDDEN,
        n_heads=HEADS,
        hidden_dim=INTERMEDIATE,
        n_layers=LAYERS,
        max_position_embeddings=MAX_POSITIONS,
        initializer_range=INIT_RANGE,
        pad_token_id=PAD,
    )
    return TextWrapper(DistilBertModel(_eager(config)), ["last_hidden_state"], decoder=False), config


def build_t5_encoder():
    from transformers import T5Config, T5EncoderModel

    config = T5Config(
        vocab_size=VOCAB,
        d_model=HIDDEN,
        d_kv=HIDDEN // HEADS,
        d_ff=INTERMEDIATE,
        num_layers=LAYERS,
        num_heads=HEADS,
        relative_attention_num_buckets=8,
        relative_attention_max_distance=16,
        feed_forward_proj="gated-gelu",
        dropout_rate=0.0,
        pad_token_id=PAD,
        eos_token_id=1,
        decoder_start_token_id=PAD,
    )
    return TextWrapper(T5EncoderModel(_eager(config)), ["last_hidden_state"], decoder=False), config


def build_vit():
    from transformers import ViTConfig, ViTModel

    config = ViTConfig(
        hidden_size=HIDDEN,
        num_hidden_layers=LAYERS,
        num_attention_heads=HEADS,
        intermediate_size=INTERMEDIATE,
        image_size=32,
        patch_size=8,
        num_channels=3,
        initializer_range=INIT_RANGE,
    )
    model = ViTModel(_eager(config), add_pooling_layer=False)
    return FeatureWrapper(model, "pixel_values"), config


def build_whisper_encoder():
    from transformers import WhisperConfig, WhisperModel

    # The encoder's two convolutions (the second with stride 2) turn 2 * max_source_positions
    # frames into max_source_positions positions: input_features is [batch, 8, 32].
    config = WhisperConfig(
        vocab_size=VOCAB,
        num_mel_bins=8,
        d_model=HIDDEN,
        encoder_layers=LAYERS,
        encoder_attention_heads=HEADS,
        encoder_ffn_dim=INTERMEDIATE,
        decoder_layers=LAYERS,
        decoder_attention_heads=HEADS,
        decoder_ffn_dim=INTERMEDIATE,
        max_source_positions=16,
        max_target_positions=MAX_POSITIONS,
        init_std=INIT_RANGE,
        decoder_start_token_id=BOS,
        suppress_tokens=None,
        begin_suppress_tokens=None,
        **_tokens(),
    )
    model = WhisperModel(_eager(config))
    encoder = model.encoder if hasattr(model, "encoder") else model.get_encoder()
    return FeatureWrapper(encoder, "input_features"), config


def build_mobilenet():
    # reduced_tail halves the last stage so that the file stays small; export_models'
    # builder re-draws BatchNorm statistics and the classifier.
    model = em.build_mobilenet(reduced_tail=True)
    config = {
        "constructor": "torchvision.models.mobilenet_v3_small",
        "weights": None,
        "width_mult": 0.5,
        "num_classes": 16,
        "reduced_tail": True,
        "input_shape": [3, 64, 64],
    }
    return model, config


LOGITS = {"logits": TEXT_AXES}
ENCODER_POOLED = {"last_hidden_state": TEXT_AXES, "pooler_output": BATCH_AXES}
ENCODER = {"last_hidden_state": TEXT_AXES}


def _decoder_spec(build, description, features, moe=False):
    return dict(
        build=build,
        family="decoder",
        features=features,
        inputs="text",
        outputs=LOGITS,
        moe=moe,
        description=description,
    )


_COMMON = f"vocab {VOCAB}, hidden {HIDDEN}, {LAYERS} layers, {HEADS} heads"

MODELS = {
    "llama": _decoder_spec(
        build_llama,
        f"LlamaForCausalLM, {_COMMON}, {KV_HEADS} KV heads, intermediate {INTERMEDIATE}",
        ["gqa", "rope", "rmsnorm", "swiglu"],
    ),
    "mistral": _decoder_spec(
        build_mistral,
        f"MistralForCausalLM, {_COMMON}, {KV_HEADS} KV heads, sliding window 4",
        ["gqa", "sliding-window"],
    ),
    "qwen2": _decoder_spec(
        build_qwen2,
        f"Qwen2ForCausalLM, {_COMMON}, {KV_HEADS} KV heads, QKV bias, no sliding window",
        ["gqa", "qkv-bias"],
    ),
    "qwen3": _decoder_spec(
        build_qwen3,
        f"Qwen3ForCausalLM, {_COMMON}, {KV_HEADS} KV heads, head_dim 8, per-head q/k RMSNorm",
        ["gqa", "qk-norm"],
    ),
    "phi3": _decoder_spec(
        build_phi3,
        f"Phi3ForCausalLM, {_COMMON}, {KV_HEADS} KV heads, fused qkv_proj and gate_up_proj",
        ["gqa", "fused-qkv", "fused-gate-up"],
    ),
    "gemma2": _decoder_spec(
        build_gemma2,
        f"Gemma2ForCausalLM, {_COMMON}, {KV_HEADS} KV heads, head_dim 8, query_pre_attn_scalar 8, "
        "sliding window 4 on layer 0, attention soft-cap 3, final logit soft-cap 5",
        ["gqa", "sliding-window", "softcapping", "sandwich-norm", "scaled-embedding", "gelu-tanh"],
    ),
    "gemma3": _decoder_spec(
        build_gemma3,
        f"Gemma3ForCausalLM (Gemma3TextConfig), {_COMMON}, {KV_HEADS} KV heads, head_dim 8, "
        "layer 0 sliding (window 4, rope theta 1e4), layer 1 global (rope theta 1e6), q/k RMSNorm",
        ["gqa", "sliding-window", "qk-norm", "per-layer-rope", "sandwich-norm", "scaled-embedding"],
    ),
    "gpt2": _decoder_spec(
        build_gpt2,
        f"GPT2LMHeadModel, {_COMMON}, n_inner {INTERMEDIATE}, n_positions {MAX_POSITIONS}",
        ["learned-positions", "conv1d-projections", "gelu-new", "layernorm"],
    ),
    "gpt_neox": _decoder_spec(
        build_gpt_neox,
        f"GPTNeoXForCausalLM, vocab {VOCAB}, hidden {2 * HIDDEN}, {LAYERS} layers, {HEADS} heads (head_dim 16), "
        "parallel residual, rotary on 25% of each head",
        ["parallel-residual", "partial-rotary", "fused-qkv", "layernorm"],
    ),
    "opt": _decoder_spec(
        build_opt,
        f"OPTForCausalLM, {_COMMON}, ffn_dim {INTERMEDIATE}, learned positions (offset 2) from the mask, ReLU",
        ["learned-positions", "mask-derived-positions", "relu", "layernorm"],
    ),
    "falcon": _decoder_spec(
        build_falcon,
        f"FalconForCausalLM, {_COMMON}, multi-query (1 KV head), parallel attention/MLP, rotary, no alibi",
        ["multi-query", "parallel-attention", "fused-qkv", "layernorm"],
    ),
    "stablelm": _decoder_spec(
        build_stablelm,
        f"StableLmForCausalLM, vocab {VOCAB}, hidden {2 * HIDDEN}, {LAYERS} layers, {HEADS} heads (head_dim 16), "
        f"{KV_HEADS} KV heads, rotary on 25% of each head, LayerNorm",
        ["gqa", "partial-rotary", "layernorm"],
    ),
    "phi": _decoder_spec(
        build_phi,
        f"PhiForCausalLM, {_COMMON}, rotary on 50% of each head, parallel attention/MLP, LayerNorm, gelu_new",
        ["partial-rotary", "parallel-attention", "layernorm", "gelu-new"],
    ),
    "granite": _decoder_spec(
        build_granite,
        f"GraniteForCausalLM, {_COMMON}, {KV_HEADS} KV heads, embedding multiplier 12, residual multiplier "
        "0.22, attention multiplier 0.25, logits scaling 4",
        ["gqa", "scaling-multipliers"],
    ),
    "mixtral": _decoder_spec(
        build_mixtral,
        f"MixtralForCausalLM, {_COMMON}, {KV_HEADS} KV heads, 4 experts, top-2, batched_mm experts",
        ["gqa", "moe", "top-k-routing"],
        moe=True,
    ),
    "qwen2_moe": _decoder_spec(
        build_qwen2_moe,
        f"Qwen2MoeForCausalLM, {_COMMON}, {KV_HEADS} KV heads, 4 experts (intermediate 32), top-2, "
        "gated shared expert (intermediate 64), batched_mm experts",
        ["gqa", "moe", "top-k-routing", "shared-expert", "qkv-bias"],
        moe=True,
    ),
    "olmoe": _decoder_spec(
        build_olmoe,
        f"OlmoeForCausalLM, {_COMMON}, 4 experts, top-2, q/k RMSNorm, batched_mm experts",
        ["moe", "top-k-routing", "qk-norm"],
        moe=True,
    ),
    "deepseek_v3": _decoder_spec(
        build_deepseek_v3,
        f"DeepseekV3ForCausalLM, {_COMMON}, multi-head latent attention (q_lora_rank 24, kv_lora_rank 16, "
        "qk_rope_head_dim 4, qk_nope_head_dim 8, v_head_dim 8, interleaved rope), layer 0 dense, layer 1 MoE "
        "with 8 routed experts in 2 groups (topk_group 1, top-2), 1 shared expert, routed scaling 2.5",
        ["latent-attention", "interleaved-rope", "moe", "grouped-routing", "shared-expert", "dense-first-layer"],
        moe=True,
    ),
    "bert": dict(
        build=build_bert,
        family="encoder",
        features=["bidirectional", "padding-mask", "absolute-positions", "token-type-embeddings", "pooler"],
        inputs="text",
        outputs=ENCODER_POOLED,
        description=f"BertModel with pooler, {_COMMON}, intermediate {INTERMEDIATE}",
    ),
    "roberta": dict(
        build=build_roberta,
        family="encoder",
        features=["bidirectional", "padding-mask", "padding-derived-positions", "pooler"],
        inputs="text",
        id_low=3,
        outputs=ENCODER_POOLED,
        description=f"RobertaModel with pooler, {_COMMON}, intermediate {INTERMEDIATE}, positions from the padding id",
    ),
    "distilbert": dict(
        build=build_distilbert,
        family="encoder",
        features=["bidirectional", "padding-mask", "absolute-positions"],
        inputs="text",
        outputs=ENCODER,
        description=f"DistilBertModel, vocab {VOCAB}, dim {HIDDEN}, {LAYERS} layers, {HEADS} heads, "
        f"hidden_dim {INTERMEDIATE}",
    ),
    "t5_encoder": dict(
        build=build_t5_encoder,
        family="encoder",
        features=["bidirectional", "padding-mask", "relative-position-bias", "rmsnorm", "gated-gelu"],
        inputs="text",
        outputs=ENCODER,
        description=f"T5EncoderModel, vocab {VOCAB}, d_model {HIDDEN}, d_kv 8, {HEADS} heads, d_ff {INTERMEDIATE} "
        "gated-gelu, 8 relative attention buckets, max distance 16",
    ),
    "vit": dict(
        build=build_vit,
        family="vision",
        features=["patch-embedding", "cls-token", "bidirectional", "layernorm"],
        inputs="image",
        input_shape=(3, 32, 32),
        outputs={"last_hidden_state": BATCH_AXES},
        description=f"ViTModel without pooler, hidden {HIDDEN}, {LAYERS} layers, {HEADS} heads, "
        "image 32x32, patch 8, input [batch, 3, 32, 32]",
    ),
    "whisper_encoder": dict(
        build=build_whisper_encoder,
        family="audio",
        features=["conv-frontend", "sinusoidal-positions", "bidirectional", "layernorm"],
        inputs="audio",
        input_shape=(8, 32),
        outputs={"last_hidden_state": BATCH_AXES},
        description=f"WhisperModel's encoder, 8 mel bins, d_model {HIDDEN}, {LAYERS} layers, {HEADS} heads, "
        f"ffn {INTERMEDIATE}, 16 positions, input [batch, 8, 32]",
    ),
    "mobilenet": dict(
        build=build_mobilenet,
        family="vision",
        features=["depthwise-conv", "batchnorm", "hardswish", "squeeze-excitation"],
        inputs="image",
        input_shape=(3, 64, 64),
        outputs={"logits": BATCH_AXES},
        description="torchvision mobilenet_v3_small(width_mult=0.5, reduced_tail=True, num_classes=16), "
        "input [batch, 3, 64, 64]",
    ),
}

# Slow exports first, so that they do not end up last in a full queue.
LAUNCH_ORDER = ["deepseek_v3", "qwen2_moe", "olmoe", "mixtral", "gemma3", "gemma2", "phi3"]


# --------------------------------------------------------------------------------------
# Inputs and the spec that export_models expects
# --------------------------------------------------------------------------------------


def text_inputs(low: int, batch: int, seq: int):
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(low, VOCAB, (batch, seq), dtype=torch.int64, generator=gen)
    mask = torch.ones((batch, seq), dtype=torch.int64)
    if batch > 1 and seq > 2:
        mask[1, -2:] = 0  # right padding in the second row
    return {"input_ids": ids, "attention_mask": mask}


def float_inputs(name: str, shape, batch: int):
    gen = torch.Generator().manual_seed(0)
    return {name: torch.randn((batch, *shape), dtype=torch.float32, generator=gen)}


def em_spec(name: str) -> dict:
    """The model description in the form export_models' exporters and describe() take."""
    m = MODELS[name]
    if m["inputs"] == "text":
        low = m.get("id_low", 0)
        inputs = lambda b, s: text_inputs(low, b, s)  # noqa: E731
        in_axes = {"input_ids": TEXT_AXES, "attention_mask": TEXT_AXES}
        extra = EXTRA_TEXT_SIZES
    else:
        input_name = "pixel_values" if m["inputs"] == "image" else "input_features"
        shape = m["input_shape"]
        inputs = lambda b, s: float_inputs(input_name, shape, b)  # noqa: E731
        in_axes = {input_name: BATCH_AXES}
        extra = EXTRA_BATCH_SIZES
    return {
        "description": m["description"],
        "inputs": inputs,
        "extra_sizes": extra,
        "outputs": list(m["outputs"]),
        "dynamic_axes": {**in_axes, **m["outputs"]},
    }


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


def json_safe(x):
    """Plain JSON values: str keys, lists for tuples/sets, strings for dtypes and non-finite floats."""
    if isinstance(x, dict):
        return {str(k): json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    if isinstance(x, (set, frozenset)):
        return sorted((json_safe(v) for v in x), key=repr)
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):
        return float(x) if math.isfinite(x) else str(x)
    if hasattr(x, "item") and getattr(x, "ndim", None) == 0:
        try:
            return json_safe(x.item())
        except Exception:  # noqa: BLE001
            pass
    return str(x)


def config_dict(config) -> dict:
    if isinstance(config, dict):
        return json_safe(config)
    for method in ("to_diff_dict", "to_dict"):
        try:
            return json_safe(getattr(config, method)())
        except Exception:  # noqa: BLE001
            continue
    return {"repr": repr(config)[:2000]}


def randomise_constant_parameters(model, seed: int = 1) -> int:
    """Offset parameters whose elements are all equal (norm gains, zero biases) by U(-0.1, 0.1).

    Freshly initialised norms and biases are identities; random offsets make the exported
    numbers sensitive to every parameter.  Returns how many tensors were changed.
    """
    gen = torch.Generator().manual_seed(seed)
    changed = 0
    with torch.no_grad():
        for _, p in sorted(model.named_parameters(), key=lambda kv: kv[0]):
            if p.numel() < 2 or not p.is_floating_point():
                continue
            if bool(torch.all(p == p.reshape(-1)[0])):
                noise = (torch.rand(p.shape, generator=gen, dtype=torch.float32) * 0.2 - 0.1).to(p.dtype)
                p.add_(noise)
                changed += 1
    return changed


def as_list(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:1000]


def judge(entry: dict, tolerance: float) -> None:
    """Add verified / problems / max_abs_diff from describe()'s onnxruntime comparisons."""
    problems = []
    diffs = []

    def check(where, values):
        for out_name, d in sorted((values or {}).items()):
            if isinstance(d, (int, float)) and not isinstance(d, bool):
                d = float(d)
                diffs.append(d if math.isfinite(d) else math.inf)
                if not d <= tolerance:
                    problems.append(f"{where} {out_name}: max |onnxruntime - torch| {d:.3g} > {tolerance:g}")
            else:
                problems.append(f"{where} {out_name}: {d}")

    ort = entry.get("ort") or {}
    if not ort.get("passed"):
        problems.append(f"onnxruntime failed on the sample: {str(ort.get('error', ''))[:500]}")
    else:
        check("sample", entry.get("ort_vs_torch_max_abs_diff"))
        for c in entry.get("ort_other_sizes") or []:
            where = "inputs " + ",".join(f"{k}{v}" for k, v in sorted((c.get("input_shapes") or {}).items()))
            if "error" in c:
                problems.append(f"{where}: {str(c['error'])[:500]}")
            check(where, c.get("max_abs_diff"))
    entry["verified"] = not problems
    entry["problems"] = problems
    entry["max_abs_diff"] = max(diffs) if diffs else None
    entry["size_ok"] = entry.get("file_bytes", 0) <= MAX_FILE_BYTES


def remove_outputs(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".data")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


# --------------------------------------------------------------------------------------
# Worker: one model, both exporters, records appended to a JSON-lines file
# --------------------------------------------------------------------------------------


class Records:
    def __init__(self, path: Path):
        self.f = open(path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, **record) -> None:
        self.f.write(json.dumps(json_safe(record), sort_keys=True) + "\n")
        self.f.flush()

    def failure(self, name, exporter, stage, error) -> None:
        self.write(kind="failure", failure={"architecture": name, "exporter": exporter, "stage": stage, "error": error})


def run_worker(name: str, out: Path, exporters, part: Path, threads: int, tolerance: float) -> int:
    warnings.filterwarnings("ignore")
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    try:
        import transformers

        transformers.logging.set_verbosity_error()
    except Exception:  # noqa: BLE001
        pass

    rec = Records(part)
    m = MODELS[name]
    spec = em_spec(name)

    rec.write(kind="stage", exporter="*", stage="build")
    try:
        torch.manual_seed(0)
        model, config = m["build"]()
        model = model.eval()
        randomised = randomise_constant_parameters(model)
        example = spec["inputs"](EXPORT_BATCH, EXPORT_SEQ)
        sample = spec["inputs"](SAMPLE_BATCH, SAMPLE_SEQ)
        with torch.no_grad():
            as_list(model(*example.values()))
            ref = as_list(model(*sample.values()))
        info = {
            "architecture": name,
            "family": m["family"],
            "features": list(m["features"]),
            "config": config_dict(config),
            "randomised_constant_parameters": randomised,
        }
        if not isinstance(config, dict):
            info["attn_implementation"] = getattr(config, "_attn_implementation", None)
            if m.get("moe"):
                info["experts_implementation"] = getattr(config, "_experts_implementation", None)
    except Exception as exc:  # noqa: BLE001
        traceback.print_exc()
        for exporter in exporters:
            rec.failure(name, exporter, "build", error_text(exc))
        rec.write(kind="done")
        return 0

    for exporter in exporters:
        rel = f"{name}.{exporter}.onnx"
        path = out / rel
        remove_outputs(path)
        t0 = time.time()
        rec.write(kind="stage", exporter=exporter, stage="export")
        print(f"--- {rel}: export", flush=True)
        try:
            with torch.no_grad():
                if exporter == "torchscript":
                    em.export_torchscript(model, example, spec, path)
                else:
                    em.export_dynamo(model, example, spec, path)
            if not path.exists():
                raise RuntimeError(f"the exporter wrote no {rel}")
            embedded = em.embed_external_data(path)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            remove_outputs(path)
            rec.failure(name, exporter, "export", error_text(exc))
            continue

        rec.write(kind="stage", exporter=exporter, stage="onnxruntime")
        print(f"--- {rel}: describe and run onnxruntime", flush=True)
        try:
            entry = em.describe(path, rel, name, exporter, spec, sample, ref, model, intra_op_threads=threads)
        except Exception as exc:  # noqa: BLE001
            traceback.print_exc()
            import hashlib

            entry = {
                "file": rel,
                "model": name,
                "description": spec["description"],
                "exporter": exporter,
                "file_bytes": path.stat().st_size,
                "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "ort": {"passed": False, "error": error_text(exc)},
            }
        entry.update(info)
        entry["external_data_embedded_after_export"] = embedded
        judge(entry, tolerance)
        rec.write(kind="entry", entry=entry, seconds=round(time.time() - t0, 2))
        if not entry["verified"]:
            rec.failure(name, exporter, "onnxruntime", "; ".join(entry["problems"])[:1000])
    rec.write(kind="done")
    return 0


# --------------------------------------------------------------------------------------
# Driver
# --------------------------------------------------------------------------------------


def package_versions() -> dict:
    from importlib import metadata

    versions = {"python": platform.python_version()}
    for key, dists in (
        ("torch", ["torch"]),
        ("transformers", ["transformers"]),
        ("torchvision", ["torchvision"]),
        ("onnx", ["onnx"]),
        ("onnxruntime", ["onnxruntime", "onnxruntime-gpu"]),
        ("onnxscript", ["onnxscript"]),
        ("numpy", ["numpy"]),
    ):
        versions[key] = None
        for dist in dists:
            try:
                versions[key] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


class Job:
    def __init__(self, name: str, exporters, work: Path):
        self.name = name
        self.exporters = list(exporters)
        self.part = work / f"{name}.jsonl"
        self.log = work / f"{name}.log"
        self.proc = None
        self.started = 0.0
        self.offset = 0
        self.stage = {}  # exporter (or "*") -> current stage
        self.finished = set()  # exporters with a final record

    def current_stage(self, exporter: str) -> str:
        return self.stage.get(exporter) or self.stage.get("*") or "build"

    def log_tail(self, chars: int = 600) -> str:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return text[-chars:]


def _kill(job: Job) -> None:
    if job.proc is None or job.proc.poll() is not None:
        return
    try:
        os.killpg(job.proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        job.proc.kill()
    try:
        job.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass


def _fmt_bytes(n) -> str:
    return f"{n:,} B" if isinstance(n, int) else "? B"


def main(argv=None) -> int:
    default_out = Path(__file__).resolve().parent.parent / "corpus"
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=default_out, help=f"output directory (default {default_out})")
    ap.add_argument("--only", nargs="+", choices=sorted(MODELS), metavar="NAME", help="export only these models")
    ap.add_argument("--exporters", nargs="+", default=list(EXPORTERS), choices=list(EXPORTERS))
    ap.add_argument("--jobs", type=int, default=8, help="models built and exported at once (default 8)")
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per model (default 300)")
    ap.add_argument("--threads", type=int, default=2, help="torch / onnxruntime threads per model (default 2)")
    ap.add_argument("--logs", type=Path, default=None, help="keep each model's log here (default: a temporary folder)")
    ap.add_argument("--list", action="store_true", help="list the models and exit")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--part", type=Path, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    exporters = [e for e in EXPORTERS if e in args.exporters]

    if args.worker is not None:
        if args.worker not in MODELS or args.part is None:
            ap.error("--worker needs a model name and --part")
        args.out.mkdir(parents=True, exist_ok=True)
        return run_worker(args.worker, args.out, exporters, args.part, max(1, args.threads), TOLERANCE)

    if args.list:
        for name, m in MODELS.items():
            print(f"{name:16s} {m['family']:8s} {', '.join(m['features'])}")
        return 0

    t_start = time.time()
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    names = args.only or list(MODELS)
    names = sorted(names, key=lambda n: (LAUNCH_ORDER.index(n) if n in LAUNCH_ORDER else len(LAUNCH_ORDER)))
    work = Path(args.logs).resolve() if args.logs else Path(tempfile.mkdtemp(prefix="export_corpus_"))
    work.mkdir(parents=True, exist_ok=True)
    jobs_n = max(1, args.jobs)

    versions = package_versions()
    print("versions:", json.dumps(versions, sort_keys=True), flush=True)
    print(
        f"{len(names)} models x {len(exporters)} exporters -> {out}; {jobs_n} at a time, "
        f"{args.timeout:g} s each; logs in {work}",
        flush=True,
    )

    env = dict(os.environ)
    env.update(
        {
            "OMP_NUM_THREADS": str(args.threads),
            "MKL_NUM_THREADS": str(args.threads),
            "OPENBLAS_NUM_THREADS": str(args.threads),
            "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "CUDA_VISIBLE_DEVICES": "",
            "PYTHONHASHSEED": "0",
            "PYTHONUNBUFFERED": "1",
        }
    )

    entries, failures = [], []
    pending = [Job(n, exporters, work) for n in names]
    running: list[Job] = []
    counts = {"ok": 0, "unverified": 0, "failed": 0}

    def handle(job: Job, record: dict) -> None:
        kind = record.get("kind")
        if kind == "stage":
            job.stage[record.get("exporter", "*")] = record.get("stage")
        elif kind == "entry":
            e = record["entry"]
            entries.append(e)
            job.finished.add(e.get("exporter"))
            status = "ok" if e.get("verified") else "UNVERIFIED"
            counts["ok" if e.get("verified") else "unverified"] += 1
            diff = e.get("max_abs_diff")
            diff_s = f"{diff:.2e}" if isinstance(diff, float) else str(diff)
            line = (
                f"[{status}] {e.get('file')}  {_fmt_bytes(e.get('file_bytes'))}  max|diff| {diff_s}  "
                f"({record.get('seconds')} s)"
            )
            if not e.get("size_ok", True):
                line += f"  [larger than {MAX_FILE_BYTES:,} B]"
            if e.get("problems"):
                line += "  " + "; ".join(e["problems"])[:400]
            print(line, flush=True)
        elif kind == "failure":
            f = record["failure"]
            failures.append(f)
            if f.get("stage") != "onnxruntime":  # those come with an entry, already printed
                job.finished.add(f.get("exporter"))
                counts["failed"] += 1
                print(
                    f"[FAIL] {f.get('architecture')}.{f.get('exporter')}.onnx  {f.get('stage')}: "
                    f"{str(f.get('error'))[:400]}",
                    flush=True,
                )

    def drain(job: Job) -> None:
        try:
            with open(job.part, "rb") as fh:
                fh.seek(job.offset)
                data = fh.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n")
        if end < 0:
            return
        job.offset += end + 1
        for raw in data[: end + 1].splitlines():
            if not raw.strip():
                continue
            try:
                record = json.loads(raw.decode("utf-8"))
            except ValueError:
                continue
            handle(job, record)

    def close(job: Job, reason: str) -> None:
        """Record a failure for every exporter of the job that has no final record.

        ``reason`` is "timeout" or the worker's exit status.
        """
        drain(job)
        for exporter in job.exporters:
            if exporter in job.finished:
                continue
            if reason == "timeout":
                stage = "timeout"
                error = f"timeout after {args.timeout:g} s (in stage {job.current_stage(exporter)})"
            else:
                stage = job.current_stage(exporter)
                error = f"worker ended with status {reason} before finishing; log tail: {job.log_tail()}"
            handle(
                job,
                {
                    "kind": "failure",
                    "failure": {
                        "architecture": job.name,
                        "exporter": exporter,
                        "stage": stage,
                        "error": error[:1000],
                    },
                },
            )

    try:
        while pending or running:
            while pending and len(running) < jobs_n:
                job = pending.pop(0)
                for p in (job.part, job.log):
                    if p.exists():
                        p.unlink()
                job.part.touch()
                cmd = [
                    sys.executable,
                    str(Path(__file__).resolve()),
                    "--worker",
                    job.name,
                    "--part",
                    str(job.part),
                    "--out",
                    str(out),
                    "--threads",
                    str(args.threads),
                    "--exporters",
                    *exporters,
                ]
                with open(job.log, "wb") as log:
                    job.proc = subprocess.Popen(
                        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                        start_new_session=True,
                    )
                job.started = time.time()
                running.append(job)
            time.sleep(0.25)
            for job in list(running):
                drain(job)
                rc = job.proc.poll()
                if rc is not None:
                    close(job, str(rc))
                    running.remove(job)
                elif time.time() - job.started > args.timeout:
                    _kill(job)
                    close(job, "timeout")
                    running.remove(job)
    finally:
        for job in running:
            _kill(job)

    # ---------------- manifest ----------------
    manifest_path = out / "corpus.json"
    ran = {(n, e) for n in names for e in exporters}
    if manifest_path.exists() and (args.only or len(exporters) < len(EXPORTERS)):
        # A partial run keeps the records of the models / exporters it did not touch.
        try:
            old = json.loads(manifest_path.read_text(encoding="utf-8"))
            entries += [
                e for e in old.get("models", []) if (e.get("architecture"), e.get("exporter")) not in ran
            ]
            failures += [
                f for f in old.get("failures", []) if (f.get("architecture"), f.get("exporter")) not in ran
            ]
        except Exception as exc:  # noqa: BLE001
            print(f"[warn] could not merge the previous {manifest_path}: {exc!r}", flush=True)

    entries.sort(key=lambda e: str(e.get("file")))
    failures.sort(key=lambda f: (str(f.get("architecture")), str(f.get("exporter")), str(f.get("stage"))))
    manifest = {"versions": versions, "models": entries, "failures": failures}
    manifest_path.write_text(json.dumps(json_safe(manifest), indent=2, sort_keys=True, allow_nan=False) + "\n")

    # ---------------- summary ----------------
    print("\n==================== summary ====================", flush=True)
    for e in entries:
        if (e.get("architecture"), e.get("exporter")) not in ran:
            continue
        diff = e.get("max_abs_diff")
        diff_s = f"{diff:.2e}" if isinstance(diff, float) else str(diff)
        opsets = e.get("opset_import") or {}
        print(
            f"{str(e.get('file')):36s} {'ok ' if e.get('verified') else 'BAD'} "
            f"bytes={e.get('file_bytes')} nodes={e.get('node_count')} opset={opsets.get('', opsets)} "
            f"max|diff|={diff_s}",
            flush=True,
        )
    if failures:
        print("\nfailures:", flush=True)
        for f in failures:
            if (f.get("architecture"), f.get("exporter")) in ran:
                print(f"    {f['architecture']}.{f['exporter']} [{f['stage']}] {str(f['error'])[:300]}", flush=True)
    print(
        f"\n{counts['ok']} files verified, {counts['unverified']} written but not verified, "
        f"{counts['failed']} not written; manifest {manifest_path}; logs in {work}; "
        f"{time.time() - t_start:.0f} s",
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
