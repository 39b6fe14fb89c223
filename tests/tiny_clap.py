"""A tiny random-init CLAP of transformers' real classes, written to disk like ``laion/clap-htsat-unfused``.

HTSAT audio tower of two stages (width 8 -> 16), a one-layer RoBERTa text tower of width 16, an
8-d joint space; the processor is the real ``ClapFeatureExtractor`` (48 kHz, 10 s, 64 mel bins)
with a byte-level BPE tokenizer trained offline with ``tokenizers``. About 15 k parameters.
"""

from __future__ import annotations

from pathlib import Path

import torch

WORDS = "zzq warm piano drums bass guitar synth vocal lofi jazz rock ambient pads strings"


def _tokenizer():
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import RobertaTokenizerFast

    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    bpe.train_from_iterator([WORDS] * 5, trainers.BpeTrainer(vocab_size=300, special_tokens=specials,
                                                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bpe.post_processor = processors.RobertaProcessing(("</s>", bpe.token_to_id("</s>")), ("<s>", bpe.token_to_id("<s>")))
    return RobertaTokenizerFast(tokenizer_object=bpe, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                pad_token="<pad>", mask_token="<mask>", cls_token="<s>", sep_token="</s>",
                                model_max_length=64)


def write_tiny_clap(folder: Path, seed: int = 0) -> Path:
    from transformers import ClapAudioConfig, ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor, ClapTextConfig

    tokenizer = _tokenizer()
    text = ClapTextConfig(vocab_size=len(tokenizer), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                          intermediate_size=32, max_position_embeddings=80, pad_token_id=tokenizer.pad_token_id,
                          projection_dim=8)
    audio = ClapAudioConfig(depths=[1, 1], num_attention_heads=[1, 2], patch_embeds_hidden_size=8, hidden_size=16,
                            num_hidden_layers=2, window_size=8, projection_dim=8)
    torch.manual_seed(seed)
    model = ClapModel(ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=8))
    with torch.no_grad():  # wider projections with a positive bias: no ReLU of 8 units may all be 0 (a zero embedding)
        for projection in (model.text_projection, model.audio_projection):
            for linear in (projection.linear1, projection.linear2):
                torch.nn.init.normal_(linear.weight, std=0.5)
                linear.bias.fill_(0.1)
    model.save_pretrained(folder)
    ClapProcessor(feature_extractor=ClapFeatureExtractor(), tokenizer=tokenizer).save_pretrained(folder)
    return folder
