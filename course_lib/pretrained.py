"""Load the bundled tokenizer and pre-trained weights (no network, a few MB in course_lib/data).

    tok = load_tokenizer()
    encoder = load_encoder()      # BERT-style MLM, frozen copy per call
    decoder = load_decoder()      # GPT-style causal LM

The weights were trained on the instructor side (`python -m autograde.build.datagen.pretrain all`, on
data/pretrain.txt); data/pretrain_metrics.json records how well and how long.
"""

from __future__ import annotations

import json

import torch

from .datasets import DATA_DIR
from .model import Decoder, Encoder, TransformerConfig
from .runtime import get_device
from .tokenizer import WordTokenizer

TOKENIZER_PATH = DATA_DIR / "tokenizer.json"
WEIGHTS = {"encoder": DATA_DIR / "encoder.pt", "decoder": DATA_DIR / "decoder.pt"}
METRICS_PATH = DATA_DIR / "pretrain_metrics.json"


def load_tokenizer() -> WordTokenizer:
    return WordTokenizer.load(TOKENIZER_PATH)


def _load(kind: str, cls, device=None):
    path = WEIGHTS[kind]
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: reinstall the course package (instructors: "
                                f"`python -m autograde.build.datagen.pretrain {kind}`)")
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = cls(TransformerConfig(**blob["config"]))
    model.load_state_dict({k: v.float() for k, v in blob["state_dict"].items()})
    return model.to(device or get_device()).eval()


def load_encoder(device=None) -> Encoder:
    """A fresh copy of the pre-trained encoder (4 layers, d=64, 4 heads), in eval mode."""
    return _load("encoder", Encoder, device)


def load_decoder(device=None) -> Decoder:
    """A fresh copy of the pre-trained causal decoder, in eval mode."""
    return _load("decoder", Decoder, device)


def pretrain_metrics() -> dict:
    return json.loads(METRICS_PATH.read_text())
