# %% [markdown]
# # Part 1c: Adapters
#
# **Lecture 11, Model Efficiency: parameter-efficient fine-tuning.** You will write a bottleneck
# adapter, insert two into every block of a small pre-trained transformer whose own weights stay
# frozen, and then serve two tasks (topic and sentiment) from ONE frozen model by swapping a few
# kilobytes of adapter weights, as on the lecture's Task 1 / Task 2 / Task 3 slide.
#
# | | |
# |---|---|
# | You will write | `Adapter`, `adapter_parameter_count`, `add_adapters`, `task_state`, `load_task_state` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 40 minutes of work; run top to bottom, the notebook takes about 25 s on a 2-core laptop CPU (measured; cells that take longer than a few seconds show a progress bar) |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("your adapter has no internal skip connection").
# When your notebook is graded, hidden tests run your code on random inputs and compare it with
# the reference. Do not rename the functions and classes you are asked to write.

# %% [setup]
import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib import measure, plotting, widgets
from course_lib.checks.adapters import (check_adapter_count, check_adapter_forward,
                                        check_adapter_init, check_add_adapters, check_task_state)
from course_lib.datasets import SENTIMENTS, TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, train_classifier

# %% [markdown]
# ## 1. One frozen model, many tasks
#
# Parameter-efficient fine-tuning keeps the pre-trained weights **frozen** and trains a **small
# subset** of parameters. Adapters (Houlsby et al., 2019) do it by *adding* parameters: a small
# bottleneck network inside every transformer block. Only the adapters (and the new classifier
# head) train; the block's attention and feed-forward weights never change. So one copy of the
# big model can serve many tasks, each with its own small set of adapters.
#
# We use the course's pre-trained encoder (4 layers, $d = 64$) and two tasks on the same
# sentences: the 4-way **topic** task and a 2-way **sentiment** task (positive or negative news).

# %%
set_seed(0)
tok = load_tokenizer()
train, test = load_topic("train"), load_topic("test")
print(f"{len(train)} training and {len(test)} test sentences; topics {TOPICS}, "
      f"sentiments {SENTIMENTS}")
for ex in test[:4]:
    print(f"  {TOPICS[ex.topic]:<11} {SENTIMENTS[ex.sentiment]:<9} {ex.text}")

# %% [markdown]
# ## 2. The bottleneck adapter
#
# An adapter projects the $d$-dimensional hidden state down to $m \ll d$ dimensions, applies a
# nonlinearity $f$, projects back up, and **adds its input back** (an internal skip connection):
#
# $$h \leftarrow h + W_{up}\, f(W_{down}\, h + b_{down}) + b_{up},
# \qquad W_{down} \in \mathbb{R}^{m \times d},\; W_{up} \in \mathbb{R}^{d \times m},
# \qquad m = d / \text{reduction}.$$
#
# Thanks to the skip connection, an adapter with near-zero weights computes almost exactly
# $h \mapsto h$: inserting it leaves the pre-trained model (almost) unchanged, and training
# starts from the pre-trained function. This notebook uses **Houlsby's initialisation**: every weight from a
# normal distribution with standard deviation $10^{-2}$, truncated at two standard deviations
# (`nn.init.trunc_normal_(w, std=1e-2, a=-2e-2, b=2e-2)`; note that `a` and `b` are absolute
# values, not multiples of `std`), and every bias zero. The nonlinearity is $f = \text{ReLU}$.
#
# ### Exercise 1 ({{points}} points): `Adapter`
#
# Write `Adapter(d, reduction)`: store `self.m = d // reduction`, create `self.W_down =
# nn.Linear(d, m)` and `self.W_up = nn.Linear(m, d)` with Houlsby's initialisation, and write
# `forward(h)` for `h` of shape `(..., d)`.

# %% [solution] id=adapter
class Adapter(nn.Module):
    """Bottleneck adapter (Houlsby et al. 2019): h + W_up f(W_down h + b_down) + b_up."""

    def __init__(self, d: int, reduction: int = 16):
        super().__init__()
        if d % reduction != 0:
            raise ValueError(f"d={d} is not divisible by reduction={reduction}")
        ### BEGIN SOLUTION
        self.m = d // reduction
        self.W_down = nn.Linear(d, self.m)                               # (m, d) and b_down (m,)
        self.W_up = nn.Linear(self.m, d)                                 # (d, m) and b_up (d,)
        self.f = nn.ReLU()
        for layer in (self.W_down, self.W_up):                          # near-identity init
            nn.init.trunc_normal_(layer.weight, std=1e-2, a=-2e-2, b=2e-2)
            nn.init.zeros_(layer.bias)
        ### END SOLUTION

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        z = self.f(self.W_down(h))                                       # (..., m)
        return h + self.W_up(z)                                          # (..., d): internal skip
        ### END SOLUTION


# %% [tests] id=test_adapter_init points=2 case=init
check_adapter_init(Adapter)

# %% [tests] id=test_adapter_forward points=2 case=forward
check_adapter_forward(Adapter)

# %% [markdown]
# ### Exercise 2 ({{points}} points): how many parameters?
#
# One adapter holds $W_{down}$ ($dm$), $b_{down}$ ($m$), $W_{up}$ ($md$) and $b_{up}$ ($d$):
# $2dm + d + m$ numbers. Houlsby puts **two** adapters in each layer. Write
# `adapter_parameter_count(d, m, n_layers, per_layer=2)`. Check it against the lecture's table:
# RoBERTa-large ($d = 1024$, 24 layers) with Houlsby adapters trains 6.0M parameters with a large
# bottleneck and 0.8M with a small one. The table does not say which $m$: $m = 8$ gives its
# 0.8M exactly (to one decimal), while $m = 64$ gives 6.3M (6.0M would be $m = 61$), so take
# the large one as "about $m = 64$".

# %% [solution] id=adapter_count
def adapter_parameter_count(d: int, m: int, n_layers: int, per_layer: int = 2) -> int:
    ### BEGIN SOLUTION
    return n_layers * per_layer * (2 * d * m + d + m)
    ### END SOLUTION


# %% [tests] points=1 case=count
check_adapter_count(adapter_parameter_count)

# %% [markdown]
# ## 3. Where the adapters go
#
# Our blocks are pre-LN: $x \leftarrow x + \text{Attn}(\text{LN}(x))$, then
# $x \leftarrow x + \text{FFN}(\text{LN}(x))$. Houlsby inserts one adapter after the attention
# sub-layer and one after the feed-forward sub-layer, on the sub-layer's output **before** it is
# added to the residual stream. course_lib's `Block` has two identity slots exactly there:
#
# $$x \leftarrow x + \texttt{after\_attn}(\text{Attn}(\text{LN}(x))), \qquad
# x \leftarrow x + \texttt{after\_ffn}(\text{FFN}(\text{LN}(x))).$$
#
# The picture: the block's own layers stay frozen; each adapter is a small bottleneck with its
# own skip connection.

# %%
fig = plotting.adapter_in_block()

# %% [markdown]
#
# ### Exercise 3 ({{points}} points): `add_adapters`
#
# Write `add_adapters(model, reduction)`: freeze **every** pre-trained parameter of `model`, and
# put a new `Adapter(d, reduction)` into `block.after_attn` and another into `block.after_ffn`
# of every block in `model.blocks` ($d$ is `model.config.d_model`); afterwards only the
# adapters train. Return the model. (The checks of this exercise run your `add_adapters` with a
# stand-in in place of your `Adapter`, so that its points depend on `add_adapters` alone: call
# the class by its name.)

# %% [solution] id=add_adapters
def add_adapters(model: nn.Module, reduction: int = 16) -> nn.Module:
    ### BEGIN SOLUTION
    for p in model.parameters():
        p.requires_grad = False                                          # the base stays frozen
    d = model.config.d_model
    for block in model.blocks:
        block.after_attn = Adapter(d, reduction)                         # after Attn, before +x
        block.after_ffn = Adapter(d, reduction)                          # after FFN, before +x
    return model
    ### END SOLUTION


# %% [tests] points=3
check_add_adapters(add_adapters)

# %% [markdown]
# **Train the topic adapters.** The [CLS] classifier head is new, so it trains too. With the
# default reduction 16 our adapters have $m = 4$. The learning rate, $5 \cdot 10^{-3}$, is five
# times that of full fine-tuning ($10^{-3}$), as is usual for parameter-efficient methods (Part
# 1d does the same for LoRA). The near-identity start is not the reason: it only makes training
# begin at the pre-trained function, and says nothing about how large a step is safe; the rate
# is an empirical choice.

# %% [skip-grading]
EPOCHS, LR_ADAPTER, REDUCTION = 2, 5e-3, 16
set_seed(0)
encoder = add_adapters(load_encoder(), reduction=REDUCTION)     # ONE frozen encoder for all tasks
topic_clf = CLSClassifier(encoder, num_labels=len(TOPICS))
run_topic = train_classifier(topic_clf, tok, train, epochs=EPOCHS, lr=LR_ADAPTER, seed=0,
                             label="topic")
topic_acc = evaluate(topic_clf, tok, test, label="topic")
n_trainable = measure.count_parameters(topic_clf, trainable_only=True)
n_total = measure.count_parameters(topic_clf)
print(f"topic adapters: test accuracy {topic_acc:.1%}; {n_trainable:,} trainable parameters "
      f"({n_trainable / n_total:.1%} of {n_total:,}); {run_topic['seconds']:.1f} s")

# %% [markdown]
# ## 4. Many tasks, one frozen model
#
# The lecture's picture: Task 1, Task 2 and Task 3 share the same frozen transformer; each task
# owns only its adapters (and its classifier head). To switch task you load that task's small
# state into the shared model.
#
# ### Exercise 4 ({{points}} points): `task_state` and `load_task_state`
#
# * `task_state(model)`: a dict `{name: tensor}` holding a **copy** (`.detach().clone()`) of every
#   **trainable** parameter of `model` (named as in `model.named_parameters()`): exactly what a
#   task has to store.
# * `load_task_state(model, state)`: copy each tensor of `state` into the parameter of the same
#   name (under `torch.no_grad()`); raise a `KeyError` naming any name the model does not have.

# %% [solution] id=task_state
def task_state(model: nn.Module) -> dict:
    ### BEGIN SOLUTION
    return {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    ### END SOLUTION


def load_task_state(model: nn.Module, state: dict) -> None:
    ### BEGIN SOLUTION
    params = dict(model.named_parameters())
    unknown = [name for name in state if name not in params]
    if unknown:
        raise KeyError(f"the model has no parameters named {unknown}")
    with torch.no_grad():
        for name, value in state.items():
            params[name].copy_(value)
    ### END SOLUTION


# %% [tests] points=2
check_task_state(task_state, load_task_state)

# %% [markdown]
# **Task 2: sentiment, on the same frozen encoder.** We save the topic task's state, put fresh
# adapters into the *same* encoder object, and train them (with a 2-way head) on the sentiment
# labels of the same sentences. The pre-trained weights are never touched.

# %% [skip-grading]
topic_state = task_state(topic_clf)                  # adapters + topic head
frozen_before = {n: p.detach().clone() for n, p in encoder.named_parameters()
                 if "after_" not in n}
set_seed(1)
add_adapters(encoder, reduction=REDUCTION)           # fresh adapters for task 2
sent_clf = CLSClassifier(encoder, num_labels=len(SENTIMENTS))
run_sent = train_classifier(sent_clf, tok, train, epochs=EPOCHS, lr=LR_ADAPTER, seed=1,
                            label="sentiment")
sent_state = task_state(sent_clf)                    # adapters + sentiment head
unchanged = all(torch.equal(p, frozen_before[n]) for n, p in encoder.named_parameters()
                if "after_" not in n)
print(f"sentiment adapters trained in {run_sent['seconds']:.1f} s; "
      f"pre-trained weights unchanged: {unchanged}")

# %% [markdown]
# **Swap at inference.** Load one task's state, evaluate, load the other's. The last two rows
# pair a head with the *other* task's adapters, to see whether the adapters carry task
# knowledge.

# %% [skip-grading]
def swapped_accuracy(clf, state, label, adapters_from=None):
    load_task_state(clf, state)
    if adapters_from is not None:                     # put another task's adapters underneath
        load_task_state(clf, {n: t for n, t in adapters_from.items() if "after_" in n})
    return evaluate(clf, tok, test, label=label)

rows = [("Task 1: topic", "topic", swapped_accuracy(topic_clf, topic_state, "topic")),
        ("Task 2: sentiment", "sentiment", swapped_accuracy(sent_clf, sent_state, "sentiment")),
        ("topic head", "sentiment (wrong)",
         swapped_accuracy(topic_clf, topic_state, "topic", adapters_from=sent_state)),
        ("sentiment head", "topic (wrong)",
         swapped_accuracy(sent_clf, sent_state, "sentiment", adapters_from=topic_state))]
plotting.show_table(["Task (head)", "Adapters loaded", "Test accuracy"],
                    [(t, a, f"{acc:.1%}") for t, a, acc in rows],
                    title="One frozen encoder, two adapter sets (chance: 25% topic, 50% sentiment)")

# %% [markdown]
# The sentiment adapters learn their task: at least 10 points above chance (50%), on the same
# frozen encoder as the topic adapters. <!-- claim: adapters.sentiment_learnable --> Under the
# sentiment adapters the topic head loses at least 5 points: the adapters, not only the heads,
# carry what each task learned. <!-- claim: adapters.swap_matters --> The swap costs the
# sentiment head less than it costs the topic head (compare the last two rows with the first
# two). <!-- claim: adapters.sentiment_in_encoder --> Much of the tone is already in the frozen
# encoder's [CLS] state, which the sentiment head reads through either set of adapters: the
# data helper's probe, a linear classifier on the frozen [CLS] state, reaches 82% on sentiment
# (`course_lib/data/pretrain_metrics.json`).
#
# **Where does a frozen encoder get the tone from?** Not from single words. "Shares *rose*" is
# good news and "flu cases *rose*" bad news, and "rose" and "fell" fill the same slots in the
# same sentences, so masked-word prediction gives them nearly the same input embedding: the
# cell below measures a cosine similarity of at least 0.7 for the two.
# <!-- claim: adapters.tone_words_alike --> The tone is in the context, and adapters can use it
# only if the frozen attention layers compute it. An encoder pre-trained on the same kind of
# text without tone cues did not: on it, sentiment adapters stayed at chance
# (`course_lib/data/DATA_CARD.md`, "Tone cues"). The bundled encoder's pre-training text says
# how good or bad each story is for its audience ("It was bad news for investors."), and its
# last stage masks exactly those cue words, so that predicting them means telling the tone of a
# context. Adapters inherit what the frozen model can represent. Full fine-tuning, which moves
# every weight, embeddings included, learns sentiment in the same epochs at least 2 points
# better than the adapters (the cell prints both and the gap).
# <!-- claim: adapters.full_ft_sentiment -->

# %% [skip-grading]
E = load_encoder().embed.tok.weight.detach()                   # (V, d), the frozen embeddings
pairs = [("rose", "fell"), ("surged", "crashed"), ("won", "lost")]
cos = {f"{a} / {b}": F.cosine_similarity(E[tok.token_id(a)], E[tok.token_id(b)], dim=0).item()
       for a, b in pairs}
ids = torch.randint(5, E.shape[0], (200,), generator=torch.Generator().manual_seed(0))
cos["random word pairs (mean)"] = F.cosine_similarity(E[ids][:100], E[ids][100:], dim=1).mean().item()
print("cosine similarity of pre-trained embeddings: "
      + ", ".join(f"{k} {v:.2f}" for k, v in cos.items()))
set_seed(1)
full_sent = CLSClassifier(load_encoder(), num_labels=len(SENTIMENTS))
train_classifier(full_sent, tok, train, epochs=EPOCHS, lr=1e-3, seed=1, label="sentiment")
full_sent_acc = evaluate(full_sent, tok, test, "sentiment")
print(f"sentiment, same epochs: full fine-tuning {full_sent_acc:.1%}, adapters {rows[1][2]:.1%} "
      f"(a gap of {100 * (full_sent_acc - rows[1][2]):.1f} points)")

# %% [markdown]
# ## 5. Storage per task
#
# What must be stored for each new task? With full fine-tuning, a whole copy of the model. With
# adapters, the adapters and the head. With LoRA ($r = 8$ on $W_q$ and $W_v$, Part 1d), the
# matrices $A$ and $B$ and the head: $r(d + k)$ numbers per adapted matrix. All in fp32 (4 bytes).
# The same arithmetic at RoBERTa-base scale ($d = 768$, 12 layers, 125M parameters, $m = 64$)
# shows why this matters for large models.

# %% [skip-grading]
BYTES = 4                                                      # fp32
d, L = encoder.config.d_model, encoder.config.n_layers
full_copy = measure.model_size_bytes(CLSClassifier(load_encoder(), len(TOPICS)))
head_bytes = measure.model_size_bytes(topic_clf.head)
adapter_bytes = measure.model_size_bytes(topic_state)          # adapters + head
lora_bytes = L * 2 * 8 * (d + d) * BYTES + head_bytes          # r=8 on W_q, W_v, by formula
rob_full = 125_000_000 * BYTES
rob_adapter = adapter_parameter_count(768, 64, 12) * BYTES
rob_lora = 12 * 2 * 8 * (768 + 768) * BYTES
storage = [("Full fine-tuning (a copy)", full_copy, rob_full),
           (f"Adapters (m = {d // REDUCTION}; RoBERTa m = 64) + head", adapter_bytes, rob_adapter),
           ("LoRA r = 8 on W_q, W_v + head", lora_bytes, rob_lora)]
plotting.show_table(["Per task", "Our encoder", "share", "RoBERTa-base", "share"],
                    [(name, measure.format_bytes(ours), f"{ours / full_copy:.2%}",
                      measure.format_bytes(rob), f"{rob / rob_full:.2%}")
                     for name, ours, rob in storage],
                    title="Bytes to store per task (fp32)")

# %% [markdown]
# With $N$ tasks, full fine-tuning stores $N$ copies; adapters and LoRA store one frozen model
# plus $N$ small files. Move the slider to pick the number of tasks.

# %% [skip-grading]
n_tasks = [1, 2, 3, 5, 10, 20, 50]
totals = {"full fine-tuning": [n * rob_full for n in n_tasks],
          "adapters (m = 64)": [rob_full + n * rob_adapter for n in n_tasks],
          "LoRA (r = 8)": [rob_full + n * rob_lora for n in n_tasks]}
fig = plotting.line_plot(n_tasks, {k: [b / 2**30 for b in v] for k, v in totals.items()},
                         xlabel="number of tasks", ylabel="total storage (GiB)",
                         title="RoBERTa-base: storage for N tasks", logx=True, logy=True)
widgets.table_slider(n_tasks, {n: {k: v[i] for k, v in totals.items()}
                               for i, n in enumerate(n_tasks)}, "tasks N",
                     lambda n, row: "<br>".join(f"{k}: {measure.format_bytes(b)}"
                                                for k, b in row.items()))

# %% [markdown]
# ## Summary
#
# * An adapter is a bottleneck MLP with an internal skip: $h + W_{up} f(W_{down} h)$, $2dm + d + m$
#   parameters. Near-zero weights make it start near the identity.
# * Houlsby inserts two per block, on each sub-layer's output before the residual add; the
#   pre-trained weights stay frozen.
# * One frozen model serves many tasks: each task stores only its adapters and head (a few KiB
#   here, a few MB for RoBERTa-base instead of 500 MB).
# * Adapters inherit what the frozen model can represent: the sentiment adapters work because
#   pre-training taught the frozen layers to read tone from context (an encoder pre-trained
#   without tone cues left them at chance); full fine-tuning can also move the embeddings.
# * Unlike LoRA, an adapter cannot be merged into the weights (there is a nonlinearity between
#   $W_{down}$ and $W_{up}$): it adds a little latency at inference.
#
# ## Exercises
#
# 1. Insert only one adapter per block (after the FFN, as Pfeiffer et al. do). How many
#    parameters does that save, and what happens to the topic accuracy?
# 2. Change the reduction: $m = 1, 4, 16$. Plot accuracy against trainable parameters.
# 3. Train the sentiment adapters with the embeddings unfrozen too (`encoder.embed.tok.weight
#    .requires_grad = True`). How many points does sentiment gain, and what does a task then
#    have to store?
# 4. Remove the ReLU from your adapter. What can the adapter still represent, and could it now
#    be merged into the weights like LoRA?
#
# <details><summary>Answers</summary>
#
# 1. One adapter per block halves the count: $L (2dm + d + m)$. Measure the accuracy with the
#    training cell of Section 3; the two placements are compared by Pfeiffer et al. (2020).
# 2. `add_adapters(load_encoder(), reduction=64 // m)` for each $m$; use
#    `plotting.accuracy_vs_params` with the counts from `measure.count_parameters`.
# 3. The embedding matrix (tied to the LM head) holds over a third of the encoder's
#    parameters, about 124k numbers, and the task would store it too: most of the storage
#    saving is gone. Expect the gain to come from sentences whose tone hangs on a word like
#    "rose", whose embedding the frozen model shares with its opposite; measure it.
# 4. Without $f$ the adapter is $h + W_{up} W_{down} h$, a linear map of rank at most $m$ added
#    to the identity, the same form as a LoRA update; it could be folded into the next linear
#    layer, but it can no longer represent anything nonlinear.
#
# </details>
#
# **Check yourself.** (1) What does an adapter compute if you forget the internal skip and
# initialise it near zero? (2) Why does inserting the adapter *after* the residual add change
# what it sees? (3) How many parameters do Houlsby adapters with $m = 64$ add to RoBERTa-base?
# (4) Why can't the adapter be folded into $W_o$ like LoRA folds into $W_q$?
#
# <details><summary>Answers</summary>
#
# (1) About zero, so the sub-layer's output is erased at the start. (2) It sees the whole
# residual stream instead of the sub-layer's update. (3) $12 \cdot 2 \cdot 99{,}136 =
# 2{,}379{,}264$. (4) $f$ is not linear.
#
# </details>
