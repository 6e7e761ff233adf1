# %% [markdown]
# # Part 1a: Classification with [CLS] and with [MASK]: prompts and verbalizers
#
# **Lecture 11, Model Efficiency: parameter-efficient fine-tuning.** Before any parameter is
# trained, a pre-trained *masked* language model can already classify: write the input into a
# sentence with one [MASK] (a **prompt**), and read which **label word** the model would put
# there. You will build this [MASK] classifier, measure it zero-shot, see how fragile
# hand-written prompts are, correct a prompt's bias without training, and compare how many
# labelled examples a prompt and a [CLS] classifier need.
#
# | | |
# |---|---|
# | You will write | `verbalizer_scores`, `verbalizer_probs`, `PromptClassifier`, `calibrate` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 40 minutes of work; run top to bottom, the notebook takes about 30 s on a 2-core laptop CPU (measured; cells that take longer than a few seconds show a progress bar) |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("you read the scores at the [CLS] position").
# When your notebook is graded, hidden tests run your code on random inputs and compare it with
# the reference. Do not rename the functions and classes you are asked to write.

# %% [setup]
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_lib import measure, plotting, widgets
from course_lib.checks.prompting import (check_calibrate, check_prompt_classifier,
                                         check_verbalizer_probs, check_verbalizer_scores)
from course_lib.datasets import TOPICS, few_shot, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.prompts import mask_position, template
from course_lib.runtime import get_device, set_seed
from course_lib.training import evaluate, make_batches, train_classifier

# %% [markdown]
# ## 1. The task: topic classification
#
# The lecture's running example: four topics, C1 Sports, C2 Finance, C3 Technology, C4 Health.
# Our data set has 600 training sentences per topic (with 4 % label noise), 100 clean dev and
# 200 clean test sentences per topic; the lecture's four sentences are among the test sentences.

# %%
set_seed(0)
tok = load_tokenizer()
train, dev, test = load_topic("train"), load_topic("dev"), load_topic("test")
LECTURE = ["The Houston Rockets won an intense overtime game",
           "Bitcoin hit a new all-time high this week",
           "Tesla launched a new self-driving software update",
           "Flu cases are rising in several major cities"]
lecture_examples = [ex for text in LECTURE for ex in test if ex.text.rstrip(".") == text]
print(f"{len(train)} training, {len(dev)} dev and {len(test)} test sentences; topics {TOPICS}")
for ex in lecture_examples:
    print(f"  {ex.text:<52} C{ex.topic + 1} {TOPICS[ex.topic]}")

# %% [markdown]
# ## 2. Classification with the [CLS] embedding
#
# The recipe of the previous lectures: take the pre-trained encoder's embedding of the [CLS]
# token, $h_{\texttt{[CLS]}} \in \mathbb{R}^d$, and put a **new** linear classifier on top,
#
# $$P(c \mid x) = \mathrm{softmax}(W h_{\texttt{[CLS]}} + b)_c,
# \qquad W \in \mathbb{R}^{4 \times d}.$$
#
# `W` and `b` start random: the pre-trained model knows nothing about them, so they must be
# learned from labelled examples. Two ways to train:
#
# * **linear probe**: freeze the encoder and train only $W, b$ ($4d + 4 = 260$ numbers);
# * **full fine-tuning**: train everything (about 0.3M numbers here, 125M for RoBERTa-base).
#
# **The training loop, once in the open.** Every notebook of this lecture trains with the same
# loop, `course_lib.training.train_classifier`. Here it is written out for the linear probe, so
# you can see what "frozen" means in code: a frozen parameter has `requires_grad = False`, the
# backward pass stores no gradient for it, and the optimizer is given only the parameters that
# require a gradient, so AdamW keeps its two running averages (`exp_avg`, `exp_avg_sq`) for
# those alone. That is where parameter-efficient fine-tuning saves memory: the **gradients and
# the optimizer state** of the frozen weights, three numbers per weight with AdamW. It does not
# save the **activations**: backpropagation needs the stored input of every layer a gradient
# passes through, and for prompts, adapters and LoRA (Parts 1b to 1d), whose trainable weights
# sit inside or below the frozen layers, that is every layer, as in full fine-tuning. The linear
# probe is the exception: its only trainable weights are on top, nothing below them needs a
# gradient, so autograd records nothing inside the encoder.

# %% [skip-grading]
EPOCHS, LR_FULL, LR_PROBE, BATCH = 2, 1e-3, 1e-2, 32
encoder = load_encoder()
print(f"pre-trained encoder: {measure.count_parameters(encoder):,} parameters, "
      f"{measure.format_bytes(measure.model_size_bytes(encoder))} in fp32")

set_seed(0)
probe = CLSClassifier(load_encoder(), num_labels=len(TOPICS)).to(get_device())
for p in probe.encoder.parameters():
    p.requires_grad = False                        # frozen: no gradient, no optimizer state
trainable = [p for p in probe.parameters() if p.requires_grad]            # W (4, d) and b (4,)
opt = torch.optim.AdamW(trainable, lr=LR_PROBE)
probe.train()                                      # dropout on, as in any training
start = time.perf_counter()
for epoch in tqdm(range(EPOCHS), desc="linear probe, epochs"):
    for batch in make_batches(tok, train, BATCH, shuffle=True, seed=epoch):
        logits = probe(input_ids=batch["input_ids"],
                       attention_mask=batch["attention_mask"])            # (B, 4)
        loss = F.cross_entropy(logits, batch["labels"])                  # -log P(y | x)
        opt.zero_grad()
        loss.backward()                            # gradients reach W and b only
        opt.step()                                 # AdamW updates W and b only
probe.eval()
probe_seconds = time.perf_counter() - start
probe_acc = evaluate(probe, tok, test)
adam_numbers = sum(t.numel() for state in opt.state.values() for t in state.values()
                   if t.dim() > 0)                 # exp_avg and exp_avg_sq of each parameter
print(f"AdamW keeps {adam_numbers:,} numbers of state: 2 per trainable number "
      f"({measure.count_parameters(probe, True):,} trainable)")

full = CLSClassifier(load_encoder(), num_labels=len(TOPICS))     # nothing frozen
full_run = train_classifier(full, tok, train, epochs=EPOCHS, lr=LR_FULL, seed=0)  # same loop
full_acc = evaluate(full, tok, test)
plotting.show_table(
    ["[CLS] classifier", "Trainable parameters", "AdamW state", "Test accuracy", "Training time"],
    [("Linear probe (encoder frozen)", f"{measure.count_parameters(probe, True):,}",
      f"{adam_numbers:,}", f"{probe_acc:.1%}", f"{probe_seconds:.1f} s"),
     ("Full fine-tuning", f"{measure.count_parameters(full, True):,}",
      f"{2 * measure.count_parameters(full, True):,}", f"{full_acc:.1%}",
      f"{full_run['seconds']:.1f} s")],
    title=f"{len(train)} training sentences, {EPOCHS} epochs")

# %% [markdown]
# Both work, but both start from a classifier that knows nothing: without labelled examples
# $W$ is random and the accuracy is chance (25 %). Yet the pre-trained model *was* trained to
# fill in blanks, and "sports", "finance", "technology" and "health" are words it knows.
#
# ## 3. Classification with the [MASK] embedding
#
# Instead of a new classifier, reuse the model's own masked-language-model head. Write the
# input $x$ into a **pattern** $P(x)$ that holds exactly one [MASK]:
#
# $$P(x) = \texttt{[CLS]}\ x\ \text{What is the topic?}\ \texttt{[MASK]}$$
#
# and ask the MLM which word belongs at the [MASK]. Patterns are written as in the lecture's
# tables, with `[X]` where the input goes. Two small helpers of `course_lib.prompts` do the
# plumbing: `template(pattern)` turns a pattern into a function $x \mapsto P(x)$, and
# `mask_position(input_ids, mask_id)` finds the index $t$ of the [MASK] in each row (it differs
# from row to row, because sentences have different lengths) and raises `ValueError` for a row
# with no [MASK] or more than one.

# %%
LECTURE_PROMPT = "[X] What is the topic? [MASK]"
P = template(LECTURE_PROMPT)
batch = tok.batch([P(x) for x in LECTURE])
print("[CLS]", P(LECTURE[0]))
print("tokens:", tok.tokenize(P(LECTURE[0])))
print("mask_position:", mask_position(batch["input_ids"], tok.mask_id).tolist())

# %% [markdown]
# ## 4. The verbalizer: from words to labels
#
# A **verbalizer** $v$ maps each label to one word of the vocabulary:
# $v(\text{Sports}) = $ "sports", ..., $v(\text{Health}) = $ "health". The score of label $l$
# is the MLM's logit of the word $v(l)$ at the mask position $t$ (Schick & Schütze 2021, PET):
#
# $$s(l \mid x) = \big[\,\text{MLM}(P(x))\,\big]_{t,\ v(l)},
# \qquad
# P(l \mid x) = \frac{\exp s(l \mid x)}{\sum_{l'} \exp s(l' \mid x)} .$$
#
# The probabilities are a softmax over the **label words only**. The MLM itself spreads its
# probability over all 1,939 words of the vocabulary ("the", ".", "football", ...); the
# verbalizer keeps the four that mean something for the task and renormalises them.
#
# ### Exercise 1 ({{points}} points): `verbalizer_scores`
#
# `mlm_logits` has shape `(B, T, V)` (the encoder's `"logits"` output), `label_word_ids`
# holds the vocabulary ids $v(l)$ **in label order** (column $l$ of the result is label $l$).
# Return the `(B, num_labels)` scores $s(l \mid x)$: the logits at each row's [MASK] (use
# `mask_position`), then the label words' columns.

# %% [solution] id=verbalizer_scores
def verbalizer_scores(mlm_logits: torch.Tensor, input_ids: torch.Tensor, mask_id: int,
                      label_word_ids: torch.Tensor) -> torch.Tensor:
    """s(l|x): the MLM logit of label word v(l) at the [MASK] of each row -> (B, num_labels)."""
    ### BEGIN SOLUTION
    t = mask_position(input_ids, mask_id)                            # (B,)
    rows = torch.arange(mlm_logits.size(0), device=mlm_logits.device)
    at_mask = mlm_logits[rows, t]                                    # (B, V)
    return at_mask[:, label_word_ids]                                # (B, L) in label order
    ### END SOLUTION


# %% [tests] points=3
check_verbalizer_scores(verbalizer_scores)

# %% [markdown]
# ### Exercise 2 ({{points}} points): `verbalizer_probs`
#
# Return $P(l \mid x)$, shape `(B, num_labels)`: a softmax over the label words' scores (you
# may call your `verbalizer_scores`). A common mistake is to take the softmax over the whole
# vocabulary and then pick the label words: those four numbers do not sum to 1 (most of the
# mass sits on other words), so they are not a distribution over labels. The argmax is the
# same, so accuracy would not notice, but the cross-entropy loss of Section 9 would be a
# different one.

# %% [solution] id=verbalizer_probs
def verbalizer_probs(mlm_logits: torch.Tensor, input_ids: torch.Tensor, mask_id: int,
                     label_word_ids: torch.Tensor) -> torch.Tensor:
    """P(l|x) = softmax over the label words of s(l|x) -> (B, num_labels), rows sum to 1."""
    ### BEGIN SOLUTION
    scores = verbalizer_scores(mlm_logits, input_ids, mask_id, label_word_ids)   # (B, L)
    return torch.softmax(scores, dim=-1)                                        # (B, L)
    ### END SOLUTION


# %% [tests] points=2
check_verbalizer_probs(verbalizer_probs)

# %% [markdown]
# Let us ask the pre-trained MLM about the lecture's four sentences with the lecture's
# pattern. First, what it would write at the [MASK] on its own (its top 5 words over the whole
# vocabulary), then the verbalizer's view: $P(l \mid x)$ over the four label words.

# %% [skip-grading]
VERBALIZER = {"Sports": "sports", "Finance": "finance", "Technology": "technology",
              "Health": "health"}
label_word_ids = torch.tensor([tok.token_id(VERBALIZER[c]) for c in TOPICS])   # (L,) v(l)
batch = {k: v.to(get_device()) for k, v in tok.batch([P(x) for x in LECTURE]).items()}
with torch.no_grad():
    mlm_logits = encoder(**batch)["logits"]                                    # (4, T, V)
t = mask_position(batch["input_ids"], tok.mask_id)                             # (4,)
top5 = mlm_logits[torch.arange(len(LECTURE)), t].topk(5).indices.cpu()       # (4, 5)
probs = verbalizer_probs(mlm_logits, batch["input_ids"], tok.mask_id,
                         label_word_ids.to(get_device())).cpu()                # (4, L)
plotting.show_table(
    ["x", "MLM's top 5 words at [MASK]"] + [f"P({c})" for c in TOPICS] + ["Predicted", "Gold"],
    [(x, " ".join(tok.vocab[i] for i in top5[j]), *(f"{q:.2f}" for q in probs[j]),
      TOPICS[int(probs[j].argmax())], TOPICS[ex.topic])
     for j, (x, ex) in enumerate(zip(LECTURE, lecture_examples))],
    title=f"Zero-shot, pattern P(x) = {LECTURE_PROMPT}")

# %% [markdown]
# ## 5. A [MASK] classifier you can evaluate and train
#
# ### Exercise 3 ({{points}} points): `PromptClassifier`
#
# Wrap the pre-trained encoder, the [MASK] id and the verbalizer in an `nn.Module` whose
# `forward(input_ids, attention_mask)` returns the `(B, num_labels)` scores $s(l \mid x)$,
# like `CLSClassifier` returns its logits. Then `training.evaluate` and
# `training.train_classifier` work with it unchanged: they take the pattern as `template=`, and
# cross-entropy on these scores is exactly $-\log P(y \mid x)$ with the softmax over label words.
#
# * Pass `attention_mask` to the encoder (padding must not change a sentence's scores).
# * Nothing is frozen and nothing new is added: every parameter is pre-trained, and all of them
#   train (the scores must carry gradients down to the encoder's first layer).
# * Efficiency: the LM head (a $d \times V$ matrix) is a large part of the compute, and only
#   one position per row needs it. Calling `verbalizer_scores` on the full `(B, T, V)`
#   logits is correct; faster is `self.encoder(..., return_logits=False)["hidden"]`, the hidden
#   state at the mask, then `self.encoder.lm_head` on that `(B, d)` matrix alone.

# %% [solution] id=prompt_classifier
class PromptClassifier(nn.Module):
    """Classification with the [MASK] embedding: s(l|x) = MLM logit of v(l) at the [MASK]."""

    def __init__(self, encoder: nn.Module, mask_id: int, label_word_ids):
        super().__init__()
        self.encoder = encoder
        self.mask_id = mask_id
        self.register_buffer("label_word_ids", torch.as_tensor(label_word_ids, dtype=torch.long))

    def forward(self, input_ids: torch.Tensor, attention_mask=None) -> torch.Tensor:
        ### BEGIN SOLUTION
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              return_logits=False)["hidden"]                 # (B, T, d)
        t = mask_position(input_ids, self.mask_id)                           # (B,)
        h_mask = hidden[torch.arange(hidden.size(0), device=hidden.device), t]  # (B, d)
        logits = self.encoder.lm_head(h_mask)                                # (B, V)
        return logits[:, self.label_word_ids]                               # (B, L)
        ### END SOLUTION


# %% [tests] points=3 case=classifier
check_prompt_classifier(PromptClassifier)

# %% [markdown]
# ## 6. Zero-shot: no labelled example at all
#
# The pre-trained MLM with the lecture's pattern and verbalizer, on all 800 test sentences,
# without a single training step:

# %% [skip-grading]
zero_shot = PromptClassifier(load_encoder(), tok.mask_id, label_word_ids)
zero_acc = evaluate(zero_shot, tok, test, template=P)
print(f"zero-shot accuracy with P(x) = {LECTURE_PROMPT!r}: {zero_acc:.1%} "
      f"(chance: {1 / len(TOPICS):.0%}; linear probe on 2,400 examples: {probe_acc:.1%})")

# %% [markdown]
# With zero labels the [MASK] classifier is well above chance: the label semantics ("sports"
# means Sports) and the pre-trained knowledge do the work. <!-- claim: prompting.zero_shot -->
# But is this pattern a good one?
#
# ## 7. Issues of discrete (hard) prompts
#
# The lecture's table (LAMA, Jiang et al. 2020) changed a few words of a prompt and saw
# precision@1 move from 19.78 to 51.08. Which prompt is best cannot be known in advance, and
# without labelled data it cannot even be measured. We try seven hand-written patterns,
# the lecture's three among them, with the same model and verbalizer, and keep each prompt's
# label probabilities $P(l \mid x)$ for Section 8.

# %% [skip-grading]
PROMPTS = ["[X] is related to [MASK]",                        # the lecture's first [MASK] slide
           "[X] What is the topic? [MASK]",                   # the lecture's pattern
           "Please read this sentence: [X] What is the topic? [MASK]",   # ... and its longer form
           "[X] The topic is [MASK].",
           "[X] This is about [MASK].",
           "[MASK]: [X]",
           "[X] [MASK]"]


@torch.no_grad()
def label_probs(model, examples, prompt):
    """P(l|x) of each example under one prompt (N, L), and the gold labels (N,), on the CPU."""
    probs, gold = [], []
    for batch in make_batches(tok, examples, batch_size=128, template=template(prompt)):
        scores = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        probs.append(torch.softmax(scores, dim=-1).cpu())                 # (B, L)
        gold.append(batch["labels"].cpu())
    return torch.cat(probs), torch.cat(gold)


prompt_results = {}
for prompt in PROMPTS:
    probs, gold = label_probs(zero_shot, test, prompt)                    # (800, L), (800,)
    pred = probs.argmax(-1)
    prompt_results[prompt] = {"probs": probs, "acc": (pred == gold).float().mean().item(),
                              "share": torch.bincount(pred, minlength=len(TOPICS)) / len(pred)}
accs = [prompt_results[p]["acc"] for p in PROMPTS]
spread = max(accs) - min(accs)
plotting.show_table(
    ["Prompt", "Accuracy", "Most predicted label (share)"],
    [(p + ("  (lecture)" if p == LECTURE_PROMPT else ""), f"{r['acc']:.2%}",
      f"{TOPICS[int(r['share'].argmax())]} ({r['share'].max():.0%})")
     for p, r in prompt_results.items()],
    title=f"Zero-shot test accuracy; spread (max - min) = {100 * spread:.1f} points")

# %% [skip-grading]
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3.2))
order = sorted(PROMPTS, key=lambda p: prompt_results[p]["acc"])
ax.barh([p.replace("[X]", "x") + (" (lecture)" if p == LECTURE_PROMPT else "") for p in order],
        [100 * prompt_results[p]["acc"] for p in order],
        color=[plotting.PALETTE[1] if p == LECTURE_PROMPT else plotting.PALETTE[0] for p in order],
        hatch=["///" if p == LECTURE_PROMPT else None for p in order], edgecolor="black")
ax.axvline(100 / len(TOPICS), ls="--", label="chance", **plotting.REFERENCE)
ax.axvline(100 * probe_acc, color="black", ls=":", label="linear probe, 2,400 labels")
ax.set(xlabel="zero-shot test accuracy (%)", title="Same model, same verbalizer, 7 prompts")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()


def describe_prompt(prompt, r):
    shares = ", ".join(f"{c} {s:.0%}" for c, s in zip(TOPICS, r["share"].tolist()))
    return (f"<b>{prompt}</b>: accuracy {r['acc']:.1%}; predicted labels: {shares} "
            f"(the gold labels are 25% each)")


widgets.table_slider(PROMPTS, prompt_results, "prompt", describe_prompt)

# %% [markdown]
# Wording alone moves the accuracy by tens of points. <!-- claim: prompting.sensitivity -->
# The worst prompts are not wrong so much as **biased**: they pull most sentences towards one
# label word (the last column of the table). This is the motivation for learning the prompt
# instead (soft prompt tuning, the next notebook). A bias can also be removed without any
# training, which is the next exercise.
#
# ## 8. Calibration: removing a prompt's bias without labels
#
# A pattern makes some label words likely *a priori*, whatever $x$ says. Call that prior
# $\bar p(l)$, the prompt's average belief in label $l$. **Calibration** (Zhao et al. 2021)
# divides it out and renormalises:
#
# $$\hat P(l \mid x) = \frac{P(l \mid x) / \bar p(l)}{\sum_{l'} P(l' \mid x) / \bar p(l')} .$$
#
# Two ways to estimate $\bar p$ without a single label: the prediction for a *content-free*
# input such as "N/A" (Zhao et al. 2021), or the mean of $P(\cdot \mid x)$ over unlabelled
# sentences of the task (batch calibration, Zhou et al. 2024). We use the dev sentences,
# without their labels.
#
# ### Exercise 4 ({{points}} points): `calibrate`
#
# Write `calibrate(probs, prior)`: `probs` is `(B, L)`, each row a distribution $P(\cdot \mid
# x)$; `prior` is `(L,)` with positive entries, not necessarily summing to 1 (only its ratios
# matter). Return the `(B, L)` calibrated distributions $\hat P$; each row sums to 1.

# %% [solution] id=calibrate
def calibrate(probs: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
    """Calibrated P(l|x) / p_bar(l), renormalised over the labels -> (B, L), rows sum to 1."""
    ### BEGIN SOLUTION
    scaled = probs / prior                                           # (B, L): P(l|x) / p_bar(l)
    return scaled / scaled.sum(dim=-1, keepdim=True)                 # (B, L), rows sum to 1
    ### END SOLUTION


# %% [tests] points=2
check_calibrate(calibrate)

# %% [markdown]
# Each of the seven prompts, calibrated with both priors (accuracy on the same 800 test
# sentences):

# %% [skip-grading]
gold = torch.tensor([ex.topic for ex in test])
calibrated = {}
for prompt, r in prompt_results.items():
    null = {k: v.to(get_device()) for k, v in tok.batch([template(prompt)("N/A")]).items()}
    with torch.no_grad():
        prior_null = torch.softmax(zero_shot(**null), dim=-1)[0].cpu()    # (L,) p(l | "N/A")
    prior_dev = label_probs(zero_shot, dev, prompt)[0].mean(dim=0)        # (L,) mean over dev
    acc = lambda p: (p.argmax(-1) == gold).float().mean().item()
    calibrated[prompt] = (r["acc"], acc(calibrate(r["probs"], prior_null)),
                          acc(calibrate(r["probs"], prior_dev)))
plotting.show_table(
    ["Prompt", "Zero-shot", "Calibrated by 'N/A'", "Calibrated by the dev mean"],
    [(p, *(f"{a:.1%}" for a in accs3)) for p, accs3 in calibrated.items()],
    title="Zero-shot test accuracy before and after calibration (no labels used)")
raised = sum(c[2] > c[0] for c in calibrated.values())
print(f"the dev-mean prior raises {raised} of {len(PROMPTS)} prompts; the 'N/A' prior raises "
      f"{sum(c[1] > c[0] for c in calibrated.values())}")

# %% [markdown]
# Dividing by the mean prediction over unlabelled dev sentences raises the accuracy of every
# one of the seven prompts. <!-- claim: prompting.calibration --> A single content-free input
# is a noisier estimate of the prior: for some patterns it helps, for others it hurts (compare
# the two middle columns). Calibration removes a bias; it cannot add knowledge the pattern does
# not reach, so the spread between prompts remains.
#
# ## 9. Prompts need fewer training examples
#
# A pattern and a verbalizer are also a better *starting point for training*. Prompt-based
# fine-tuning (PET) trains the whole MLM with cross-entropy on $P(l \mid x)$; nothing is new,
# so training starts from a classifier that already works. The [CLS] classifier starts from a
# random $W$. We train both on $k$ labelled sentences per topic ($k = 4, 16, 64$, and all 600),
# with the same optimiser, batch size and number of steps, and test on the same 800 sentences.
# The learning rates differ: $10^{-3}$ for the [CLS] classifier (that of Section 2) and
# $10^{-4}$ for PET, which fine-tunes every weight of a model that already classifies, head
# included. So the two runs differ in their learning rate as well as in their start.

# %% [skip-grading]
SHOTS = [4, 16, 64]
EPOCHS_FEW = {4: 10, 16: 10, 64: 4}              # 10, 40 and 64 steps of 16 sentences
LR_PROMPT = 1e-4
few = {"[CLS] fine-tuning": {}, "prompt fine-tuning (PET)": {}}
for k in tqdm(SHOTS, desc="examples per topic"):
    subset = few_shot(train, k, seed=0)
    set_seed(0)
    cls_model = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
    train_classifier(cls_model, tok, subset, epochs=EPOCHS_FEW[k], lr=LR_FULL, batch_size=16,
                     seed=0, progress=False)
    few["[CLS] fine-tuning"][k] = evaluate(cls_model, tok, test)
    pet = PromptClassifier(load_encoder(), tok.mask_id, label_word_ids)
    train_classifier(pet, tok, subset, epochs=EPOCHS_FEW[k], lr=LR_PROMPT, batch_size=16,
                     template=P, seed=0, progress=False)
    few["prompt fine-tuning (PET)"][k] = evaluate(pet, tok, test, template=P)

# all 600 per class: the [CLS] run of Section 2, and one epoch of prompt fine-tuning
pet_all = PromptClassifier(load_encoder(), tok.mask_id, label_word_ids)
pet_run = train_classifier(pet_all, tok, train, epochs=1, lr=LR_PROMPT, template=P, seed=0)
few["[CLS] fine-tuning"][600] = full_acc
few["prompt fine-tuning (PET)"][600] = evaluate(pet_all, tok, test, template=P)
SHOTS_ALL = SHOTS + [600]
plotting.show_table(
    ["Labelled examples per topic"] + [str(k) for k in SHOTS_ALL],
    [(name, *(f"{acc[k]:.1%}" for k in SHOTS_ALL)) for name, acc in few.items()]
    + [("zero-shot prompt (no training)", *([f"{zero_acc:.1%}"] * len(SHOTS_ALL)))],
    title="Test accuracy (one draw of the examples, seed 0)")

# %% [skip-grading]
fig = plotting.line_plot(SHOTS_ALL, {n: [100 * a[k] for k in SHOTS_ALL] for n, a in few.items()},
                         xlabel="labelled examples per topic (log scale)",
                         ylabel="test accuracy (%)", title="Fewer examples with a prompt",
                         logx=True)
ax = fig.axes[0]
ax.axhline(100 * zero_acc, color=plotting.PALETTE[2], ls="--", label="zero-shot prompt")
ax.axhline(100 / len(TOPICS), ls=":", label="chance", **plotting.REFERENCE)
ax.set_xticks(SHOTS_ALL, [str(k) for k in SHOTS_ALL])
ax.legend(fontsize=8)

# %% [markdown]
# With 4 and 16 examples per topic the prompt-based model is far ahead: it starts at the
# zero-shot accuracy and only has to adjust, while the [CLS] classifier must learn $W$ from
# scratch. <!-- claim: prompting.few_shot --> By 64 examples per topic the gap has closed: the
# two are within 2 points. <!-- claim: prompting.gap_closes --> When labels are plentiful, how
# you start matters less; with all 600 per topic the [CLS] classifier, trained two epochs to
# PET's one, ends ahead. <!-- claim: prompting.cls_at_600 -->
#
# ## Summary
#
# * **[CLS] classification** puts a new, random classifier $W h_{\texttt{[CLS]}} + b$ on the
#   encoder: it needs labelled examples before it predicts anything. Freezing the encoder
#   (a linear probe) means no gradient and no AdamW state for its parameters.
# * **[MASK] classification** writes $x$ into a pattern with one [MASK] and scores each label by
#   the MLM logit of its label word at the mask, $s(l \mid x)$; $P(l \mid x)$ is a softmax over
#   the label words only.
# * It uses label semantics and pre-trained knowledge: **zero-shot** predictions above chance,
#   and **fewer examples** to fine-tune.
# * **Hard prompts are fragile**: the wording changes the accuracy by tens of points, and the
#   best wording cannot be found without labelled data. Part of the damage is a bias towards
#   one label word, which calibration divides out without labels. Next: let the model learn
#   the prompt.
#
# ## Exercises
#
# 1. Give each topic two label words (for Sports, "sports" and "game") and score a label by
#    the mean of its words' logits. Does the lecture's pattern gain accuracy zero-shot?
# 2. Calibrate with other content-free inputs ("", "[MASK]" would not do: why?). How much do
#    the three priors of a prompt differ?
# 3. Section 9 uses one draw of the $k$ examples. Repeat with seeds 1 and 2: how large is the
#    spread between draws at $k = 4$, and does the ordering of the two methods change?
# 4. Which pattern wins depends on what the pre-training text looked like. Read
#    `course_lib/data/DATA_CARD.md` and form a hypothesis for why `[MASK]: [X]` does well here.
#
# <details><summary>Answers</summary>
#
# 1. Write `label_word_ids` as a `(L, 2)` tensor and average the gathered logits over the last
#    axis; measure it with `evaluate` as in Section 6. Several words per label lower the
#    variance of a single word's logit, but a word that is frequent for another topic can
#    also add bias: only the measurement tells.
# 2. An empty input leaves the pattern alone; "[MASK]" would put a second [MASK] into the
#    pattern, which `mask_position` rejects. Print `prior_null` for each input: the further
#    the priors are apart, the less one content-free input can be trusted.
# 3. Change `seed=0` in `few_shot` and `set_seed`; with 4 examples per topic a draw can hold
#    unusual sentences, so expect several points between draws.
# 4. The card says some pre-training lines carry a label-word cue ("Sports: ..."); a pattern
#    of the same shape asks the model a question it has seen answered during pre-training.
#
# </details>
#
# **Check yourself.** (1) Why is the [CLS] classifier at chance before training, but the
# [MASK] classifier is not? (2) Softmax over the vocabulary then picking the label words gives
# the same predictions as the softmax over label words: why, and why is it still wrong as a
# training loss? (3) What happens with a verbalizer whose label word is not a single token of
# the vocabulary? (4) Why can a prompt be "biased" towards one label, and what does
# calibration assume about the prior? (5) Why does a linear probe need less optimizer memory
# than full fine-tuning?
#
# <details><summary>Answers</summary>
#
# (1) $W$ is random, while the MLM head and the label words are pre-trained. (2) Softmax is
# monotone and both share the numerator, but the four vocabulary probabilities do not sum to
# 1, so the loss also pushes down unrelated words. (3) You need a rule for several tokens
# (several masks, or average their scores). (4) The pattern makes one word likely a priori;
# calibration assumes the prior is the same for every input, so dividing by it leaves what
# $x$ contributes. (5) AdamW keeps two numbers per *trainable* parameter; frozen ones have
# neither gradients nor optimizer state.
#
# </details>
