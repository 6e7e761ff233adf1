"""Visible checks for the PEFT comparison notebook (notebooks/peft_comparison/peft_comparison.ipynb). No answers.

    apply_bitfit(model: CLSClassifier) -> model: only the encoder's biases (not the unused MLM
    head's) and the classifier head train.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import CheckFailed, expect, ok, tiny_model, visible_check


def _tiny_classifier(seed=0, n_layers=2, num_labels=3):
    from ..model import CLSClassifier
    encoder = tiny_model(seed, d_model=8, n_layers=n_layers, d_ff=16, max_len=12)
    return CLSClassifier(encoder, num_labels=num_labels).eval()


def _apply(apply_bitfit, model):
    try:
        out = apply_bitfit(model)
    except NotImplementedError:
        raise
    except Exception as e:
        raise CheckFailed(f"apply_bitfit(model) failed: {type(e).__name__}: {e}") from e
    expect(out is model, "apply_bitfit should modify the model in place and return it")
    return out


@visible_check
def check_bitfit_trainable(apply_bitfit) -> None:
    model = _apply(apply_bitfit, _tiny_classifier())
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    expect("head.weight" in trainable and "head.bias" in trainable,
           "the classifier head is new and task-specific: train all of it (weight and bias)")
    expect("encoder.lm_head.bias" not in trainable,
           "encoder.lm_head.bias is trainable: the MLM head is never called by a [CLS] "
           "classifier, so its bias gets no gradient; leave it frozen")
    weights = sorted(n for n in trainable if n.startswith("encoder.") and not n.endswith("bias"))
    expect(not weights, f"encoder weights are trainable ({', '.join(weights[:3])}, ...): BitFit "
                        "freezes every weight matrix and trains only the biases")
    frozen_biases = sorted(n for n, p in model.encoder.named_parameters()
                           if n.endswith("bias") and not n.startswith("lm_head")
                           and not p.requires_grad)
    expect(not any(".ln_" in n or n.startswith("ln_f") for n in frozen_biases),
           f"the LayerNorm biases beta are frozen ({', '.join(frozen_biases[:2])}, ...): BitFit "
           "trains every bias term, LayerNorm's beta included")
    expect(not frozen_biases, f"some biases are frozen: {', '.join(frozen_biases[:3])}")
    ok("trainable: every bias of the encoder (W_q, W_k, W_v, W_o, FFN, LayerNorm beta) + the head")
    n = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    print(f"  tiny model: {n} of {total} parameters trainable ({n / total:.1%})")


@visible_check
def check_bitfit_step(apply_bitfit) -> None:
    model = _apply(apply_bitfit, _tiny_classifier(seed=1))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    params = [p for p in model.parameters() if p.requires_grad]
    expect(len(params) > 0, "no parameter is trainable after apply_bitfit")
    opt = torch.optim.SGD(params, lr=0.5)
    ids = torch.randint(5, 40, (4, 7))
    logits = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    F.cross_entropy(logits, torch.tensor([0, 1, 2, 0])).backward()
    opt.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    expect(all(n.endswith("bias") or n.startswith("head.") for n in changed),
           f"a training step changed weights: {sorted(n for n in changed if not n.endswith('bias'))}")
    expect(any(n.startswith("encoder.blocks.0.") for n in changed),
           "a training step changed nothing in the first block: are its biases trainable?")
    ok(f"one training step changes only biases and the head ({len(changed)} tensors)")
