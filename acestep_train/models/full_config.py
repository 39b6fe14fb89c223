"""The full-size ACE-Step 1.5 configuration (DiT 1,575,458,880 parameters), for building it without a download."""

FULL = {
    "hidden_size": 2048, "intermediate_size": 6144, "num_hidden_layers": 24, "num_attention_heads": 16,
    "num_key_value_heads": 8, "head_dim": 128, "in_channels": 192, "audio_acoustic_hidden_dim": 64,
    "patch_size": 2, "rope_theta": 1000000.0, "attention_bias": False, "attention_dropout": 0.0,
    "rms_norm_eps": 1e-6, "sliding_window": 128, "text_hidden_dim": 1024, "timbre_hidden_dim": 64,
    "num_lyric_encoder_hidden_layers": 8, "num_timbre_encoder_hidden_layers": 4, "is_turbo": True,
}
#: The original config.json of the full model (DiT + condition encoder), with its layer pattern.
FULL_DIT = dict(FULL, layer_types=["sliding_attention" if i % 2 == 0 else "full_attention" for i in range(24)])
