"""Pre-train the course's tiny encoder (masked LM) and decoder (causal LM) on data/pretrain.txt.

    python -m autograde.build.datagen.pretrain all        # tokenizer, encoder (2 stages), decoder
                                                    # (about 5 min on a GPU)
    python -m autograde.build.datagen.pretrain tone       # only the encoder's stage 2 (2 min on a CPU)
    python -m autograde.build.datagen.pretrain encoder --steps 500   # a quick try

The encoder trains in two stages. Stage 1 is BERT's masked LM (ENCODER_TRAIN). Stage 2
(TONE_TRAIN) continues it with salient-word masking (as REALM's salient spans, Guu et al.
2020): only the words of the corpus's tone cues are masked ("It was [MASK] news for
investors."), so the model must infer a line's tone from its content. Stage 1 alone, even on the
tone-cued corpus, left the cue words at chance and the sentiment task unlearnable by a frozen
encoder (`python -m autograde.build.datagen.probe` measures both).

Writes course_lib/data/tokenizer.json, encoder.pt, decoder.pt (fp16 weights, a few MB) and updates
course_lib/data/pretrain_metrics.json (MLM accuracy, perplexity, training time, machine; the
encoder's stage 2 under "tone_stage"). A fixed number of steps and a fixed seed, so a rerun on the
same machine repeats it. Not part of `make test`: the weights are committed.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import random
import time

import torch
import torch.nn.functional as F

from course_lib.datasets import load_corpus, pack_blocks
from course_lib.model import Decoder, Encoder, TransformerConfig
from course_lib.pretrained import METRICS_PATH, TOKENIZER_PATH, WEIGHTS, load_encoder, load_tokenizer
from course_lib.runtime import get_device, set_seed
from course_lib.tokenizer import SPECIAL_TOKENS, WordTokenizer

from .make_data import TONE_CUES

ENCODER_CFG = dict(d_model=64, n_heads=4, n_layers=4, d_ff=256, max_len=128, causal=False)
DECODER_CFG = dict(d_model=64, n_heads=4, n_layers=4, d_ff=256, max_len=256, causal=True)
# The training recipes: optimizer steps, sequences per batch, peak learning rate.
ENCODER_TRAIN = dict(steps=6000, batch_size=256, lr=4e-3)
# The encoder's stage 2: only the tone cues' words are masked (and scored).
TONE_TRAIN = dict(steps=600, batch_size=32, lr=1e-3, warmup=40, mask_p=0.0)
DECODER_TRAIN = dict(steps=4000, batch_size=16, lr=2e-3)


def mask_tokens(ids, tok, p=0.15, generator=None, always=None):
    """BERT masking: choose 15% of real tokens; 80% -> [MASK], 10% random, 10% kept.

    always: optional boolean (vocab,) table of words that are always masked ([MASK], scored),
    as in salient-span masking (Guu et al. 2020, REALM): the second stage masks the tone cues'
    words so that the model must infer the tone from the rest of the line.
    """
    special = ids < len(SPECIAL_TOKENS)
    salient = always[ids] if always is not None else torch.zeros_like(special)
    chosen = ((torch.rand(ids.shape, generator=generator) < p) | salient) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & ((r < 0.8) | salient)] = tok.mask_id
    rand_ids = torch.randint(len(SPECIAL_TOKENS), len(tok), ids.shape, generator=generator)
    swap = chosen & ~salient & (r >= 0.8) & (r < 0.9)
    inputs[swap] = rand_ids[swap]
    return inputs, labels


def encoder_batches(tok, lines, batch_size, max_len, rng):
    order = list(range(len(lines)))
    rng.shuffle(order)
    for s in range(0, len(order) - batch_size + 1, batch_size):
        yield tok.batch([lines[i] for i in order[s:s + batch_size]], max_len=max_len)


def learning_rate(step, steps, lr, warmup=200):
    """lr times a linear warm-up (the first `warmup` steps) times a cosine decay to 0 over all
    `steps`: lr_t = lr * min(1, (t + 1) / warmup) * (1 + cos(pi t / steps)) / 2."""
    return lr * min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * step / steps))


def train(model, epoch, loss_of, steps, lr, name, warmup=200):
    """AdamW (weight decay 0.01) for `steps` optimizer steps over `epoch()` (one pass of batches,
    repeated as often as needed), gradients clipped at norm 1. Both models train with it."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    start, step = time.perf_counter(), 0
    while step < steps:
        for batch in epoch():
            for g in opt.param_groups:
                g["lr"] = learning_rate(step, steps, lr, warmup)
            loss = loss_of(model, batch)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            step += 1
            if step % 100 == 0:
                print(f"{name} step {step} loss {loss.item():.3f}", flush=True)
            if step >= steps:
                break
    return {"steps": step, "train_seconds": round(time.perf_counter() - start, 1)}


def train_encoder(tok, steps, batch_size, lr, seed=0, model=None, mask_p=0.15, always_masked=(),
                  warmup=200):
    """Masked-LM training of a new encoder (or of `model`): a share mask_p of the tokens is
    masked at random, and the words in always_masked wherever they occur (see mask_tokens)."""
    set_seed(seed)
    lines = load_corpus("pretrain")
    device = get_device()
    if model is None:
        model = Encoder(TransformerConfig(vocab_size=len(tok), **ENCODER_CFG))
    model = model.to(device).train()
    gen, rng = torch.Generator().manual_seed(seed), random.Random(seed)
    always = torch.zeros(len(tok), dtype=torch.bool)                   # (V,)
    always[[tok.token_id(w) for w in always_masked]] = True

    def mlm_loss(model, batch):
        inputs, labels = mask_tokens(batch["input_ids"], tok, mask_p, gen, always)
        inputs, labels = inputs.to(device), labels.to(device)
        hidden = model(input_ids=inputs, attention_mask=batch["attention_mask"].to(device),
                       return_logits=False)["hidden"]                 # (B, T, d)
        keep = labels != -100                        # the LM head only where it is scored
        return F.cross_entropy(model.lm_head(hidden[keep]), labels[keep])

    epoch = lambda: encoder_batches(tok, lines, batch_size, ENCODER_CFG["max_len"], rng)
    metrics = train(model, epoch, mlm_loss, steps, lr, "encoder", warmup)
    return model.eval(), {**metrics, "batch_size": batch_size, "lr": lr,
                          "mlm_accuracy": mlm_accuracy(model, tok)}


def train_tone_stage(tok, model, seed=0):
    """Stage 2: continue the masked LM with the tone cues' words always masked (TONE_TRAIN)."""
    words = [w for tone in ("positive", "negative") for w in TONE_CUES["tone_words"][tone]]
    model, metrics = train_encoder(tok, **TONE_TRAIN, seed=seed, model=model,
                                   always_masked=words)
    return model, {**metrics, "always_masked": words}


@torch.no_grad()
def mlm_accuracy(model, tok, n_lines=1000):
    """Accuracy of predicting BERT-masked tokens on held-out text."""
    lines = load_corpus("lm_valid")[:n_lines]
    gen = torch.Generator().manual_seed(1234)
    correct = total = 0
    for s in range(0, len(lines), 100):
        batch = tok.batch(lines[s:s + 100], max_len=model.config.max_len)
        inputs, labels = mask_tokens(batch["input_ids"], tok, generator=gen)
        inputs, labels = inputs.to(model.device), labels.to(model.device)
        logits = model(input_ids=inputs,
                       attention_mask=batch["attention_mask"].to(model.device))["logits"]
        keep = labels != -100
        correct += (logits.argmax(-1)[keep] == labels[keep]).sum().item()
        total += keep.sum().item()
    return round(correct / total, 4)


def train_decoder(tok, steps, batch_size, lr, seed=0):
    set_seed(seed)
    blocks = pack_blocks(tok, load_corpus("pretrain"), DECODER_CFG["max_len"])   # (n, T)
    device = get_device()
    model = Decoder(TransformerConfig(vocab_size=len(tok), **DECODER_CFG)).to(device).train()
    gen = torch.Generator().manual_seed(seed)

    def lm_loss(model, idx):
        x = blocks[idx].to(device)                                   # (B, T)
        logits = model(input_ids=x[:, :-1])["logits"]                # (B, T-1, V)
        return F.cross_entropy(logits.reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1))

    epoch = lambda: torch.randperm(len(blocks), generator=gen).split(batch_size)
    metrics = train(model, epoch, lm_loss, steps, lr, "decoder")
    return model.eval(), {**metrics, "batch_size": batch_size, "lr": lr,
                          "valid_perplexity": perplexity(model, tok)}


@torch.no_grad()
def perplexity(model, tok, n_lines=2000):
    blocks = pack_blocks(tok, load_corpus("lm_valid")[:n_lines], model.config.max_len)
    nll = count = 0
    for x in blocks.split(16):
        x = x.to(model.device)
        logits = model(input_ids=x[:, :-1])["logits"]
        nll += F.cross_entropy(logits.reshape(-1, logits.size(-1)), x[:, 1:].reshape(-1),
                               reduction="sum").item()
        count += x[:, 1:].numel()
    return round(math.exp(nll / count), 3)


def save(kind, model, metrics, stage=None):
    """Write the fp16 weights and the metrics of `kind`; a `stage` (the encoder's "tone_stage")
    is recorded under that key, beside the metrics of the stage before it."""
    state = {k: (v.half() if v.is_floating_point() else v).cpu()
             for k, v in model.state_dict().items()}
    torch.save({"config": model.config.to_dict(), "state_dict": state}, WEIGHTS[kind])
    all_metrics = json.loads(METRICS_PATH.read_text()) if METRICS_PATH.exists() else {}
    machine = (torch.cuda.get_device_name(0) if model.device.type == "cuda"
               else f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
    record = {**metrics, "machine": machine, "torch": torch.__version__}
    if stage is None:
        all_metrics[kind] = {**record, "config": model.config.to_dict(),
                             "parameters": sum(p.numel() for p in model.parameters())}
    else:
        all_metrics[kind][stage] = record
    METRICS_PATH.write_text(json.dumps(all_metrics, indent=2) + "\n")
    print(kind, json.dumps(all_metrics[kind]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("what", choices=["tokenizer", "encoder", "tone", "decoder", "all"],
                    help="encoder: both stages; tone: only stage 2, on the saved encoder")
    ap.add_argument("--steps", type=int, default=None,
                    help=f"optimizer steps per model (default: encoder {ENCODER_TRAIN['steps']}, "
                         f"decoder {DECODER_TRAIN['steps']})")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.what in ("tokenizer", "all") or not TOKENIZER_PATH.exists():
        WordTokenizer.train(load_corpus("pretrain"), min_freq=3).save(TOKENIZER_PATH)
        print("tokenizer:", len(load_tokenizer()), "entries")
    tok = load_tokenizer()
    if args.what in ("encoder", "all"):
        recipe = {**ENCODER_TRAIN, "steps": args.steps or ENCODER_TRAIN["steps"]}
        model, metrics = train_encoder(tok, **recipe, seed=args.seed)
        save("encoder", model, metrics)
        save("encoder", *train_tone_stage(tok, model, args.seed), stage="tone_stage")
    if args.what == "tone":
        save("encoder", *train_tone_stage(tok, load_encoder(), args.seed), stage="tone_stage")
    if args.what in ("decoder", "all"):
        recipe = {**DECODER_TRAIN, "steps": args.steps or DECODER_TRAIN["steps"]}
        save("decoder", *train_decoder(tok, **recipe, seed=args.seed))


if __name__ == "__main__":
    main()
