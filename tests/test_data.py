"""The bundled data (course_lib/data) and the instructor-side tools that made them
(autograde/build/datagen): the generator reproduces the committed files byte for byte, its lexicon
is complete, and the helpers the notebooks and the pre-training share behave as documented."""

from __future__ import annotations

import hashlib
import re
from collections import Counter

import pytest
import torch

from autograde.build.datagen import make_data, pretrain
from course_lib.datasets import DATA_DIR, SPLITS, TOPICS, load_topic, pack_blocks
from course_lib.pretrained import load_tokenizer
from course_lib.tokenizer import SPECIAL_TOKENS

GENERATED = ["topic_train.jsonl", "topic_dev.jsonl", "topic_test.jsonl", "pretrain.txt",
             "lm_valid.txt", "DATA_CARD.md"]


def sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_generator_reproduces_the_bundled_files(tmp_path):
    make_data.main(["--out", str(tmp_path)])
    differ = [name for name in GENERATED if sha256(tmp_path / name) != sha256(DATA_DIR / name)]
    assert not differ, (f"python -m autograde.build.datagen.make_data writes other bytes than the "
                        f"committed {differ}: regenerate (make data) and commit the result")


def test_every_template_slot_has_words():
    templates = [t for group in make_data.MAIN.values() for t in group]
    templates += [t for group in make_data.CROSS.values() for t in group]
    templates += [t for _, t in make_data.BRIDGE]
    templates += [t for group in make_data.CONTEXT.values() for t in group]
    templates += [t for table in make_data.FOLLOWUPS.values() for g in table.values() for t in g]
    templates += make_data.TIME_OPENINGS + make_data.PLAIN_OPENINGS
    templates += [t for place in ("before", "inside", "after") for t in make_data.TONE_CUES[place]]
    templates += [v for values in make_data.WORDS.values() for v in values]
    templates += [v for table in make_data.TONE.values() for g in table.values() for v in g]
    names = {m.group(2) for t in templates for m in make_data.SLOT.finditer(t)} - {"audience"}
    names |= set(make_data.AUDIENCE.values())
    missing = names - set(make_data.WORDS) - set(make_data.TONE)
    assert not missing, f"slots with no entry in lexicon/words.json or tone.json: {missing}"
    for name, table in make_data.TONE.items():
        assert table[0] and table[1], f"tone slot {name} needs positive and negative values"


def test_splits_are_balanced_and_hold_the_lecture_examples():
    sizes = dict(zip(SPLITS, (600, 100, 200)))
    for split in SPLITS:
        rows = load_topic(split)
        assert Counter(ex.topic for ex in rows) == {t: sizes[split] for t in range(len(TOPICS))}
        if split != "train":                      # train has label noise, dev and test do not
            assert Counter((ex.topic, ex.sentiment) for ex in rows) == {
                (t, s): sizes[split] // 2 for t in range(len(TOPICS)) for s in (0, 1)}
    test_texts = {ex.text.rstrip(".") for ex in load_topic("test")}
    for text, _, _ in make_data.LECTURE_EXAMPLES:
        assert text in test_texts


def test_pack_blocks_cuts_one_stream_of_bos_line_eos():
    tok = load_tokenizer()
    lines = ["The Rockets won.", "Shares of Apple rose 5%.", "Flu cases fell in Boston."]
    stream = []
    for line in lines:
        stream += [tok.bos_id, *tok.encode(line, add_cls=False), tok.eos_id]
    blocks = pack_blocks(tok, lines, 4)
    assert blocks.shape == (len(stream) // 4, 4)
    assert blocks.flatten().tolist() == stream[: blocks.numel()]


def test_mask_tokens_never_masks_special_tokens():
    tok = load_tokenizer()
    batch = tok.batch(["The Rockets won an intense overtime game"] * 200, max_len=16)
    ids = batch["input_ids"]                                             # (200, T)
    gen = torch.Generator().manual_seed(0)
    inputs, labels = pretrain.mask_tokens(ids, tok, generator=gen)
    special = ids < len(SPECIAL_TOKENS)
    assert (labels[special] == -100).all() and torch.equal(inputs[special], ids[special])
    chosen = labels != -100
    assert torch.equal(labels[chosen], ids[chosen])
    share = chosen.sum().item() / (~special).sum().item()
    assert 0.12 < share < 0.18                                           # p = 0.15
    masked = (inputs == tok.mask_id) & chosen
    assert 0.7 < masked.sum().item() / chosen.sum().item() < 0.9        # 80% become [MASK]


def test_tone_words_tell_the_tones_of_the_cues_apart():
    """The words stage 2 of the encoder masks occur in the cues of their own tone only."""
    tok = load_tokenizer()
    cue_slots = {m.group(2) for place in ("before", "inside", "after")
                 for form in make_data.TONE_CUES[place] for m in make_data.SLOT.finditer(form)}
    words = {tone: {w for slot in cue_slots if slot in make_data.TONE
                    for value in make_data.TONE[slot][tone] for w in value.split()}
             for tone in (0, 1)}
    for name, tone in (("positive", 1), ("negative", 0)):
        for w in make_data.TONE_CUES["tone_words"][name]:
            assert w in words[tone] and w not in words[1 - tone], w
            tok.token_id(w)                                      # in the vocabulary


def test_mask_tokens_always_masks_the_salient_words():
    tok = load_tokenizer()
    ids = tok.batch(["It was great news for fans. The Rockets won."] * 50)["input_ids"]
    always = torch.zeros(len(tok), dtype=torch.bool)
    always[tok.token_id("great")] = True
    gen = torch.Generator().manual_seed(0)
    inputs, labels = pretrain.mask_tokens(ids, tok, p=0.0, generator=gen, always=always)
    great = ids == tok.token_id("great")
    assert (inputs[great] == tok.mask_id).all() and torch.equal(labels[great], ids[great])
    assert (labels[~great] == -100).all() and torch.equal(inputs[~great], ids[~great])


@pytest.mark.parametrize("steps", [1000, 6000])
def test_learning_rate_warms_up_then_decays_to_zero(steps):
    lr = [pretrain.learning_rate(s, steps, 2e-3) for s in range(steps)]
    assert lr[0] == pytest.approx(2e-3 / 200)
    assert max(lr) == lr[199] <= 2e-3                                    # the end of warm-up
    assert lr[-1] < 1e-6
    assert all(a <= b for a, b in zip(lr[:199], lr[1:200]))            # warm-up rises
    assert all(a >= b for a, b in zip(lr[200:], lr[201:]))             # then only falls



def test_data_card_names_the_instructor_commands():
    card = (DATA_DIR / "DATA_CARD.md").read_text()
    assert "python -m autograde.build.datagen.make_data" in card
    assert not re.search(r"course_lib[./](make_data|pretrain\b)", card)
