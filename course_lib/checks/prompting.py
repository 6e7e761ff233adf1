"""Visible checks for the prompting notebook (notebooks/prompting/prompting.ipynb). Properties only, no answers.

The notebook's interface:
    mask_position(input_ids (B, T), mask_id) -> (B,) integer index of the one [MASK] per row
    verbalizer_scores(mlm_logits (B, T, V), input_ids, mask_id, label_word_ids (L,)) -> (B, L)
    verbalizer_probs(same arguments) -> (B, L), softmax over the label words only
    PromptClassifier(encoder, mask_id, label_word_ids);
        forward(input_ids, attention_mask) -> (B, L)
"""

from __future__ import annotations

import torch

from . import CheckFailed, call, expect, expect_close, expect_shape, ok, tiny_model

MASK = 4          # the course tokenizer's [MASK] id; the checks also use another id


def _call(fn, what, *args, **kwargs):
    return call(what, fn, *args, **kwargs)


def _ids(B=4, T=8, V=30, mask_id=MASK, seed=0, pad=True):
    """Random ids (B, T): [CLS]=2 first, one [MASK] per row at varied places, right padding."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(7, V, (B, T), generator=g)
    ids[ids == mask_id] = 7
    ids[:, 0] = 2
    lengths = [T - (i % 3 if pad else 0) for i in range(B)]
    for i, n in enumerate(lengths):
        ids[i, n:] = 0
        ids[i, 1 + (3 * i + 1) % (n - 1)] = mask_id          # never [CLS], never the same place
    mask = (torch.arange(T)[None] < torch.tensor(lengths)[:, None]).long()
    return ids, mask


# ---------------------------------------------------------------- Exercise 1
def check_mask_position(mask_position) -> None:
    ids = torch.tensor([[2, 10, 4, 11, 0, 0],          # [MASK] at 2, then padding
                        [2, 4, 12, 13, 14, 15],        # at 1
                        [2, 9, 8, 7, 6, 4]])           # at 5, the last token
    t = _call(mask_position, "mask_position(input_ids, mask_id=4)", ids, 4)
    expect_shape(t, (3,), "mask_position(...) for 3 rows")
    expect(not t.is_floating_point(), f"return integer indices (dtype {t.dtype}); use them to "
                                      f"index a tensor")
    got = t.tolist()
    expect(got != [0, 0, 0], "you return 0 for every row: that is the [CLS] position, not the "
                             "[MASK]'s")
    expect(got != [5, 5, 5] and got != [3, 5, 5],
           "you return the last (non-padding) token of each row; the [MASK] can be anywhere")
    expect(got == [2, 1, 5], f"on a hand-made batch whose [MASK]s are at 2, 1 and 5 you return "
                             f"{got}")
    ok("finds the [MASK] of each row, wherever it is")

    moved = ids.masked_fill(ids == 4, 3)               # no 4 left; [MASK] = 9 at 3, 2 and 1
    moved[0, 3], moved[1, 2], moved[2, 1] = 9, 9, 9
    other = _call(mask_position, "mask_position(input_ids, mask_id=9)", moved, 9)
    expect(other.tolist() == [3, 2, 1], "use the `mask_id` argument, do not hard-code 4")
    ok("uses the mask_id it is given")

    for bad, row, what in ((ids[[0, 1]].masked_fill(ids[[0, 1]] == 4, 7), 0, "no [MASK]"),
                           (torch.tensor([[2, 4, 5, 6], [2, 5, 4, 4]]), 1, "two [MASK]s")):
        try:
            mask_position(bad, 4)
        except ValueError as e:
            expect(f"row {row}" in str(e), f"for a batch whose row {row} has {what}, say so: the "
                                           f"message {str(e)!r} should contain 'row {row}'")
        except NotImplementedError:
            raise
        except Exception as e:
            raise CheckFailed(f"a row with {what} should raise ValueError, not "
                              f"{type(e).__name__}: {e}") from e
        else:
            raise CheckFailed(f"a row with {what} must raise ValueError (a pattern has exactly "
                              f"one [MASK]); you returned an index instead")
    ok("a row with zero or two [MASK]s raises ValueError naming the row")
    print("All visible mask_position checks passed.")


# ---------------------------------------------------------------- Exercise 2
def _scores_setup(seed=0, B=4, T=8, V=30, mask_id=MASK):
    ids, _ = _ids(B, T, V, mask_id, seed)
    g = torch.Generator().manual_seed(100 + seed)
    logits = torch.randn(B, T, V, generator=g)
    label_ids = torch.tensor([21, 9, 27, 14])                 # deliberately not sorted
    return logits, ids, label_ids


def check_verbalizer_scores(verbalizer_scores) -> None:
    logits, ids, label_ids = _scores_setup()
    B, T, V = logits.shape
    f = lambda lg, i=ids, lab=label_ids, m=MASK: _call(
        verbalizer_scores, "verbalizer_scores(mlm_logits, input_ids, mask_id, label_word_ids)",
        lg, i, m, lab)
    s = f(logits)
    expect_shape(s, (B, len(label_ids)), "verbalizer_scores(...) (B, num_labels)")
    expect(s.is_floating_point(), "return the scores as a float tensor")

    # only the [MASK] position may matter
    at_mask = ids == MASK
    elsewhere = logits + 5 * torch.randn(B, T, V) * (~at_mask)[..., None]
    changed = f(elsewhere)
    if not torch.allclose(changed, s):
        first = logits.clone()
        first[:, 0] += 5.0
        hint = ("you read the scores at the [CLS] position (index 0), not at the [MASK]"
                if not torch.allclose(f(first), s) else
                "your scores change when logits at positions other than the [MASK] change: "
                "read them at the [MASK] position of each row (use mask_position)")
        raise CheckFailed(hint)
    ok("the scores depend only on the logits at each row's [MASK]")

    # only the label words may matter, each in its own column, raw logits
    is_label = torch.zeros(V, dtype=torch.bool)
    is_label[label_ids] = True
    other_words = logits + 5 * torch.randn(B, T, V) * (~is_label)
    expect_close(f(other_words), s, "scores after changing the logits of non-label words",
                 hint="the scores must not depend on words outside the verbalizer (did you "
                      "take a softmax over the whole vocabulary?)")
    for col, word in enumerate(label_ids.tolist()):
        bumped = logits.clone()
        bumped[at_mask.nonzero(as_tuple=True)[0], at_mask.nonzero(as_tuple=True)[1], word] += 1.0
        diff = f(bumped) - s
        want = torch.zeros_like(s)
        want[:, col] = 1.0
        if not torch.allclose(diff, want, atol=1e-5):
            moved = diff.abs().sum(0).argmax().item()
            if diff.abs().max() > 1e-6 and moved != col:
                raise CheckFailed(f"raising the logit of label word id {word} (label {col}) moved "
                                  f"column {moved}: keep the label order of label_word_ids "
                                  f"(did you sort the ids or use a boolean mask over the "
                                  f"vocabulary?)")
            raise CheckFailed(f"raising the logit of label word {col} at the [MASK] by 1 should "
                              f"raise s({col}|x) by exactly 1: return the raw MLM logits, not "
                              f"probabilities or log-probabilities")
    ok("column l is the raw MLM logit of label word v(l), in label order")

    # a hand-made example: T = 3, V = 5, [MASK] = 4, label words 3 and 1
    tiny_ids = torch.tensor([[2, 4, 0], [2, 1, 4]])
    tiny = torch.zeros(2, 3, 5)
    tiny[0, 1] = torch.tensor([0., 1., 2., 3., 4.])
    tiny[1, 2] = torch.tensor([9., 8., 7., 6., 5.])
    got = f(tiny, tiny_ids, torch.tensor([3, 1]))
    expect_close(got, torch.tensor([[3., 1.], [6., 8.]]), "scores on a hand-made 2-row example")
    ok("a hand-made example: rows [2, [MASK], 0] and [2, 1, [MASK]]")
    print("All visible verbalizer_scores checks passed.")


# ---------------------------------------------------------------- Exercise 3
def check_verbalizer_probs(verbalizer_probs) -> None:
    logits, ids, label_ids = _scores_setup(seed=1)
    B, T, V = logits.shape
    f = lambda lg, i=ids, lab=label_ids: _call(
        verbalizer_probs, "verbalizer_probs(mlm_logits, input_ids, mask_id, label_word_ids)",
        lg, i, MASK, lab)
    p = f(logits)
    expect_shape(p, (B, len(label_ids)), "verbalizer_probs(...) (B, num_labels)")
    expect(bool((p >= 0).all()), "probabilities must be >= 0 (did you return log-probabilities?)")
    total = p.sum(-1)
    expect(torch.allclose(total, torch.ones(B), atol=1e-5),
           f"each row should sum to 1, yours sum to {[round(v, 3) for v in total.tolist()]}: "
           f"take the softmax over the label words only (a softmax over the whole vocabulary "
           f"puts most of the mass on other words)")
    ok("each row is a distribution over the labels")

    is_label = torch.zeros(V, dtype=torch.bool)
    is_label[label_ids] = True
    expect_close(f(logits + 3 * torch.randn(B, T, V) * (~is_label)), p,
                 "probabilities after changing the logits of non-label words",
                 hint="P(l|x) must not depend on words outside the verbalizer")
    expect_close(f(logits + 2.5), p, "probabilities after adding 2.5 to every logit",
                 hint="a softmax is shift-invariant")
    ok("P(l|x) ignores the other words of the vocabulary")

    at_mask = ids == MASK
    expect_close(f(logits + 3 * torch.randn(B, T, V) * (~at_mask)[..., None]), p,
                 "probabilities after changing the logits at positions other than the [MASK]",
                 hint="read the scores at the [MASK] of each row, not at [CLS] (index 0) or the "
                      "last token")
    for col, word in enumerate(label_ids.tolist()):
        bumped = logits.clone()
        bumped[at_mask.nonzero(as_tuple=True) + (word,)] += 4.0
        moved = (f(bumped) - p).mean(0)                                  # (L,)
        expect(int(moved.argmax()) == col,
               f"raising the logit of label word id {word} (label {col}) raised the probability "
               f"of label {int(moved.argmax())}: keep the label order of label_word_ids")
    ok("P(l|x) is read at the [MASK], column l for label word v(l)")

    tiny_ids = torch.tensor([[2, 4]])
    tiny = torch.zeros(1, 2, 4)
    tiny[0, 1] = torch.tensor([5.0, 0.0, 1.0986123, -2.0])            # log 3 for word 2
    got = f(tiny, tiny_ids, torch.tensor([1, 2]))
    expect_close(got, torch.tensor([[0.25, 0.75]]), "P on a hand-made example (0 and log 3)",
                 hint="exp(0) : exp(log 3) = 1 : 3, renormalised over the two label words")
    ok("a hand-made example: label logits 0 and log 3 give 0.25 and 0.75")
    print("All visible verbalizer_probs checks passed.")


# ---------------------------------------------------------------- Exercise 4
def _tiny_encoder(seed=0, V=30):
    return tiny_model(seed, vocab_size=V)


def check_prompt_classifier(PromptClassifier, verbalizer_scores=None) -> None:
    encoder = _tiny_encoder()
    n_params = sum(p.numel() for p in encoder.parameters())
    label_ids = torch.tensor([21, 9, 27, 14])
    model = _call(PromptClassifier, "PromptClassifier(encoder, mask_id, label_word_ids)",
                  encoder, MASK, label_ids)
    expect(isinstance(model, torch.nn.Module), "PromptClassifier should be an nn.Module")
    model.eval()
    ids, attn = _ids(B=4, T=9, V=30)
    s = _call(model, "model(input_ids=..., attention_mask=...)", input_ids=ids,
              attention_mask=attn)
    expect_shape(s, (4, len(label_ids)), "PromptClassifier's output (B, num_labels)")
    ok("forward(input_ids=..., attention_mask=...) returns (B, num_labels) scores")

    if verbalizer_scores is not None:
        with torch.no_grad():
            logits = encoder(input_ids=ids, attention_mask=attn)["logits"]       # (B, T, V)
        expect_close(s.detach(), _call(verbalizer_scores, "verbalizer_scores", logits, ids, MASK,
                                       label_ids),
                     "PromptClassifier vs your verbalizer_scores on the encoder's MLM logits",
                     hint="the scores are the MLM logits of the label words at the [MASK] "
                          "(did you use hidden[:, 0], the [CLS] position?)")
        ok("the scores are the MLM logits of the label words at the [MASK]")

    padded_ids = torch.cat([ids, torch.zeros(4, 3, dtype=torch.long)], dim=1)
    padded_attn = torch.cat([attn, torch.zeros(4, 3, dtype=torch.long)], dim=1)
    with torch.no_grad():
        s_pad = model(input_ids=padded_ids, attention_mask=padded_attn)
    expect_close(s_pad, s.detach(), "scores after adding 3 padding tokens",
                 hint="pass attention_mask to the encoder: padding must not change the scores")
    ok("padding does not change the scores (the attention mask is used)")

    model.train()
    for p in model.parameters():
        p.grad = None
    out = model(input_ids=ids, attention_mask=attn)
    expect(out.requires_grad, "the scores carry no gradient: do not wrap forward in no_grad or "
                              "detach, prompt-based fine-tuning trains through them")
    out[:, 0].sum().backward()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    expect(trainable == n_params, f"{trainable:,} trainable parameters, but all {n_params:,} of "
                                  f"the encoder should train (PET fine-tunes the whole MLM; "
                                  f"nothing is new and nothing is frozen)")
    grad = encoder.embed.tok.weight.grad
    expect(grad is not None and grad.abs().sum() > 0, "no gradient reached the encoder")
    ok(f"the scores are differentiable and all {n_params:,} pre-trained parameters can train")
    print("All visible PromptClassifier checks passed.")
