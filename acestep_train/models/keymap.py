"""Key and config mapping between ACE-Step's original checkpoint and diffusers' classes.

Original ``model.safetensors`` holds one ``AceStepConditionGenerationModel``:
``decoder.X`` is the DiT (diffusers ``AceStepTransformer1DModel``; its ``proj_in`` /
``proj_out`` were ``nn.Sequential`` with the conv at index 1, and its attention layers use
Qwen3 names ``q_proj``/``k_proj``/``v_proj``/``o_proj``/``q_norm``/``k_norm`` where
diffusers has ``to_q``/``to_k``/``to_v``/``to_out.0``/``norm_q``/``norm_k``), ``encoder.X`` and
``null_condition_emb`` are the condition encoder, ``tokenizer.*`` / ``detokenizer.*`` the
audio tokenizer used only by cover tasks. Both directions live here so the merge
export (writing the original layout) uses the same table as loading.
"""

from __future__ import annotations

import inspect
import re

TRANSFORMER = "transformer"
CONDITION_ENCODER = "condition_encoder"
AUDIO_TOKENIZER = "audio_tokenizer"

_DIT_RENAMES = (("proj_in.1.", "proj_in_conv."), ("proj_out.1.", "proj_out_conv."))
#: Attention leaves: original (Qwen3-style) -> diffusers, in the DiT and the condition encoder alike.
ATTENTION_RENAMES = {"q_proj": "to_q", "k_proj": "to_k", "v_proj": "to_v", "o_proj": "to_out.0",
                     "q_norm": "norm_q", "k_norm": "norm_k"}
_ATTENTION_TO_ORIGINAL = {new: old for old, new in ATTENTION_RENAMES.items()}
_ORIGINAL_ATTENTION = re.compile(r"\.(self_attn|cross_attn)\.(q_proj|k_proj|v_proj|o_proj|q_norm|k_norm)\.")
_DIFFUSERS_ATTENTION = re.compile(r"\.(self_attn|cross_attn)\.(to_q|to_k|to_v|to_out\.0|norm_q|norm_k)\.")


def _attention_to_diffusers(key: str) -> str:
    return _ORIGINAL_ATTENTION.sub(lambda m: f".{m.group(1)}.{ATTENTION_RENAMES[m.group(2)]}.", key)


def _attention_to_original(key: str) -> str:
    return _DIFFUSERS_ATTENTION.sub(lambda m: f".{m.group(1)}.{_ATTENTION_TO_ORIGINAL[m.group(2)]}.", key)
_AUDIO_TOKENIZER_PREFIXES = ("tokenizer.", "detokenizer.")


def from_original_key(key: str) -> tuple[str, str] | None:
    """Map an original key to ``(component, diffusers key)``; ``None`` if it belongs nowhere."""
    if key.startswith("decoder."):
        new_key = key[len("decoder.") :]
        for old, new in _DIT_RENAMES:
            if new_key.startswith(old):
                new_key = new + new_key[len(old) :]
        return TRANSFORMER, _attention_to_diffusers("." + new_key)[1:]
    if key.startswith("encoder."):
        return CONDITION_ENCODER, _attention_to_diffusers(key[len("encoder.") - 1 :])[1:]
    if key == "null_condition_emb":
        return CONDITION_ENCODER, key
    if key.startswith(_AUDIO_TOKENIZER_PREFIXES):
        return AUDIO_TOKENIZER, key
    return None


def to_original_key(component: str, key: str) -> str:
    """Inverse of ``from_original_key`` for the DiT and the condition encoder."""
    if component == TRANSFORMER:
        for old, new in _DIT_RENAMES:
            if key.startswith(new):
                key = old + key[len(new) :]
        return "decoder" + _attention_to_original("." + key)
    if component == CONDITION_ENCODER:
        return key if key == "null_condition_emb" else "encoder" + _attention_to_original("." + key)
    raise ValueError(f"no original name for component {component!r}")


def config_for(cls: type, original_config: dict, exclude: tuple[str, ...] = ()) -> dict:
    """The subset of an original ``config.json`` that ``cls.__init__`` accepts.

    The original config is a superset (the DiT, condition encoder and audio tokenizer
    share one file); diffusers' own converter copies exactly these fields. ``layer_types``
    describes the DiT's layers, so the condition encoder excludes it.
    """
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", *exclude}
    return {key: value for key, value in original_config.items() if key in accepted}


#: XL configs size the condition encoder apart from the DiT: ``encoder_X`` -> the encoder's ``X``.
ENCODER_OVERRIDES = ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads")


def encoder_width(config: dict) -> int:
    """Width of ``encoder_hidden_states`` (the condition encoder's output): 2048 on the XL, else the DiT's."""
    return config["encoder_hidden_size"] if config.get("encoder_hidden_size") else config["hidden_size"]


def encoder_config(original_config: dict) -> dict:
    """``AceStepConditionEncoder`` kwargs: the shared fields, with the XL's ``encoder_*`` sizes where given.

    ACE-Step 1.5's XL code builds its condition encoder from ``encoder_hidden_size`` (2048),
    ``encoder_intermediate_size``, ``encoder_num_attention_heads`` and ``encoder_num_key_value_heads``
    while the DiT is 2560 wide; the 2 B configs have none of these and share the DiT's sizes.
    """
    from diffusers import AceStepConditionEncoder

    config = dict(original_config)
    for name in ENCODER_OVERRIDES:
        if original_config.get(f"encoder_{name}") is not None:
            config[name] = original_config[f"encoder_{name}"]
    return config_for(AceStepConditionEncoder, config, exclude=("layer_types",))


def condition_encoder(original_config: dict):
    """A random-init ``AceStepConditionEncoder`` sized by ``encoder_config`` (on the current default device)."""
    from diffusers import AceStepConditionEncoder

    return AceStepConditionEncoder(**encoder_config(original_config))
