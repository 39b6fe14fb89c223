"""Full-size ACE-Step 1.5 configurations, for building the models without a download.

The 2 B model (DiT 1,575,458,880 parameters) and the XL (DiT hidden size 2560). The XL values
come from the published XL checkpoints' architecture (hidden 2560, intermediate 9728, 32 layers,
32 attention heads over 8 key/value heads, head size 128, condition encoder width 2048) and from
how ACE-Step 1.5's own XL code builds them (``acestep/models/xl_*/modeling_acestep_v15_xl_*.py``:
the condition encoder, audio tokenizer and ``null_condition_emb`` take ``encoder_hidden_size``,
``encoder_intermediate_size``, ``encoder_num_attention_heads``, ``encoder_num_key_value_heads``;
the DiT's ``condition_embedder`` projects 2048 -> 2560, as diffusers 0.42's
``AceStepTransformer1DModel(encoder_hidden_size=...)`` does). The XL condition encoder is the
2 B model's (2048 wide, 6144 MLP, 16 heads over 8).
"""

FULL = {
    "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 24, "num_attention_heads": 16,
    "num_key_value_heads": 8, "head_dim": 128, "in_channels": 192, "audio_acoustic_hidden_dim": 64,
    "patch_size": 2, "rope_theta": 1000000.0, "attention_bias": False, "attention_dropout": 0.0,
    "rms_norm_eps": 1e-6, "sliding_window": 128, "text_hidden_dim": 1024, "timbre_hidden_dim": 64,
    "num_lyric_encoder_hidden_layers": 8, "num_timbre_encoder_hidden_layers": 4, "is_turbo": True,
}
#: The original config.json of the full model (DiT + condition encoder), with its layer pattern.
FULL_DIT = dict(FULL, layer_types=["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(24)])

#: The XL's original config.json: a wider, deeper DiT over the 2 B model's condition encoder.
FULL_XL_DIT = dict(
    FULL, hidden_size=2560, intermediate_size=9728, num_hidden_layers=32, num_attention_heads=32,
    num_key_value_heads=8, encoder_hidden_size=2048, encoder_intermediate_size=6144,
    encoder_num_attention_heads=16, encoder_num_key_value_heads=8,
    layer_types=["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(32)],
)
#: ``--model`` names of the full-size configurations (benches, planner, GPU suite).
FULL_CONFIGS = {"2b": FULL_DIT, "xl": FULL_XL_DIT}
