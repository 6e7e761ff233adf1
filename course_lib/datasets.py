"""The bundled data: a 4-topic news classification task, a sentiment task on the same texts,
and a plain-text corpus for language modelling, shipped in course_lib/data/ (nothing downloads;
data/DATA_CARD.md says what they hold). The instructor side generated them from a fixed seed
(`python -m autograde.build.datagen.make_data`).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path

import torch

DATA_DIR = Path(__file__).resolve().parent / "data"
TOPICS = ["Sports", "Finance", "Technology", "Health"]       # C1..C4 on the slides
SENTIMENTS = ["negative", "positive"]
SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Example:
    text: str
    topic: int          # index into TOPICS
    sentiment: int      # index into SENTIMENTS


def load_topic(split: str) -> list[Example]:
    """The topic-classification split ('train', 'dev' or 'test') as a list of Examples."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    path = DATA_DIR / f"topic_{split}.jsonl"
    with path.open() as f:
        return [Example(**json.loads(line)) for line in f if line.strip()]


def few_shot(examples: list[Example], per_class: int, seed: int = 0,
             label: str = "topic") -> list[Example]:
    """`per_class` examples of each label, drawn with a fixed seed (all of them if too few)."""
    rng = random.Random(seed)
    by_label: dict[int, list[Example]] = {}
    for ex in examples:
        by_label.setdefault(getattr(ex, label), []).append(ex)
    out = []
    for y in sorted(by_label):
        pool = by_label[y]
        out += rng.sample(pool, min(per_class, len(pool)))
    rng.shuffle(out)
    return out


def load_corpus(name: str = "pretrain") -> list[str]:
    """Lines of plain text: 'pretrain' (pre-training corpus) or 'lm_valid' (held out)."""
    if name not in ("pretrain", "lm_valid"):
        raise ValueError(f"corpus must be 'pretrain' or 'lm_valid', got {name!r}")
    return [line for line in (DATA_DIR / f"{name}.txt").read_text().splitlines() if line.strip()]


def pack_blocks(tok, lines: list[str], block: int) -> torch.Tensor:
    """Concatenate [BOS] line [EOS] [BOS] line [EOS] ... and cut the stream into rows of `block`
    tokens (GPT-style language-model training and perplexity); the tail that does not fill a
    row is dropped. Returns (n_blocks, block) token ids."""
    stream = []
    for line in lines:
        stream += [tok.bos_id] + tok.encode(line, add_cls=False) + [tok.eos_id]
    n = len(stream) // block
    return torch.tensor(stream[: n * block]).view(n, block)                # (n, block)
