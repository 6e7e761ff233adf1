"""A word-level tokenizer with BERT's special tokens, trained on the bundled corpus.

Lower-cases, splits words from punctuation, and maps words seen fewer than `min_freq` times
in the training text to [UNK]. Small on purpose: a student can print `tok.vocab` and read it.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import torch

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "[BOS]", "[EOS]"]
_WORD = re.compile(r"[a-z0-9]+|[^a-z0-9\s]")


def split_words(text: str) -> list[str]:
    """'Bitcoin hit $70,000!' -> ['bitcoin', 'hit', '$', '70', ',', '000', '!']"""
    return _WORD.findall(text.lower())


class WordTokenizer:
    """Maps text to ids and back. Ids 0..6 are [PAD] [UNK] [CLS] [SEP] [MASK] [BOS] [EOS]."""

    def __init__(self, vocab: list[str]):
        if vocab[: len(SPECIAL_TOKENS)] != SPECIAL_TOKENS:
            raise ValueError(f"the vocabulary must start with {SPECIAL_TOKENS}")
        if len(set(vocab)) != len(vocab):
            raise ValueError("the vocabulary has duplicate entries")
        self.vocab = list(vocab)
        self.index = {w: i for i, w in enumerate(self.vocab)}
        for name in SPECIAL_TOKENS:                        # tok.pad_id, tok.mask_id, ...
            setattr(self, name.strip("[]").lower() + "_id", self.index[name])

    # --- training and storage -------------------------------------------------------------
    @classmethod
    def train(cls, texts, min_freq: int = 2) -> "WordTokenizer":
        counts = Counter(w for t in texts for w in split_words(t))
        words = sorted((w for w, c in counts.items() if c >= min_freq),
                       key=lambda w: (-counts[w], w))
        return cls(SPECIAL_TOKENS + words)

    def save(self, path) -> None:
        Path(path).write_text(json.dumps({"vocab": self.vocab}, indent=0) + "\n")

    @classmethod
    def load(cls, path) -> "WordTokenizer":
        return cls(json.loads(Path(path).read_text())["vocab"])

    def __len__(self) -> int:
        return len(self.vocab)

    # --- encoding -------------------------------------------------------------------------
    def token_id(self, word: str) -> int:
        """Id of one word (or special token); raises for a word the vocabulary lacks."""
        if word in self.index:
            return self.index[word]
        if word.lower() in self.index:
            return self.index[word.lower()]
        raise KeyError(f"{word!r} is not in the vocabulary ({len(self)} words)")

    def tokenize(self, text: str) -> list[str]:
        """Words and special tokens: '[CLS] the game [MASK]' keeps [CLS] and [MASK] whole."""
        out = []
        for piece in re.split(r"(\[[A-Z]+\])", text):
            if piece in self.index and piece in SPECIAL_TOKENS:
                out.append(piece)
            else:
                out.extend(w if w in self.index else "[UNK]" for w in split_words(piece))
        return out

    def encode(self, text: str, add_cls: bool = True, add_sep: bool = False) -> list[int]:
        ids = [self.index[w] for w in self.tokenize(text)]
        if add_cls:
            ids = [self.cls_id] + ids
        if add_sep:
            ids = ids + [self.sep_id]
        return ids

    def decode(self, ids, skip_special: bool = True) -> str:
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        words = [self.vocab[i] for i in ids]
        if skip_special:
            words = [w for w in words if w not in SPECIAL_TOKENS]
        return " ".join(words)

    def batch(self, texts, max_len: int = 64, add_cls: bool = True, add_sep: bool = False):
        """Pad a list of texts on the right. Returns input_ids and attention_mask, both (B, T)."""
        encoded = [self.encode(t, add_cls, add_sep)[:max_len] for t in texts]
        T = max(len(e) for e in encoded)
        ids = torch.full((len(encoded), T), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(encoded), T), dtype=torch.long)
        for i, e in enumerate(encoded):
            ids[i, : len(e)] = torch.tensor(e)
            mask[i, : len(e)] = 1
        return {"input_ids": ids, "attention_mask": mask}
