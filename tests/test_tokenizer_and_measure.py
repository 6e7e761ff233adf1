import pytest
import torch
import torch.nn as nn

from course_lib import measure
from course_lib.runtime import get_device
from course_lib.tokenizer import SPECIAL_TOKENS, WordTokenizer, split_words


def test_split_and_roundtrip():
    assert split_words("Bitcoin hit $70,000!") == ["bitcoin", "hit", "$", "70", ",", "000", "!"]
    tok = WordTokenizer.train(["the game was won", "the game was lost", "won won"], min_freq=1)
    assert tok.vocab[:7] == SPECIAL_TOKENS
    ids = tok.encode("The game was won [MASK]")
    assert ids[0] == tok.cls_id and ids[-1] == tok.mask_id
    assert tok.decode(ids) == "the game was won"
    assert tok.tokenize("the zebra") == ["the", "[UNK]"]


def test_batch_pads_right():
    tok = WordTokenizer.train(["a b c d", "a b"], min_freq=1)
    b = tok.batch(["a b c d", "a"])
    assert b["input_ids"].shape == (2, 5)
    assert b["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]]


def test_bad_vocab_rejected():
    with pytest.raises(ValueError, match="must start"):
        WordTokenizer(["a", "b"])
    tok = WordTokenizer.train(["a"], min_freq=1)
    with pytest.raises(KeyError, match="not in the vocabulary"):
        tok.token_id("zebra")


def test_count_and_size():
    m = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    assert measure.count_parameters(m) == 4 * 3 + 3 + 3 * 2 + 2
    m[0].weight.requires_grad = False
    assert measure.count_parameters(m, trainable_only=True) == 3 + 3 * 2 + 2
    assert measure.model_size_bytes(m) == 4 * measure.count_parameters(m)
    assert measure.model_size_bytes(m.half()) == 2 * measure.count_parameters(m)


def test_peak_memory_sees_a_large_allocation():
    n = 4_000_000
    device = get_device()                    # peak_memory measures the course device's allocator
    peak = measure.peak_memory(lambda: torch.ones(n, device=device).sum())
    assert peak >= 4 * n
