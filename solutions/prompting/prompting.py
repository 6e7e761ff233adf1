# %% [markdown]
# # Part 1a: Classification with [CLS] and with [MASK]: prompts and verbalizers
#
# **Lecture 11, Model Efficiency: parameter-efficient fine-tuning.** Before any parameter is
# trained, a pre-trained *masked* language model can already classify: write the input into a
# sentence with one [MASK] (a **prompt**), and read which **label word** the model would put
# there. You will build this [MASK] classifier, measure it zero-shot, see how fragile
# hand-written prompts are, and show that prompts need fewer labelled examples than a [CLS]
# classifier.
#
# | | |
# |---|---|
# | You will write | `mask_position`, `verbalizer_scores`, `verbalizer_probs`, `PromptClassifier` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 40 minutes; every cell runs in seconds on a laptop CPU |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("you read the scores at the [CLS] position").
# When your notebook is graded, hidden tests run your code on random inputs and compare it with
# the reference. Do not rename the functions and classes you are asked to write.

# %% [setup]
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib import measure, plotting, widgets
from course_lib.checks.prompting import (check_mask_position, check_prompt_classifier,
                                         check_verbalizer_probs, check_verbalizer_scores)
from course_lib.datasets import TOPICS, few_shot, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import get_device, set_seed
from course_lib.training import evaluate, predict, train_classifier

# %% [markdown]
# ## 1. The task: topic classification
#
# The lecture's running example: four topics, C1 Sports, C2 Finance, C3 Technology, C4 Health.
# Our data set has 600 training sentences per topic (with 4 % label noise) and 200 clean test
# sentences per topic; the lecture's four sentences are among the test sentences.

# %%
set_seed(0)
tok = load_tokenizer()
train, test = load_topic("train"), load_topic("test")
LECTURE = ["The Houston Rockets won an intense overtime game",
           "Bitcoin hit a new all-time high this week",
           "Tesla launched a new self-driving software update",
           "Flu cases are rising in several major cities"]
lecture_examples = [ex for text in LECTURE for ex in test if ex.text.rstrip(".") == text]
print(f"{len(train)} training and {len(test)} test sentences; topics {TOPICS}")
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

# %% [skip-grading]
EPOCHS, LR_FULL, LR_PROBE = 3, 1e-3, 1e-2
encoder = load_encoder()
print(f"pre-trained encoder: {measure.count_parameters(encoder):,} parameters, "
      f"{measure.format_bytes(measure.model_size_bytes(encoder))} in fp32")

probe = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
for p in probe.encoder.parameters():
    p.requires_grad = False                              # linear probe: only W and b train
probe_run = train_classifier(probe, tok, train, epochs=EPOCHS, lr=LR_PROBE, seed=0)
probe_acc = evaluate(probe, tok, test)

full = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
full_run = train_classifier(full, tok, train, epochs=EPOCHS, lr=LR_FULL, seed=0)
full_acc = evaluate(full, tok, test)
plotting.show_table(
    ["[CLS] classifier", "Trainable parameters", "Test accuracy", "Training time"],
    [("Linear probe (encoder frozen)", f"{measure.count_parameters(probe, True):,}",
      f"{probe_acc:.1%}", f"{probe_run['seconds']:.1f} s"),
     ("Full fine-tuning", f"{measure.count_parameters(full, True):,}",
      f"{full_acc:.1%}", f"{full_run['seconds']:.1f} s")],
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
# and ask the MLM which word belongs at the [MASK]. The first step is to find where the
# [MASK] is: its index differs from row to row, because sentences have different lengths.
#
# ### Exercise 1 ({{points}} points): `mask_position`
#
# Write `mask_position(input_ids, mask_id)`: for `input_ids` of shape `(B, T)` return a
# `(B,)` tensor of integers, the index $t$ of the single [MASK] in each row. If a row has no
# [MASK] or more than one, raise `ValueError` with a message naming the row (`"row 3 has 0
# [MASK] tokens"`): a pattern has exactly one, and a silent wrong index would be a bug that
# only shows as a bad accuracy. Do not loop over positions; one loop over rows to build the
# error message is fine.

# %% [solution] id=mask_position
def mask_position(input_ids: torch.Tensor, mask_id: int) -> torch.Tensor:
    """Index of the one [MASK] in each row of input_ids (B, T) -> (B,)."""
    ### BEGIN SOLUTION
    is_mask = input_ids == mask_id                                   # (B, T)
    counts = is_mask.sum(dim=1)                                      # (B,)
    for row, count in enumerate(counts.tolist()):
        if count != 1:
            raise ValueError(f"row {row} has {count} [MASK] tokens; a pattern needs exactly one")
    return is_mask.long().argmax(dim=1)                              # (B,) the only True
    ### END SOLUTION


# %% [tests] id=test_mask_position points=2
check_mask_position(mask_position)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("prompting.mask_position", mask_position=mask_position)
### END HIDDEN TESTS

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
# ### Exercise 2 ({{points}} points): `verbalizer_scores`
#
# `mlm_logits` has shape `(B, T, V)` (the encoder's `"logits"` output), `label_word_ids`
# holds the vocabulary ids $v(l)$ **in label order** (column $l$ of the result is label $l$).
# Return the `(B, num_labels)` scores $s(l \mid x)$. Use your `mask_position`.

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


# %% [tests] id=test_verbalizer_scores points=3
check_verbalizer_scores(verbalizer_scores)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("prompting.verbalizer_scores", verbalizer_scores=verbalizer_scores)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3 ({{points}} points): `verbalizer_probs`
#
# Return $P(l \mid x)$, shape `(B, num_labels)`: a softmax over the label words' scores. A
# common mistake is to take the softmax over the whole vocabulary and then pick the label
# words: those four numbers do not sum to 1 (most of the mass sits on other words), so they
# are not a distribution over labels. The argmax is the same, so accuracy would not notice,
# but the cross-entropy loss of Section 7 would be a different one.

# %% [solution] id=verbalizer_probs
def verbalizer_probs(mlm_logits: torch.Tensor, input_ids: torch.Tensor, mask_id: int,
                     label_word_ids: torch.Tensor) -> torch.Tensor:
    """P(l|x) = softmax over the label words of s(l|x) -> (B, num_labels), rows sum to 1."""
    ### BEGIN SOLUTION
    scores = verbalizer_scores(mlm_logits, input_ids, mask_id, label_word_ids)   # (B, L)
    return torch.softmax(scores, dim=-1)                                        # (B, L)
    ### END SOLUTION


# %% [tests] id=test_verbalizer_probs points=2
check_verbalizer_probs(verbalizer_probs)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("prompting.verbalizer_probs", verbalizer_probs=verbalizer_probs)
### END HIDDEN TESTS

# %% [markdown]
# Let us ask the pre-trained MLM about the lecture's four sentences with the lecture's
# pattern. First, what it would write at the [MASK] on its own (its top 5 words over the whole
# vocabulary), then the verbalizer's view: $P(l \mid x)$ over the four label words.

# %% [skip-grading]
VERBALIZER = {"Sports": "sports", "Finance": "finance", "Technology": "technology",
              "Health": "health"}
label_word_ids = torch.tensor([tok.token_id(VERBALIZER[c]) for c in TOPICS])   # (L,) v(l)


def pattern(prompt: str):
    """'[X] What is the topic? [MASK]' -> a function text -> P(text)."""
    return lambda x: prompt.replace("[X]", x.rstrip("."))


LECTURE_PROMPT = "[X] What is the topic? [MASK]"
P = pattern(LECTURE_PROMPT)
batch = {k: v.to(get_device()) for k, v in tok.batch([P(x) for x in LECTURE]).items()}
with torch.no_grad():
    mlm_logits = encoder(**batch)["logits"]                                    # (4, T, V)
t = mask_position(batch["input_ids"], tok.mask_id)                             # (4,)
top5 = mlm_logits[torch.arange(len(LECTURE)), t].topk(5).indices.cpu()       # (4, 5)
probs = verbalizer_probs(mlm_logits, batch["input_ids"], tok.mask_id,
                         label_word_ids.to(get_device())).cpu()                # (4, L)
print("[CLS]", P(LECTURE[0]))
plotting.show_table(
    ["x", "MLM's top 5 words at [MASK]"] + [f"P({c})" for c in TOPICS] + ["Predicted", "Gold"],
    [(x, " ".join(tok.vocab[i] for i in top5[j]), *(f"{q:.2f}" for q in probs[j]),
      TOPICS[int(probs[j].argmax())], TOPICS[ex.topic])
     for j, (x, ex) in enumerate(zip(LECTURE, lecture_examples))],
    title=f"Zero-shot, pattern P(x) = {LECTURE_PROMPT}")

# %% [markdown]
# ## 5. A [MASK] classifier you can evaluate and train
#
# ### Exercise 4 ({{points}} points): `PromptClassifier`
#
# Wrap the pre-trained encoder, the [MASK] id and the verbalizer in an `nn.Module` whose
# `forward(input_ids, attention_mask)` returns the `(B, num_labels)` scores $s(l \mid x)$,
# like `CLSClassifier` returns its logits. Then `training.evaluate` and
# `training.train_classifier` work with it unchanged: they take the pattern as `template=`, and
# cross-entropy on these scores is exactly $-\log P(y \mid x)$ with the softmax over label words.
#
# * Pass `attention_mask` to the encoder (padding must not change a sentence's scores).
# * Nothing is frozen and nothing new is added: every parameter is pre-trained.
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


# %% [tests] id=test_prompt_classifier points=3
check_prompt_classifier(PromptClassifier, verbalizer_scores)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("prompting.classifier", PromptClassifier=PromptClassifier)
### END HIDDEN TESTS

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
# Clearly above chance, with zero labels: the label semantics ("sports" means Sports) and the
# pre-trained knowledge do the work. But is this pattern a good one?
#
# ## 7. Issues of discrete (hard) prompts
#
# The lecture's table (LAMA, Jiang et al. 2020) changed a few words of a prompt and saw
# precision@1 move from 19.78 to 51.08. Which prompt is best cannot be known in advance, and
# without labelled data it cannot even be measured. We try seven hand-written patterns,
# the lecture's three among them, with the same model and verbalizer.

# %% [skip-grading]
PROMPTS = ["[X] is related to [MASK]",                        # the lecture's first [MASK] slide
           "[X] What is the topic? [MASK]",                   # the lecture's pattern
           "Please read this sentence: [X] What is the topic? [MASK]",   # ... and its longer form
           "[X] The topic is [MASK].",
           "[X] This is about [MASK].",
           "[MASK]: [X]",
           "[X] [MASK]"]
prompt_results = {}
for prompt in PROMPTS:
    pred, gold = predict(zero_shot, tok, test, template=pattern(prompt))
    prompt_results[prompt] = {"acc": (pred == gold).float().mean().item(),
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
ax.barh([p.replace("[X]", "x") for p in order], [100 * prompt_results[p]["acc"] for p in order],
        color=["tab:orange" if p == LECTURE_PROMPT else "tab:blue" for p in order])
ax.axvline(100 / len(TOPICS), color="gray", ls="--", label="chance")
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
# Wording alone moves the accuracy by tens of points, and the worst prompts are not
# wrong so much as **biased**: they pull most sentences towards one label word. This is the
# motivation for learning the prompt instead (soft prompt tuning, the next notebook).
#
# ## 8. Prompts need fewer training examples
#
# A pattern and a verbalizer are also a better *starting point for training*. Prompt-based
# fine-tuning (PET) trains the whole MLM with cross-entropy on $P(l \mid x)$; nothing is new,
# so training starts from a classifier that already works. The [CLS] classifier starts from a
# random $W$. We train both on $k$ labelled sentences per topic ($k = 4, 16, 64$, and all 600),
# with the same optimiser and number of steps, and test on the same 800 sentences.

# %% [skip-grading]
SHOTS = [4, 16, 64]
EPOCHS_FEW = {4: 10, 16: 10, 64: 4}              # 10, 40 and 64 steps of 16 sentences
LR_PROMPT = 1e-4
few = {"[CLS] fine-tuning": {}, "prompt fine-tuning (PET)": {}}
for k in SHOTS:
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
ax.axhline(100 * zero_acc, color="tab:green", ls="--", label="zero-shot prompt")
ax.axhline(100 / len(TOPICS), color="gray", ls=":", label="chance")
ax.set_xticks(SHOTS_ALL, [str(k) for k in SHOTS_ALL])
ax.legend(fontsize=8)

# %% [markdown]
# With a handful of examples the prompt-based model is far ahead: it starts at the zero-shot
# accuracy and only has to adjust, while the [CLS] classifier must learn $W$ from scratch. With
# all 2,400 examples the gap closes: when labels are plentiful, how you start matters less.
#
# ## Summary
#
# * **[CLS] classification** puts a new, random classifier $W h_{\texttt{[CLS]}} + b$ on the
#   encoder: it needs labelled examples before it predicts anything.
# * **[MASK] classification** writes $x$ into a pattern with one [MASK] and scores each label by
#   the MLM logit of its label word at the mask, $s(l \mid x)$; $P(l \mid x)$ is a softmax over
#   the label words only.
# * It uses label semantics and pre-trained knowledge: **zero-shot** predictions well above
#   chance, and **fewer examples** to fine-tune.
# * **Hard prompts are fragile**: the wording changes the accuracy by tens of points, and the
#   best wording cannot be found without labelled data. Next: let the model learn the prompt.
#
# **Check yourself.** (1) Why is the [CLS] classifier at chance before training, but the [MASK]
# classifier is not? (2) Softmax over the vocabulary then picking the label words gives the same
# predictions as the softmax over label words: why, and why is it still wrong as a training
# loss? (3) What happens with a verbalizer whose label word is not a single token of the
# vocabulary? (4) Why can a prompt be "biased" towards one label, and how could you correct it
# without training? *(Answers: $W$ is random, while the MLM head and the label words are
# pre-trained; softmax is monotone and both share the numerator, but the four vocabulary
# probabilities do not sum to 1, so the loss also pushes down unrelated words; you need a rule
# for several tokens (several masks, or average their scores); the pattern makes one word likely
# a priori; divide by the label words' probabilities on a content-free input such as "N/A",
# i.e. calibrate.)*
