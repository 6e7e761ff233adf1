"""Training and evaluation loops for the course's classification experiments.

A "classifier" here is any module called as model(input_ids=..., attention_mask=...) that returns
class logits (B, num_labels): a [CLS] classifier, a [MASK]+verbalizer scorer, a LoRA-wrapped
encoder. Only parameters with requires_grad=True are trained, so freezing is the caller's choice.
"""

from __future__ import annotations

import random
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from .runtime import get_device, set_seed


def make_batches(tok, examples, batch_size=32, label="topic", template=None,
                 shuffle=False, seed=0, max_len=64):
    """Yield dicts of input_ids, attention_mask (B, T) and labels (B,), on the course device.

    template: optional function text -> text (e.g. a prompt pattern with a [MASK]).
    """
    order = list(range(len(examples)))
    if shuffle:
        random.Random(seed).shuffle(order)
    device = get_device()
    for start in range(0, len(order), batch_size):
        chunk = [examples[i] for i in order[start:start + batch_size]]
        texts = [template(ex.text) if template else ex.text for ex in chunk]
        batch = tok.batch(texts, max_len=max_len)
        batch = {k: v.to(device) for k, v in batch.items()}
        batch["labels"] = torch.tensor([getattr(ex, label) for ex in chunk], device=device)
        yield batch


def trainable_parameters(model: nn.Module) -> list[nn.Parameter]:
    return [p for p in model.parameters() if p.requires_grad]


def train_classifier(model, tok, examples, epochs=3, lr=1e-3, batch_size=32, label="topic",
                     template=None, seed=0, weight_decay=0.0, extra_loss=None, progress=True,
                     max_len=64):
    """Fine-tune with cross-entropy and AdamW on the trainable parameters.

    extra_loss: optional function model -> scalar added to the loss (e.g. an MoE balance loss).
    Returns a dict with the loss per step and the wall-clock training time in seconds.
    """
    params = trainable_parameters(model)
    if not params:
        raise ValueError("the model has no trainable parameter (did you freeze everything?)")
    set_seed(seed)
    model.to(get_device()).train()
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    losses, start = [], time.perf_counter()
    steps = epochs * ((len(examples) + batch_size - 1) // batch_size)
    bar = tqdm(total=steps, desc="training", disable=not progress, leave=False)
    for epoch in range(epochs):
        for batch in make_batches(tok, examples, batch_size, label, template,
                                  shuffle=True, seed=seed + epoch, max_len=max_len):
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
            loss = F.cross_entropy(logits, batch["labels"])
            if extra_loss is not None:
                loss = loss + extra_loss(model)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{loss.item():.3f}")
    bar.close()
    model.eval()
    return {"losses": losses, "seconds": time.perf_counter() - start}


@torch.no_grad()
def predict(model, tok, examples, label="topic", template=None, batch_size=128, max_len=64):
    """Predicted labels (N,) and gold labels (N,) as tensors on the CPU."""
    model.to(get_device()).eval()
    preds, golds = [], []
    for batch in make_batches(tok, examples, batch_size, label, template, max_len=max_len):
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        preds.append(logits.argmax(-1).cpu())
        golds.append(batch["labels"].cpu())
    return torch.cat(preds), torch.cat(golds)


def evaluate(model, tok, examples, label="topic", template=None, batch_size=128, max_len=64):
    """Accuracy in [0, 1]."""
    pred, gold = predict(model, tok, examples, label, template, batch_size, max_len)
    return (pred == gold).float().mean().item()
