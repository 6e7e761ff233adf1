"""Pre-train the course's tiny encoder (masked LM) and decoder (causal LM) on data/pretrain.txt.

    python -m autograde.datagen.pretrain all        # tokenizer, encoder, decoder
                                                    # (~3 min on a GPU, ~2 h on 2 CPU cores)
    python -m autograde.datagen.pretrain encoder --steps 500   # a quick try

Writes course_lib/data/tokenizer.json, encoder.pt, decoder.pt (fp16 weights, a few MB) and updates
course_lib/data/pretrain_metrics.json (MLM accuracy, perplexity, training time). A fixed number of
steps and a fixed seed, so a rerun on the same machine repeats it. Not part of `make test`: the
weights are committed.
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
from course_lib.pretrained import METRICS_PATH, TOKENIZER_PATH, WEIGHTS, load_tokenizer
from course_lib.runtime import get_device, set_seed
from course_lib.tokenizer import SPECIAL_TOKENS, WordTokenizer

ENCODER_CFG = dict(d_model=64, n_heads=4, n_layers=4, d_ff=256, max_len=128, causal=False)
DECODER_CFG = dict(d_model=64, n_heads=4, n_layers=4, d_ff=256, max_len=256, causal=True)


def mask_tokens(ids, tok, p=0.15, generator=None):
    """BERT masking: choose 15% of real tokens; 80% -> [MASK], 10% random, 10% kept."""
    special = ids < len(SPECIAL_TOKENS)
    chosen = (torch.rand(ids.shape, generator=generator) < p) & ~special
    labels = torch.where(chosen, ids, torch.full_like(ids, -100))
    r = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (r < 0.8)] = tok.mask_id
    rand_ids = torch.randint(len(SPECIAL_TOKENS), len(tok), ids.shape, generator=generator)
    swap = chosen & (r >= 0.8) & (r < 0.9)
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


def train(model, epoch, loss_of, steps, lr, name):
    """AdamW (weight decay 0.01) for `steps` optimizer steps over `epoch()` (one pass of batches,
    repeated as often as needed), gradients clipped at norm 1. Both models train with it."""
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    start, step = time.perf_counter(), 0
    while step < steps:
        for batch in epoch():
            for g in opt.param_groups:
                g["lr"] = learning_rate(step, steps, lr)
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


def train_encoder(tok, steps, seed=0, batch_size=64, lr=2e-3):
    set_seed(seed)
    lines = load_corpus("pretrain")
    device = get_device()
    model = Encoder(TransformerConfig(vocab_size=len(tok), **ENCODER_CFG)).to(device).train()
    gen, rng = torch.Generator().manual_seed(seed), random.Random(seed)

    def mlm_loss(model, batch):
        inputs, labels = mask_tokens(batch["input_ids"], tok, generator=gen)
        inputs, labels = inputs.to(device), labels.to(device)
        hidden = model(input_ids=inputs, attention_mask=batch["attention_mask"].to(device),
                       return_logits=False)["hidden"]                 # (B, T, d)
        keep = labels != -100                        # the LM head only where it is scored
        return F.cross_entropy(model.lm_head(hidden[keep]), labels[keep])

    epoch = lambda: encoder_batches(tok, lines, batch_size, ENCODER_CFG["max_len"], rng)
    metrics = train(model, epoch, mlm_loss, steps, lr, "encoder")
    return model.eval(), {**metrics, "mlm_accuracy": mlm_accuracy(model, tok)}


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


def train_decoder(tok, steps, seed=0, batch_size=16, lr=2e-3):
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
    return model.eval(), {**metrics, "valid_perplexity": perplexity(model, tok)}


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


def save(kind, model, metrics):
    state = {k: (v.half() if v.is_floating_point() else v).cpu()
             for k, v in model.state_dict().items()}
    torch.save({"config": model.config.to_dict(), "state_dict": state}, WEIGHTS[kind])
    all_metrics = json.loads(METRICS_PATH.read_text()) if METRICS_PATH.exists() else {}
    machine = (torch.cuda.get_device_name(0) if model.device.type == "cuda"
               else f"{platform.machine()} CPU, {torch.get_num_threads()} threads")
    all_metrics[kind] = {**metrics, "config": model.config.to_dict(),
                         "parameters": sum(p.numel() for p in model.parameters()),
                         "machine": machine, "torch": torch.__version__}
    METRICS_PATH.write_text(json.dumps(all_metrics, indent=2) + "\n")
    print(kind, json.dumps(all_metrics[kind]))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("what", choices=["tokenizer", "encoder", "decoder", "all"])
    ap.add_argument("--steps", type=int, default=None,
                    help="optimizer steps per model (default: encoder 6000, decoder 4000)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.what in ("tokenizer", "all") or not TOKENIZER_PATH.exists():
        WordTokenizer.train(load_corpus("pretrain"), min_freq=3).save(TOKENIZER_PATH)
        print("tokenizer:", len(load_tokenizer()), "entries")
    tok = load_tokenizer()
    if args.what in ("encoder", "all"):
        save("encoder", *train_encoder(tok, args.steps or 6000, args.seed))
    if args.what in ("decoder", "all"):
        save("decoder", *train_decoder(tok, args.steps or 4000, args.seed))


if __name__ == "__main__":
    main()
