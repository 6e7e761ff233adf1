"""Hidden cases of the prompting notebook (solutions/prompting.py): seeded inputs and calls.

Each case builds its inputs from the seed (continuous random logits, random ids with exactly one
[MASK] per row at a random place, right padding, random unsorted label word ids), calls the
student's objects, and returns plain outputs; the grader runs the same case on the reference.
"""

import torch

from autograde.hidden import Case
from course_lib.model import Encoder, TransformerConfig

# seed -> (B, T, V, mask_id, number of labels); seed 2 uses another [MASK] id than the course's 4
SIZES = {0: (5, 9, 40, 4, 4), 1: (8, 12, 60, 4, 3), 2: (6, 7, 25, 11, 5), 3: (3, 16, 50, 4, 2)}


def _batch(seed):
    """input_ids (B, T) with [CLS]=2 first, one [MASK] per row, right padding; attention mask."""
    B, T, V, mask_id, L = SIZES[seed]
    g = torch.Generator().manual_seed(500 + seed)
    ids = torch.randint(7, V, (B, T), generator=g)
    ids[ids == mask_id] = 7 if mask_id != 7 else 8
    ids[:, 0] = 2
    lengths = torch.randint(3, T + 1, (B,), generator=g)
    lengths[0] = T                                                  # one row without padding
    for i, n in enumerate(lengths.tolist()):
        ids[i, n:] = 0
        ids[i, int(torch.randint(1, n, (1,), generator=g))] = mask_id
    attention_mask = (torch.arange(T)[None] < lengths[:, None]).long()
    label_ids = 7 + torch.randperm(V - 7, generator=g)[:L]          # distinct, not sorted
    logits = torch.randn(B, T, V, generator=g)
    return ids, attention_mask, mask_id, label_ids, logits


def _raises(fn, *args):
    """Name of the exception fn(*args) raises, or None."""
    try:
        fn(*args)
    except Exception as err:
        return type(err).__name__
    return None


def _mask_position(objects, seed):
    ids, _, mask_id, _, _ = _batch(seed)
    f = objects["mask_position"]
    out = {"t": torch.as_tensor(f(ids, mask_id)).long()}
    no_mask = ids.clone()
    no_mask[1][no_mask[1] == mask_id] = 7 if mask_id != 7 else 8
    two = ids.clone()
    two[-1, 0] = mask_id                                       # a second [MASK] in the last row
    out["no_mask_raises"] = _raises(f, no_mask, mask_id)
    out["two_masks_raises"] = _raises(f, two, mask_id)
    return out


def _verbalizer_scores(objects, seed):
    ids, _, mask_id, label_ids, logits = _batch(seed)
    return {"scores": objects["verbalizer_scores"](logits, ids, mask_id, label_ids)}


def _verbalizer_probs(objects, seed):
    ids, _, mask_id, label_ids, logits = _batch(seed)
    return {"probs": objects["verbalizer_probs"](logits * 3, ids, mask_id, label_ids)}


def _classifier(objects, seed):
    ids, attention_mask, mask_id, label_ids, _ = _batch(seed)
    _, _, V, _, _ = SIZES[seed]
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=V, d_model=16, n_heads=2, n_layers=2, d_ff=32,
                            max_len=16, dropout=0.0)
    encoder = Encoder(cfg).eval()
    with torch.no_grad():                        # weight tying makes the LM head the embedding
        encoder.lm_head.bias.normal_(0.0, 0.5)   # a non-zero bias, so it must be used too
    model = objects["PromptClassifier"](encoder, mask_id, label_ids)
    model.eval()
    scores = model(input_ids=ids, attention_mask=attention_mask)
    return {"scores": scores.detach(), "requires_grad": bool(scores.requires_grad),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}


CASES = {
    "mask_position": Case(_mask_position, seeds=(0, 1, 2, 3), requires={
        "t": "return the index of the [MASK] in each row, shape (B,)",
        "no_mask_raises": "a row without [MASK] must raise ValueError",
        "two_masks_raises": "a row with two [MASK]s must raise ValueError"}),
    "verbalizer_scores": Case(_verbalizer_scores, seeds=(0, 1, 2, 3), requires={
        "scores": "s(l|x) is the MLM logit of label word v(l) at the [MASK] of the row, "
                  "columns in the order of label_word_ids"}),
    "verbalizer_probs": Case(_verbalizer_probs, seeds=(0, 1, 2, 3), requires={
        "probs": "P(l|x) is the softmax of s(l|x) over the label words only"}),
    "classifier": Case(_classifier, seeds=(0, 1, 2), requires={
        "scores": "forward returns the MLM logits of the label words at the [MASK], computed "
                  "with the attention mask",
        "requires_grad": "the scores must carry gradients (no torch.no_grad, no detach)",
        "trainable": "every parameter of the encoder trains; nothing is frozen or added"}),
}
