"""The memory probe counts what autograd keeps, as the GPU would keep it."""

import torch

from acestep_train.train.config import AdapterConfig
from acestep_train.train.memory_probe import (EmulatedAutocast, frozen_and_adapter_keys, probe_inputs,
                                              saved_bytes)
from acestep_train.train.memory_sim import build_meta

SMALL = {"hidden_size": 64, "intermediate_size": 192, "num_hidden_layers": 2, "num_attention_heads": 4,
         "num_key_value_heads": 2, "head_dim": 16, "in_channels": 24, "audio_acoustic_hidden_dim": 8,
         "patch_size": 2, "sliding_window": 128, "layer_types": ["sliding_attention", "full_attention"]}
LORA = AdapterConfig(type="lora", rank=4, alpha=4.0, targets="both", dropout=0.0)


def real_cpu(adapter_config, frames: int) -> int:
    """The same count on real CPU tensors under torch.autocast("cpu") (fused attention still emulated)."""
    from diffusers import AceStepTransformer1DModel

    from acestep_train.train.adapters import Adapter

    torch.manual_seed(0)
    transformer = torch.nn.Module.to(AceStepTransformer1DModel(**SMALL), dtype=torch.bfloat16)
    adapter = Adapter(transformer, adapter_config)
    transformer.train()
    inputs = probe_inputs(SMALL, 1, frames, 16, device="cpu")
    with torch.autocast("cpu", dtype=torch.bfloat16):
        return saved_bytes(transformer, inputs, frozen_and_adapter_keys(transformer, adapter), autocast=False).held()


def meta(adapter_config, frames: int, checkpointing: bool = False):
    transformer, adapter = build_meta(SMALL, adapter_config, checkpointing)
    return saved_bytes(transformer, probe_inputs(SMALL, 1, frames, 16), frozen_and_adapter_keys(transformer, adapter))


def test_emulated_autocast_on_meta_counts_what_real_cpu_autocast_keeps():
    for config in (LORA, AdapterConfig(type="lora", rank=4, alpha=4.0, targets="self", dropout=0.1)):
        assert meta(config, 64).held() == real_cpu(config, 64)


def test_attention_is_counted_as_a_fused_kernel_keeps_it():
    one, two, three = (meta(LORA, frames).held() for frames in (512, 1024, 1536))
    # Equal steps of 256 tokens: the only quadratic term is the shared sliding-window mask
    # [1, 1, T, T] in bf16 (kept by memory-efficient attention); per-head T x T scores would add
    # heads x layers x batch times more.
    assert (three - two) - (two - one) == 2 * 256**2 * 2


def test_checkpointing_keeps_layer_inputs_and_counts_one_recomputed_layer():
    plain, checkpointed = meta(LORA, 256), meta(LORA, 256, checkpointing=True)
    assert checkpointed.held() < plain.held() / 3
    assert len(checkpointed.recompute) == 2
    assert 0.8 < checkpointed.largest_recompute() / plain.largest_layer() < 1.25


def test_the_emulation_casts_matmul_inputs_and_caches_parameter_casts():
    weight = torch.nn.Parameter(torch.randn(4, 4))
    x = torch.randn(2, 4)
    with EmulatedAutocast():
        a, b = torch.nn.functional.linear(x, weight), torch.nn.functional.linear(x, weight)
        assert a.dtype == torch.bfloat16 and b.dtype == torch.bfloat16
    mode = EmulatedAutocast()
    with mode:
        torch.nn.functional.linear(x, weight)
        torch.nn.functional.linear(x, weight)
    assert len(mode.cache) == 1
