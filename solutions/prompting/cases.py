"""Hidden cases of the prompting notebook (solutions/prompting/prompting.py): seeded inputs, calls.

Each case builds its inputs from the seed (continuous random logits, random ids with exactly one
[MASK] per row at a random place, right padding, random unsorted label word ids, random
distributions and priors), calls only the one student object its exercise asks for, and returns
plain outputs; the grader runs the same case on the reference.
"""

import torch

from autograde.spec import Case
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
    first_layer = encoder.blocks[0].attn.W_q.weight            # far from the LM head
    if scores.requires_grad:
        (scores * torch.linspace(-1, 1, scores.numel()).view_as(scores)).sum().backward()
    grad = first_layer.grad if first_layer.grad is not None else torch.zeros_like(first_layer)
    return {"scores": scores.detach(), "requires_grad": bool(scores.requires_grad),
            "first_layer_grad": grad.detach().clone(),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def _calibrate(objects, seed):
    g = torch.Generator().manual_seed(700 + seed)
    B, L = 5 + seed, 2 + seed % 3
    probs = torch.softmax(2 * torch.randn(B, L, generator=g), dim=-1)     # rows sum to 1
    prior = 0.1 + torch.rand(L, generator=g)                              # positive, sum != 1
    f = objects["calibrate"]
    return {"calibrated": f(probs, prior), "scaled_prior": f(probs, 7.0 * prior),
            "uniform_prior": f(probs, torch.full((L,), 0.25))}


CASES = {
    "verbalizer_scores": Case(_verbalizer_scores, seeds=(0, 1, 2, 3), requires={
        "scores": "s(l|x) is the MLM logit of label word v(l) at the [MASK] of the row, "
                  "columns in the order of label_word_ids"}),
    "verbalizer_probs": Case(_verbalizer_probs, seeds=(0, 1, 2, 3), requires={
        "probs": "P(l|x) is the softmax of s(l|x) over the label words only"}),
    "classifier": Case(_classifier, seeds=(0, 1, 2), requires={
        "scores": "forward returns the MLM logits of the label words at the [MASK], computed "
                  "with the attention mask",
        "requires_grad": "the scores carry gradients",
        "first_layer_grad": "the gradient of the scores reaches the encoder's first layer: "
                            "every pre-trained parameter trains",
        "trainable": "every parameter of the encoder trains; nothing is frozen or added"}),
    "calibrate": Case(_calibrate, seeds=(0, 1, 2, 3), requires={
        "calibrated": "each P(l|x) is divided by the prior p_bar(l) and the row renormalised "
                      "to sum to 1",
        "scaled_prior": "only the prior's ratios matter: a prior times a constant gives the "
                        "same result",
        "uniform_prior": "a uniform prior leaves P(l|x) unchanged"}),
}
