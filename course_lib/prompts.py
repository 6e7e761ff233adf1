"""Prompts as the course writes them: a pattern with `[X]` for the input and one `[MASK]`.

    P = template("[X] What is the topic? [MASK]")        # text -> P(text)
    batch = tok.batch([P(x) for x in texts])
    t = mask_position(batch["input_ids"], tok.mask_id)   # (B,) where the label word goes

The same two helpers serve every prompt notebook (hard prompts, soft prompts, prefixes). They are
plumbing, not the lecture's technique: reading the label words' logits at the [MASK] (the
verbalizer) is what the notebooks ask you to write.
"""

from __future__ import annotations

import torch

X = "[X]"          # where the input goes, as in the lecture's tables ("[X] is located in [Y].")


def fill(pattern: str, x: str) -> str:
    """The pattern with the input in place of [X] (a final full stop of x is dropped)."""
    if pattern.count(X) != 1:
        raise ValueError(f"a pattern holds [X] exactly once: {pattern!r}")
    return pattern.replace(X, x.rstrip("."))


def template(pattern: str):
    """fill as a function of the input alone: what training.evaluate(template=...) takes."""
    fill(pattern, "")                                  # fail now, not at the first batch
    return lambda x: fill(pattern, x)


def mask_position(input_ids: torch.Tensor, mask_id: int) -> torch.Tensor:
    """Index of the one [MASK] in each row of input_ids (B, T) -> (B,) long.

    A row without a [MASK] or with several raises ValueError: a silent wrong index would only
    show as a bad accuracy."""
    is_mask = input_ids == mask_id                                   # (B, T)
    counts = is_mask.sum(dim=1)                                      # (B,)
    bad = (counts != 1).nonzero().flatten().tolist()
    if bad:
        raise ValueError(f"rows {bad} hold {counts[bad].tolist()} [MASK] tokens; a pattern "
                         "holds exactly one")
    return is_mask.long().argmax(dim=1)                              # (B,) the only True
