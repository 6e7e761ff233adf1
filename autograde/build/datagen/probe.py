"""What the bundled pre-trained weights can do: one table, to compare weights before and after
re-pre-training (`python -m autograde.build.datagen.pretrain all`).

    python -m autograde.build.datagen.probe                  # about 3 minutes on 2 CPU cores
    python -m autograde.build.datagen.probe --json out.json  # the figures as JSON, too
    python -m autograde.build.datagen.probe --record         # and under "probe" in pretrain_metrics.json

Each row is trained and measured as the notebook that shows it does (the same epochs, learning
rates and seeds), with the reference solutions of solutions/ (extracted from the source
notebooks, never copied):

* topic (4 classes, test set): full fine-tuning of a [CLS] classifier and a linear probe on the
  frozen [CLS] embedding (prompting: 3 epochs, lr 1e-3 and 1e-2); zero-shot with the lecture's
  pattern "[X] What is the topic? [MASK]" and the label words as verbalizer;
* sentiment (2 classes, same texts): a linear probe on the frozen [CLS]; bottleneck adapters
  (m = 4) in the frozen encoder and full fine-tuning (adapters: 2 epochs, lr 5e-3 and 1e-3,
  seed 1); the topic adapters of the same notebook for comparison;
* the decoder's held-out perplexity (lm_valid.txt) and the encoder's MLM accuracy;
* cosine similarities of the pre-trained embeddings of opposite-tone words, and of random pairs.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import nbformat
import torch
import torch.nn.functional as F

from autograde.build.reference import reference_namespace
from autograde.config import ROOT
from course_lib.datasets import SENTIMENTS, TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import METRICS_PATH, load_decoder, load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, train_classifier

from .pretrain import mlm_accuracy, perplexity

LECTURE_PATTERN = "[X] What is the topic? [MASK]"
TONE_PAIRS = [("rose", "fell"), ("surged", "crashed"), ("won", "lost"), ("beat", "lost"),
              ("approved", "rejected")]


def reference(name: str) -> dict:
    """The setup and solution cells of solutions/<name>/<name>.ipynb, executed."""
    return reference_namespace(nbformat.read(ROOT / "solutions" / name / f"{name}.ipynb", 4))


def frozen(model):
    for p in model.encoder.parameters():
        p.requires_grad = False                          # linear probe: only the head trains
    return model


def tone_cosines(tok) -> dict[str, float]:
    E = load_encoder().embed.tok.weight.detach()                        # (V, d)
    cos = {f"{a} / {b}": F.cosine_similarity(E[tok.token_id(a)], E[tok.token_id(b)], dim=0)
           for a, b in TONE_PAIRS}
    ids = torch.randint(5, E.shape[0], (200,), generator=torch.Generator().manual_seed(0))
    cos["random pairs (mean)"] = F.cosine_similarity(E[ids][:100], E[ids][100:], dim=1).mean()
    return {k: round(float(v), 3) for k, v in cos.items()}


def run() -> dict:
    tok = load_tokenizer()
    train, test = load_topic("train"), load_topic("test")
    add_adapters = reference("adapters")["add_adapters"]
    PromptClassifier = reference("prompting")["PromptClassifier"]
    label_ids = [tok.token_id(t.lower()) for t in TOPICS]
    n_topic, n_sent = len(TOPICS), len(SENTIMENTS)
    # name: (build the classifier, label, epochs, lr, seed); as in the notebooks
    setups = {
        "topic: full fine-tuning": (lambda: CLSClassifier(load_encoder(), n_topic),
                                    "topic", 3, 1e-3, 0),
        "topic: linear probe, frozen [CLS]": (lambda: frozen(CLSClassifier(load_encoder(),
                                                                           n_topic)),
                                              "topic", 3, 1e-2, 0),
        "topic: adapters (m = 4), frozen encoder": (
            lambda: CLSClassifier(add_adapters(load_encoder(), 16), n_topic), "topic", 2, 5e-3, 0),
        "sentiment: full fine-tuning": (lambda: CLSClassifier(load_encoder(), n_sent),
                                        "sentiment", 2, 1e-3, 1),
        "sentiment: linear probe, frozen [CLS]": (
            lambda: frozen(CLSClassifier(load_encoder(), n_sent)), "sentiment", 3, 1e-2, 1),
        "sentiment: adapters (m = 4), frozen encoder": (
            lambda: CLSClassifier(add_adapters(load_encoder(), 16), n_sent),
            "sentiment", 2, 5e-3, 1),
    }
    out = {}
    for name, (build, label, epochs, lr, seed) in setups.items():
        t0 = time.perf_counter()
        set_seed(seed)
        model = build()
        train_classifier(model, tok, train, epochs=epochs, lr=lr, seed=seed, label=label,
                         progress=False)
        out[name] = round(evaluate(model, tok, test, label=label), 4)
        print(f"{name:<45} {out[name]:.1%}  ({time.perf_counter() - t0:.0f} s)", flush=True)
    zero_shot = PromptClassifier(load_encoder(), tok.mask_id, label_ids)
    pattern = lambda x: LECTURE_PATTERN.replace("[X]", x.rstrip("."))
    out[f"topic: zero-shot '{LECTURE_PATTERN}'"] = round(
        evaluate(zero_shot, tok, test, template=pattern), 4)
    out["encoder: MLM accuracy (lm_valid)"] = mlm_accuracy(load_encoder(), tok)
    out["decoder: held-out perplexity (lm_valid)"] = perplexity(load_decoder(), tok)
    out["tone-word cosine similarity"] = tone_cosines(tok)
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="also write the figures to this file")
    ap.add_argument("--record", action="store_true",
                    help=f"also record them under 'probe' in {METRICS_PATH.name}")
    args = ap.parse_args(argv)
    torch.manual_seed(0)
    figures = run()
    for name, value in figures.items():
        if isinstance(value, dict):
            print(name + ": " + ", ".join(f"{k} {v:.2f}" for k, v in value.items()))
        else:
            print(f"{name:<50} " + (f"{value:.3f}" if "perplexity" in name else f"{value:.1%}"))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    if args.record:
        metrics = json.loads(METRICS_PATH.read_text())
        metrics["probe"] = {**figures, "torch": torch.__version__,
                            "device": "cuda" if torch.cuda.is_available() else "cpu"}
        METRICS_PATH.write_text(json.dumps(metrics, indent=2) + "\n")


if __name__ == "__main__":
    main()
