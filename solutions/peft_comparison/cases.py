"""Hidden cases of the PEFT comparison notebook (solutions/peft_comparison/peft_comparison.py): inputs and calls."""

import torch
import torch.nn.functional as F

from autograde.spec import Case
from course_lib.model import CLSClassifier, Encoder, TransformerConfig


def _classifier(seed):
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=50, d_model=[8, 16, 12][seed], n_heads=2,
                            n_layers=[2, 3, 1][seed], d_ff=[16, 24, 20][seed], max_len=16,
                            dropout=0.0)
    return CLSClassifier(Encoder(cfg), num_labels=[3, 4, 2][seed]).eval()


def _bitfit(objects, seed):
    model = objects["apply_bitfit"](_classifier(seed))
    return {"trainable_names": sorted(n for n, p in model.named_parameters() if p.requires_grad),
            "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad)}


def _bitfit_step(objects, seed):
    model = objects["apply_bitfit"](_classifier(seed))
    g = torch.Generator().manual_seed(100 + seed)
    ids = torch.randint(5, 50, (4, 9), generator=g)
    labels = torch.randint(0, model.head.out_features, (4,), generator=g)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    for _ in range(2):
        loss = F.cross_entropy(model(input_ids=ids), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        return {"logits_after_2_steps": model(input_ids=ids)}


CASES = {
    "bitfit": Case(_bitfit, seeds=(0, 1, 2), requires={
        "trainable_names": "train every bias of the encoder (LayerNorm beta included, the unused "
                           "lm_head's excluded) and the whole classifier head; freeze the rest",
        "trainable": "train every bias of the encoder (not lm_head's) and the classifier head"}),
    "bitfit_step": Case(_bitfit_step, seeds=(0, 1, 2), requires={
        "logits_after_2_steps": "two training steps change exactly the encoder's biases (not "
                                "lm_head's) and the classifier head, so the output after them "
                                "is the one BitFit gives"}),
}
