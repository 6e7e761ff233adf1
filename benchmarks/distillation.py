"""Distillation (solutions/distillation/distillation.ipynb): the 2-layer student's parameter ratio, speed-up and
accuracy retained against the 4-layer fine-tuned teacher (DistilBERT: 66M / 110M parameters,
410 / 668 s, 97% of the GLUE score).

The loss and the student initialisation are the notebook's reference
(autograde.verdict.reference_namespace); one process, ratios from one run.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F

from autograde.verdict import reference_namespace
from course_lib import measure
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import get_device, set_seed
from course_lib.training import evaluate, train_classifier

SOURCE = Path(__file__).resolve().parent.parent / "solutions" / "distillation" / "distillation.ipynb"


def run() -> list[dict]:
    ref = reference_namespace(nbformat.read(SOURCE, as_version=4))
    loss_fn, init_student = ref["distillation_loss"], ref["init_student_from_teacher"]
    set_seed(0)
    device = get_device()
    tok = load_tokenizer()
    train, test = load_topic("train"), load_topic("test")
    teacher = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
    train_classifier(teacher, tok, train, epochs=3, lr=1e-3, seed=0, progress=False)
    teacher.eval()
    teacher_acc = evaluate(teacher, tok, test)

    enc = tok.batch([ex.text for ex in train], max_len=64)
    ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)
    labels = torch.tensor([ex.topic for ex in train], device=device)
    with torch.no_grad():
        t_logits = torch.cat([teacher(input_ids=i, attention_mask=m)
                              for i, m in zip(ids.split(256), mask.split(256))])

    def student(distil: bool):
        set_seed(0)
        s = CLSClassifier(init_student(teacher.encoder, [0, 2]), len(TOPICS)).to(device)
        s.head.load_state_dict(teacher.head.state_dict())
        opt = torch.optim.AdamW(s.parameters(), lr=1e-3)
        s.train()
        for epoch in range(2):
            order = torch.randperm(len(train), generator=torch.Generator().manual_seed(epoch))
            for idx in order.split(32):
                idx = idx.to(device)
                L = int(mask[idx].sum(1).max())
                logits = s(input_ids=ids[idx, :L], attention_mask=mask[idx, :L])
                loss = (loss_fn(logits, t_logits[idx], labels[idx], 2.0, 0.5) if distil
                        else F.cross_entropy(logits, labels[idx]))
                opt.zero_grad()
                loss.backward()
                opt.step()
        return s.eval()

    hard, distilled = student(False), student(True)
    batch = {k: v.to(device) for k, v in tok.batch([ex.text for ex in test]).items()}
    with torch.no_grad():
        t_teacher = measure.latency(lambda: teacher(**batch), repeats=7)
        t_student = measure.latency(lambda: distilled(**batch), repeats=7)
    acc_hard, acc_dist = evaluate(hard, tok, test), evaluate(distilled, tok, test)
    p_t, p_s = measure.count_parameters(teacher), measure.count_parameters(distilled)
    return [
        {"figure": "distillation: student / teacher parameters (2 of 4 layers)",
         "value": f"{p_s / p_t:.2f} ({p_s:,} / {p_t:,})", "lecture": "66M / 110M = 0.60"},
        {"figure": "distillation: student speed-up (inference, 800 sentences)",
         "value": f"{t_teacher / t_student:.2f}x", "lecture": "668 s / 410 s = 1.63x"},
        {"figure": "distillation: accuracy retained, distilled student (T=2, alpha=0.5)",
         "value": f"{acc_dist / teacher_acc:.1%} ({acc_dist:.1%} / {teacher_acc:.1%})",
         "lecture": "97% (77.0 / 79.5 GLUE)"},
        {"figure": "distillation: accuracy retained, same student on hard labels only",
         "value": f"{acc_hard / teacher_acc:.1%} ({acc_hard:.1%})", "lecture": "-"},
    ]


if __name__ == "__main__":
    for r in run():
        print(r)
