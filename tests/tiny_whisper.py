"""A tiny random-init Whisper of the real classes, built offline (tokenizer trained with ``tokenizers``).

Whisper needs its special tokens in order (start of transcript, languages, tasks, no-timestamps)
and 1,501 timestamp tokens, and a generation config that names them (FACTS.md).
"""

from __future__ import annotations

from pathlib import Path

import torch

LANGUAGES = ["en", "fr", "de", "ja", "zh"]


def write_tiny_whisper(folder: Path, width: int = 32) -> Path:
    """``width`` 64 or more makes every linear layer fit bitsandbytes' 4-bit kernels."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import WhisperConfig, WhisperFeatureExtractor, WhisperForConditionalGeneration, WhisperTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator(["la la la hello world singing in the rain [Verse] [Chorus]"] * 5,
                            trainers.BpeTrainer(vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = WhisperTokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                     unk_token="<|endoftext|>", pad_token="<|endoftext|>")
    specials = ["<|startoftranscript|>", *(f"<|{l}|>" for l in LANGUAGES), "<|translate|>", "<|transcribe|>",
                "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>"]
    tokenizer.add_special_tokens({"additional_special_tokens": specials})
    tokenizer.add_tokens([f"<|{i * 0.02:.2f}|>" for i in range(1501)])
    ids = tokenizer.convert_tokens_to_ids
    config = WhisperConfig(vocab_size=len(tokenizer), d_model=width, encoder_layers=1, decoder_layers=1,
                           encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=2 * width,
                           decoder_ffn_dim=2 * width,
                           num_mel_bins=80, max_source_positions=1500, max_target_positions=128,
                           decoder_start_token_id=ids("<|startoftranscript|>"), eos_token_id=tokenizer.eos_token_id,
                           pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.eos_token_id)
    torch.manual_seed(0)
    model = WhisperForConditionalGeneration(config)
    generation = model.generation_config
    for name, value in {
        "lang_to_id": {f"<|{l}|>": ids(f"<|{l}|>") for l in LANGUAGES},
        "task_to_id": {"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        "no_timestamps_token_id": ids("<|notimestamps|>"), "prev_sot_token_id": ids("<|startofprev|>"),
        "decoder_start_token_id": ids("<|startoftranscript|>"), "is_multilingual": True,
        "max_initial_timestamp_index": 50, "begin_suppress_tokens": [], "suppress_tokens": [],
    }.items():
        setattr(generation, name, value)
    generation._from_model_config = False
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    WhisperFeatureExtractor(feature_size=80).save_pretrained(folder)
    return folder
