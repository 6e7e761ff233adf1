"""Visible checks for the prompting notebook (notebooks/prompting/prompting.ipynb). Properties only.

The notebook's interface (mask_position is course_lib.prompts.mask_position, not an exercise):
    verbalizer_scores(mlm_logits (B, T, V), input_ids, mask_id, label_word_ids (L,)) -> (B, L)
    verbalizer_probs(same arguments) -> (B, L), softmax over the label words only
    PromptClassifier(encoder, mask_id, label_word_ids);
        forward(input_ids, attention_mask) -> (B, L)
    calibrate(probs (B, L), prior (L,)) -> (B, L), P(l|x) / p_bar(l) renormalised

Each check calls only the function it checks, never another exercise of the notebook.
"""

from __future__ import annotations

import torch

from . import CheckFailed, call, expect, expect_close, expect_shape, ok, tiny_model, visible_check

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
def _scores_setup(seed=0, B=4, T=8, V=30, mask_id=MASK):
    ids, _ = _ids(B, T, V, mask_id, seed)
    g = torch.Generator().manual_seed(100 + seed)
    logits = torch.randn(B, T, V, generator=g)
    label_ids = torch.tensor([21, 9, 27, 14])                 # deliberately not sorted
    return logits, ids, label_ids


@visible_check
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
                 hint="the scores must not depend on words outside the verbalizer: return "
                      "raw logits of the label words, with no softmax over the vocabulary")
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
                                  f"(sorting the ids, or a boolean mask over the vocabulary, "
                                  f"would reorder them)")
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


# ---------------------------------------------------------------- Exercise 2
@visible_check
def check_verbalizer_probs(verbalizer_probs) -> None:
    logits, ids, label_ids = _scores_setup(seed=1)
    B, T, V = logits.shape
    f = lambda lg, i=ids, lab=label_ids: _call(
        verbalizer_probs, "verbalizer_probs(mlm_logits, input_ids, mask_id, label_word_ids)",
        lg, i, MASK, lab)
    p = f(logits)
    expect_shape(p, (B, len(label_ids)), "verbalizer_probs(...) (B, num_labels)")
    expect(bool((p >= 0).all()), "probabilities must be >= 0 (log-probabilities are not)")
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


# ---------------------------------------------------------------- Exercise 3
def _tiny_encoder(seed=0, V=30):
    encoder = tiny_model(seed, vocab_size=V)
    with torch.no_grad():
        encoder.lm_head.bias.normal_(0.0, 0.5)          # a bias the scores must include
    return encoder


def moves_when_hidden_changes(run, encoder, keep, scores) -> bool:
    """Do run()'s scores move when the encoder's final hidden states change wherever keep
    (B, T) is False? A [MASK] classifier's scores must not (keep = the [MASK] positions)."""
    def hook(module, inputs, output):
        noise = 3.0 * torch.randn(output.shape, generator=torch.Generator().manual_seed(1))
        return torch.where(keep.to(output.device)[..., None], output, output + noise.to(output))
    handle = encoder.ln_f.register_forward_hook(hook)
    try:
        with torch.no_grad():
            return not torch.allclose(run(), scores, atol=1e-5)
    finally:
        handle.remove()


def label_columns_move(run, encoder, label_ids, scores) -> None:
    """Raising the LM head's bias of label word l by 1 must raise column l by 1, nothing else:
    the scores are the raw MLM logits of the label words, in label order."""
    for col, word in enumerate(int(w) for w in label_ids):
        with torch.no_grad():
            encoder.lm_head.bias[word] += 1.0
            try:
                diff = run() - scores
            finally:
                encoder.lm_head.bias[word] -= 1.0
        want = torch.zeros_like(scores)
        want[:, col] = 1.0
        if not torch.allclose(diff, want, atol=1e-5):
            moved = int(diff.abs().sum(0).argmax())
            raise CheckFailed(
                f"raising the LM head's bias of label word id {word} (label {col}) by 1 moved "
                + (f"column {moved}: keep the label order of label_word_ids"
                   if diff.abs().max() > 1e-6 and moved != col else
                   "no score by exactly 1: return the raw MLM logits of the label words (the "
                   "LM head's output), not probabilities"))


@visible_check
def check_prompt_classifier(PromptClassifier) -> None:
    encoder = _tiny_encoder()
    n_params = sum(p.numel() for p in encoder.parameters())
    label_ids = torch.tensor([21, 9, 27, 14])
    model = _call(PromptClassifier, "PromptClassifier(encoder, mask_id, label_word_ids)",
                  encoder, MASK, label_ids)
    expect(isinstance(model, torch.nn.Module), "PromptClassifier should be an nn.Module")
    model.eval()
    ids, attn = _ids(B=4, T=9, V=30)
    run = lambda i=ids, a=attn: _call(model, "model(input_ids=..., attention_mask=...)",
                                      input_ids=i, attention_mask=a)
    with torch.no_grad():
        s = run()
    expect_shape(s, (4, len(label_ids)), "PromptClassifier's output (B, num_labels)")
    ok("forward(input_ids=..., attention_mask=...) returns (B, num_labels) scores")

    positions = torch.arange(ids.shape[1])[None].expand_as(ids)
    expect(not moves_when_hidden_changes(run, encoder, positions != 0, s),
           "you read the scores at the [CLS] position (index 0); the label word is predicted "
           "at the [MASK]")
    expect(not moves_when_hidden_changes(run, encoder, ids == MASK, s),
           "your scores change when the hidden states at positions other than the [MASK] "
           "change: read them at each row's [MASK] only")
    ok("the scores depend only on the hidden state at each row's [MASK]")
    label_columns_move(run, encoder, label_ids, s)
    ok("column l is the MLM logit of label word v(l), in label order")

    padded_ids = torch.cat([ids, torch.zeros(4, 3, dtype=torch.long)], dim=1)
    padded_attn = torch.cat([attn, torch.zeros(4, 3, dtype=torch.long)], dim=1)
    with torch.no_grad():
        s_pad = run(padded_ids, padded_attn)
    expect_close(s_pad, s, "scores after adding 3 padding tokens",
                 hint="pass attention_mask to the encoder: padding must not change the scores")
    ok("padding does not change the scores (the attention mask is used)")

    model.train()
    for p in model.parameters():
        p.grad = None
    out = run()
    expect(out.requires_grad, "the scores carry no gradient: prompt-based fine-tuning trains "
                              "through them (no torch.no_grad(), no detach)")
    out[:, 0].sum().backward()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    expect(trainable == n_params, f"{trainable:,} trainable parameters, but all {n_params:,} of "
                                  f"the encoder should train (PET fine-tunes the whole MLM; "
                                  f"nothing is new and nothing is frozen)")
    grad = encoder.blocks[0].attn.W_q.weight.grad
    expect(grad is not None and grad.abs().sum() > 0,
           "no gradient reaches the encoder's first layer: the encoder must run with "
           "gradients (not under torch.no_grad(), not detached), or only the LM head trains")
    ok(f"the scores are differentiable and all {n_params:,} pre-trained parameters can train")
    print("All visible PromptClassifier checks passed.")


# ---------------------------------------------------------------- Exercise 4
@visible_check
def check_calibrate(calibrate) -> None:
    g = torch.Generator().manual_seed(3)
    probs = torch.softmax(torch.randn(6, 4, generator=g), dim=-1)          # (6, 4)
    prior = torch.tensor([0.5, 0.1, 0.3, 0.6])                              # sums to 1.5
    f = lambda p, q: _call(calibrate, "calibrate(probs, prior)", p, q)
    c = f(probs, prior)
    expect_shape(c, (6, 4), "calibrate(probs (6, 4), prior (4,))")
    expect(bool((c >= 0).all()), "calibrated probabilities must be >= 0")
    total = c.sum(-1)
    expect(torch.allclose(total, torch.ones(6), atol=1e-5),
           f"each row should sum to 1, yours sum to {[round(v, 3) for v in total.tolist()]}: "
           f"renormalise each row after dividing by the prior")
    ok("each row is a distribution over the labels")

    expect_close(f(probs, torch.full((4,), 0.3)), probs, "calibrate with a uniform prior",
                 hint="a uniform prior says no label is favoured: the result must be probs "
                      "itself")
    expect_close(f(probs, 10 * prior), c, "calibrate with the prior times 10",
                 hint="only the prior's ratios matter: renormalise the rows, not the prior")
    ok("a uniform prior changes nothing; scaling the prior changes nothing")

    two = f(torch.tensor([[0.5, 0.5]]), torch.tensor([0.8, 0.2]))
    if torch.allclose(two, torch.tensor([[0.8, 0.2]]), atol=1e-5):
        raise CheckFailed("with P = (0.5, 0.5) and prior (0.8, 0.2) you return (0.8, 0.2): you "
                          "multiplied by the prior; divide by it")
    expect_close(two, torch.tensor([[0.2, 0.8]]), "calibrate((0.5, 0.5), prior (0.8, 0.2))",
                 hint="0.5 / 0.8 : 0.5 / 0.2 = 1 : 4, renormalised")
    ok("a hand-made example: the label the prior favours loses, (0.5, 0.5) -> (0.2, 0.8)")
    print("All visible calibrate checks passed.")
