"""The prompting reference (solutions/prompting/prompting.ipynb) against independent computations.

- scores: a naive per-row loop over positions and over the vocabulary;
- probabilities: softmax over the gathered label logits == the full-vocabulary softmax restricted
  to the label words and renormalised (two ways the notebook allows), != the unrenormalised pick;
- PromptClassifier: equals the encoder's full MLM logits read at the [MASK], is padding-invariant,
  and trains through train_classifier;
- calibrate: a per-entry loop (divide, then renormalise), and the identity under a uniform prior;
- every named mistake gives outputs different from the reference on every seed of its case, and
  the visible checks name it;
- the sample 'partly wrong' submission text exists in the reference cell.
"""

from pathlib import Path

import pytest
import torch

from autograde.build.reference import reference_namespace
from autograde.spec import mistakes_module
from course_lib.checks import CheckFailed
from course_lib.checks import prompting as checks
from course_lib.model import Encoder, TransformerConfig

ROOT = Path(__file__).resolve().parents[2]


def _random_batch(seed, B=6, T=10, V=35, mask_id=4, L=4):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, V, (B, T), generator=g)
    ids[ids == mask_id] = 5
    ids[:, 0] = 2
    for i in range(B):
        ids[i, int(torch.randint(1, T, (1,), generator=g))] = mask_id
    label_ids = torch.randperm(V, generator=g)[:L]
    return ids, label_ids, torch.randn(B, T, V, generator=g)


def _naive_scores(logits, ids, mask_id, label_ids):
    B, T, V = logits.shape
    out = torch.empty(B, len(label_ids))
    for b in range(B):
        (t,) = [t for t in range(T) if int(ids[b, t]) == mask_id]
        for l, word in enumerate(label_ids.tolist()):
            out[b, l] = next(float(logits[b, t, v]) for v in range(V) if v == word)
    return out


@pytest.mark.parametrize("seed", range(5))
def test_scores_equal_naive_loop(ref, seed):
    ids, label_ids, logits = _random_batch(seed, mask_id=4 if seed % 2 else 9)
    mask_id = 4 if seed % 2 else 9
    got = ref["verbalizer_scores"](logits, ids, mask_id, label_ids)
    torch.testing.assert_close(got, _naive_scores(logits, ids, mask_id, label_ids),
                               atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("seed", range(5))
def test_probs_are_renormalised_vocabulary_softmax(ref, seed):
    ids, label_ids, logits = _random_batch(seed)
    probs = ref["verbalizer_probs"](logits, ids, 4, label_ids)
    full = torch.softmax(logits, dim=-1)                                  # (B, T, V)
    picked = _naive_scores(full, ids, 4, label_ids)                       # P_MLM(v(l) | x)
    torch.testing.assert_close(probs, picked / picked.sum(-1, keepdim=True), atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(probs, torch.softmax(_naive_scores(logits, ids, 4, label_ids), -1))
    assert not torch.allclose(probs, picked, atol=1e-3)     # the mistake really is different
    assert torch.equal(probs.argmax(-1), picked.argmax(-1))  # ... with the same predictions


@pytest.mark.parametrize("seed", range(3))
def test_calibrate_equals_a_loop(ref, seed):
    g = torch.Generator().manual_seed(seed)
    probs = torch.softmax(torch.randn(5, 3, generator=g), -1)
    prior = torch.rand(3, generator=g) + 0.05
    want = torch.empty(5, 3)
    for b in range(5):
        row = [float(probs[b, l]) / float(prior[l]) for l in range(3)]
        want[b] = torch.tensor([v / sum(row) for v in row])
    torch.testing.assert_close(ref["calibrate"](probs, prior), want)
    torch.testing.assert_close(ref["calibrate"](probs, torch.ones(3)), probs)


def _encoder(V=35, seed=0):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=V, d_model=16, n_heads=2, n_layers=2, d_ff=32, max_len=20,
                            dropout=0.0)
    enc = Encoder(cfg).eval()
    with torch.no_grad():
        enc.lm_head.bias.normal_()
    return enc


def test_classifier_equals_full_mlm_logits_at_mask(ref):
    enc = _encoder()
    ids, label_ids, _ = _random_batch(1)
    ids = torch.where(ids == 4, 5, ids)
    lengths = torch.tensor([10, 7, 4, 10, 9, 6])
    attn = (torch.arange(10)[None] < lengths[:, None]).long()           # (B, T) right padding
    ids = ids * attn
    for i, n in enumerate(lengths.tolist()):
        ids[i, 1 + (5 * i) % (n - 1)] = 4                               # one [MASK] per row
    model = ref["PromptClassifier"](enc, 4, label_ids)
    with torch.no_grad():
        got = model(input_ids=ids, attention_mask=attn)
        logits = enc(input_ids=ids, attention_mask=attn)["logits"]        # (B, T, V) in full
    torch.testing.assert_close(got, _naive_scores(logits, ids, 4, label_ids), atol=1e-5, rtol=1e-4)
    got = model(input_ids=ids, attention_mask=attn)
    got.sum().backward()                                   # every layer gets a gradient
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.blocks[0].parameters())


def test_classifier_trains_with_train_classifier(ref):
    """Prompt-based fine-tuning through course_lib.training on a tiny vocabulary and task."""
    from course_lib.datasets import Example
    from course_lib.tokenizer import SPECIAL_TOKENS, WordTokenizer
    from course_lib.training import evaluate, train_classifier
    words = ["red", "blue", "apple", "sky", "is", "about", "the", "grass", "sea", "fire"]
    tok = WordTokenizer(SPECIAL_TOKENS + words)
    enc = _encoder(V=len(tok))
    data = [Example(text=t, topic=y, sentiment=0) for t, y in
            [("the apple", 0), ("the fire", 0), ("the sky", 1), ("the sea", 1)] * 4]
    model = ref["PromptClassifier"](enc, tok.mask_id, [tok.token_id("red"), tok.token_id("blue")])
    template = lambda x: f"{x} is about [MASK]"
    run = train_classifier(model, tok, data, epochs=30, lr=1e-2, batch_size=8, template=template,
                           progress=False)
    assert run["losses"][-1] < run["losses"][0]
    assert evaluate(model, tok, data, template=template) == 1.0


def test_visible_checks_name_the_mistakes(ref):
    m = mistakes_module("prompting")
    objects = dict(ref)
    for case, fn, check in [
            ("verbalizer_scores", "verbalizer_scores", checks.check_verbalizer_scores),
            ("verbalizer_probs", "verbalizer_probs", checks.check_verbalizer_probs),
            ("classifier", "PromptClassifier", checks.check_prompt_classifier),
            ("calibrate", "calibrate", checks.check_calibrate)]:
        check(ref[fn])                                           # the reference passes
        for mistake in m.MISTAKES[case]:
            wrong = mistake.make(dict(objects))[fn]
            with pytest.raises(CheckFailed):
                check(wrong)


def test_wrong_submission_text_is_in_the_reference(source_nb):
    WRONG_SUBMISSION = mistakes_module("prompting").WRONG_SUBMISSION
    grade_id, right, wrong = WRONG_SUBMISSION
    cell = next(c for c in source_nb.cells
                if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    assert cell.source.count(right) == 1
    namespace = reference_namespace(source_nb)
    exec(compile(cell.source.replace(right, wrong), "<wrong>", "exec"), namespace)
    with pytest.raises(CheckFailed, match="label words only"):
        checks.check_verbalizer_probs(namespace["verbalizer_probs"])
