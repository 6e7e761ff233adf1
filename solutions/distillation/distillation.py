# %% [markdown]
# # Part 3c: Knowledge Distillation
#
# **Lecture 11, Model Efficiency: model compression.** Train a small **student** to mimic a large
# **teacher**: the student learns from the data (hard labels) *and* from the teacher's behaviour
# (its softened output distribution). You will write the distillation loss (Hinton et al. 2015),
# build a half-depth student from the teacher's layers (DistilBERT, Sanh et al. 2019), and
# distil a causal language model the way DeepSeek-R1-Distill does: by training on text the teacher
# generates ("copy training data").
#
# | | |
# |---|---|
# | You will write | `distillation_loss`, `init_student_from_teacher`, `generate` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 40 minutes; every cell runs in seconds on a laptop CPU |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("the KL term is not scaled by T^2"). When your
# notebook is graded, hidden tests run your code on random inputs and compare it with the
# reference. Do not rename the functions you are asked to write.

# %% [setup]
import copy
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from course_lib import measure, plotting, widgets
from course_lib.checks.distillation import (check_distillation_loss, check_generate,
                                            check_init_student)
from course_lib.datasets import TOPICS, load_corpus, load_topic
from course_lib.model import CLSClassifier, Encoder, TransformerConfig
from course_lib.pretrained import load_decoder, load_encoder, load_tokenizer
from course_lib.runtime import get_device, set_seed
from course_lib.training import evaluate, train_classifier

# %% [markdown]
# ## 1. Teacher and student
#
# Distillation transfers knowledge from a large model (the **teacher**) to a small one (the
# **student**) while keeping most of the capability: fewer parameters, faster inference. Our
# teacher is the pre-trained encoder fine-tuned on the 4-topic news task (4 layers); the student
# will have 2.

# %% [skip-grading]
set_seed(0)
tok = load_tokenizer()
train, test = load_topic("train"), load_topic("test")
EPOCHS, LR = 3, 1e-3
teacher = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
teacher_run = train_classifier(teacher, tok, train, epochs=EPOCHS, lr=LR, seed=0, progress=False)
teacher.eval()
teacher_acc = evaluate(teacher, tok, test)
print(f"teacher (4 layers): test accuracy {teacher_acc:.1%}, "
      f"{measure.count_parameters(teacher):,} parameters, {teacher_run['seconds']:.1f} s")

# %% [markdown]
# ## 2. Mimic the teacher's behaviour: soft targets
#
# A label says "Finance". The teacher says more: "Finance 0.90, Technology 0.08, ...", and those
# small probabilities tell the student which classes look alike ("dark knowledge"). They are
# tiny at the usual softmax, so Hinton et al. **soften** both distributions with a temperature
# $T$:
#
# $$p_i^{(T)} = \frac{\exp(z_i / T)}{\sum_j \exp(z_j / T)} .$$
#
# $T = 1$ is the ordinary softmax; a larger $T$ flattens it (look at the teacher below).

# %% [skip-grading]
batch = tok.batch([ex.text for ex in test[:3]])
batch = {k: v.to(get_device()) for k, v in batch.items()}
with torch.no_grad():
    z_t = teacher(**batch)                                              # (3, 4) teacher logits
rows = []
for T in (1, 2, 4, 8):
    p = F.softmax(z_t / T, dim=-1)                                      # (3, 4)
    rows.append((f"T = {T}", *[" ".join(f"{v:.2f}" for v in p[i].tolist()) for i in range(3)]))
plotting.show_table(["", *[f"{TOPICS[ex.topic]}: {ex.text[:38]}..." for ex in test[:3]]], rows,
                    title=f"Teacher probabilities over {TOPICS}")

# %% [markdown]
# ### Exercise 1 ({{points}} points): the distillation loss
#
# The student learns from both sources, mixed by $\alpha \in [0, 1]$:
#
# $$\mathcal{L} = \alpha\, T^2\, \mathrm{KL}\big(p^{(T)}_{teacher} \,\|\, p^{(T)}_{student}\big)
#   + (1 - \alpha)\, \mathrm{CE}(z_{student}, y) .$$
#
# * The KL term compares the **softened** distributions (both at $T$), averaged over the batch:
#   $\frac{1}{B}\sum_b \sum_i p^{(T)}_{t,bi} \log \frac{p^{(T)}_{t,bi}}{p^{(T)}_{s,bi}}$. In
#   torch, `F.kl_div(input, target)` wants the **student's log-probabilities** as `input`, the
#   teacher's probabilities as `target`, and `reduction="batchmean"` for this average
#   (`"mean"` would also divide by the number of classes).
# * The gradients of the soft term scale like $1/T^2$; multiplying by $T^2$ keeps its weight
#   independent of $T$.
# * The hard-label cross-entropy uses the student's ordinary logits, **without** $T$.
# * The teacher is fixed: no gradient flows into `teacher_logits`.

# %% [solution] id=distillation_loss
def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                      labels: torch.Tensor, T: float, alpha: float) -> torch.Tensor:
    """alpha T^2 KL(softmax(z_t / T) || softmax(z_s / T)) + (1 - alpha) CE(z_s, y); a scalar."""
    ### BEGIN SOLUTION
    log_p_s = F.log_softmax(student_logits / T, dim=-1)                 # (B, C) student, at T
    p_t = F.softmax(teacher_logits.detach() / T, dim=-1)                # (B, C) teacher, at T
    soft = F.kl_div(log_p_s, p_t, reduction="batchmean") * T ** 2       # T^2 KL(p_t || p_s)
    hard = F.cross_entropy(student_logits, labels)                      # CE(z_s, y), no T
    return alpha * soft + (1 - alpha) * hard
    ### END SOLUTION


# %% [tests] id=test_distillation_loss points=4
check_distillation_loss(distillation_loss)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("distillation.loss", distillation_loss=distillation_loss)
### END HIDDEN TESTS

# %% [markdown]
# ## 3. A smaller student, initialised from the teacher
#
# DistilBERT keeps BERT's width (hidden size 768, 12 heads) and halves the depth: 6 of 12 layers,
# **initialised from the teacher** by taking one layer out of two. The lecture's table:
#
# | Model | # param. (Millions) | Inf. time (seconds) |
# |---|---|---|
# | BERT-base | 110 | 668 |
# | DistilBERT | 66 | 410 |
#
# with 97% of BERT's GLUE score (77.0 against 79.5).
#
# ### Exercise 2 ({{points}} points): `init_student_from_teacher`
#
# Given a teacher (an `Encoder` or a `Decoder` of `course_lib.model`) and a list of layer
# indices, return a new model of the **same class** whose config is the teacher's with
# `n_layers = len(layers)`, holding **copies** of the teacher's embeddings, of the chosen
# blocks in the given order, and of the final LayerNorm (the LM head is tied to the embeddings).
# Training the student must not change the teacher: copy, never share. Return it in eval mode.

# %% [solution] id=init_student
def init_student_from_teacher(teacher: nn.Module, layers: list[int]) -> nn.Module:
    ### BEGIN SOLUTION
    cfg = copy.deepcopy(teacher.config)
    cfg.n_layers = len(layers)
    student = type(teacher)(cfg)
    student.embed.load_state_dict(teacher.embed.state_dict())          # E(x) and positions
    for i, layer in enumerate(layers):
        student.blocks[i].load_state_dict(teacher.blocks[layer].state_dict())
    student.ln_f.load_state_dict(teacher.ln_f.state_dict())
    student.lm_head.bias.data.copy_(teacher.lm_head.bias.data)          # weight tied to E
    return student.to(teacher.device).eval()
    ### END SOLUTION


# %% [tests] id=test_init_student points=3
check_init_student(init_student_from_teacher)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("distillation.init_student", init_student_from_teacher=init_student_from_teacher)
### END HIDDEN TESTS

# %% [markdown]
# ## 4. Distil the topic classifier
#
# Three 2-layer students, trained with the same budget (2 epochs, the same learning rate):
#
# * **from scratch**: random initialisation, hard labels only ("learn from data");
# * **teacher layers, hard labels**: initialised from teacher layers 0 and 2, hard labels only;
# * **distilled**: initialised from teacher layers 0 and 2, trained with your loss
#   ($T = 2$, $\alpha = 0.5$).
#
# The teacher's logits do not change during training (eval mode, no dropout), so we compute them
# once for the whole training set.

# %% [skip-grading]
LAYERS = [0, 2]                                       # one layer out of two, like DistilBERT
device = get_device()
enc = tok.batch([ex.text for ex in train], max_len=64)
ids, mask = enc["input_ids"].to(device), enc["attention_mask"].to(device)   # (N, L)
labels = torch.tensor([ex.topic for ex in train], device=device)            # (N,)
with torch.no_grad():
    teacher_logits = torch.cat([teacher(input_ids=i, attention_mask=m)
                                for i, m in zip(ids.split(256), mask.split(256))])  # (N, 4)


def make_student(from_teacher: bool) -> CLSClassifier:
    set_seed(0)
    if from_teacher:
        student = CLSClassifier(init_student_from_teacher(teacher.encoder, LAYERS), len(TOPICS))
        student.head.load_state_dict(teacher.head.state_dict())
    else:
        cfg = copy.deepcopy(teacher.encoder.config)
        cfg.n_layers = len(LAYERS)
        student = CLSClassifier(Encoder(cfg), len(TOPICS))
    return student.to(device)


STUDENT_EPOCHS = 2


def train_student(student, T=None, alpha=0.5, epochs=STUDENT_EPOCHS, lr=LR, seed=0):
    """Hard labels only when T is None, else the distillation loss. Returns the student."""
    opt = torch.optim.AdamW(student.parameters(), lr=lr)
    student.train()
    for epoch in range(epochs):
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed + epoch))
        for idx in order.split(32):
            idx = idx.to(device)
            L = int(mask[idx].sum(1).max())                             # trim the padding
            logits = student(input_ids=ids[idx, :L], attention_mask=mask[idx, :L])   # (32, 4)
            if T is None:
                loss = F.cross_entropy(logits, labels[idx])
            else:
                loss = distillation_loss(logits, teacher_logits[idx], labels[idx], T, alpha)
            opt.zero_grad()
            loss.backward()
            opt.step()
    return student.eval()


students = {"Student from scratch (hard labels)": train_student(make_student(False)),
            "Student, teacher layers (hard labels)": train_student(make_student(True)),
            "Distilled student (T = 2, alpha = 0.5)": train_student(make_student(True), T=2.0)}

test_batch = {k: v.to(device) for k, v in tok.batch([ex.text for ex in test[:400]]).items()}
rows, accs = [], {}
for name, model in [("Teacher (4 layers)", teacher), *students.items()]:
    with torch.no_grad():
        seconds = measure.latency(lambda: model(**test_batch), repeats=3, warmup=1)
    accs[name] = evaluate(model, tok, test)
    rows.append((name, f"{measure.count_parameters(model) / 1e3:.0f}", f"{seconds * 1e3:.0f}",
                 f"{accs[name]:.1%} ({accs[name] / teacher_acc:.0%} of the teacher)"))
t_teacher, t_student = float(rows[0][2]), float(rows[-1][2])
plotting.show_table(["Model", "# param. (thousands)", "Inf. time, 400 sentences (ms)",
                     "Test accuracy"], rows)
n_student = measure.count_parameters(students[rows[-1][0]])
print(f"student: {1 - n_student / measure.count_parameters(teacher):.0%} fewer parameters, "
      f"{t_teacher / t_student:.1f}x faster")

# %% [markdown]
# Compare with DistilBERT: half the layers, so about half the inference time, but fewer than
# half the parameters saved, because the embedding table stays (1939 x 64 here, 30522 x 768 in
# BERT). In our tiny model the embeddings are a larger share, so the student is only about 30%
# smaller (DistilBERT: 40%). Initialising from teacher layers beats a random start, and the
# teacher's soft targets help on top of that: the teacher was trained on labels with 4% noise,
# and its probabilities are a cleaner signal than those labels, so the distilled student can even
# match the teacher.
#
# ## 5. The effect of the temperature
#
# $T = 1$ uses the teacher's sharp probabilities (close to its hard predictions); a larger $T$
# exposes more of the small probabilities. Same student, same budget, $\alpha = 0.5$:

# %% [skip-grading]
T_VALUES = [1.0, 2.0, 8.0]
t_acc = {2.0: accs["Distilled student (T = 2, alpha = 0.5)"]}
for T in T_VALUES:
    if T not in t_acc:
        t_acc[T] = evaluate(train_student(make_student(True), T=T), tok, test)
fig = plotting.line_plot(
    T_VALUES, {"distilled student": [100 * t_acc[T] for T in T_VALUES],
               "teacher layers, hard labels": [100 * accs["Student, teacher layers (hard labels)"]]
               * len(T_VALUES), "teacher": [100 * teacher_acc] * len(T_VALUES)},
    "temperature T", "test accuracy (%)", "Distillation temperature (alpha = 0.5)")
widgets.table_slider(T_VALUES, t_acc, "T", lambda T, a: (
    f"<b>T = {T:g}</b>: distilled student {a:.1%}, teacher {teacher_acc:.1%}, "
    f"student on hard labels {accs['Student, teacher layers (hard labels)']:.1%}"))

# %% [markdown]
# Soft targets ($T > 1$) do a little better than $T = 1$, and every distilled student beats the
# same student trained on hard labels. Keep the scale in mind: one test sentence is 0.125 points,
# so differences of half a point are four sentences, within the noise of a different seed.
#
# ## 6. LLM distillation: copy the teacher's training data
#
# For LLMs the lecture's recipe is simpler: let the teacher **generate** text (for
# DeepSeek-R1-Distill: 800k reasoning traces from DeepSeek-R1) and fine-tune a smaller model on it
# with the ordinary next-token loss. This is *sequence-level* distillation: the student copies
# the teacher's outputs, not its probabilities, so it works even when only the teacher's text is
# available (through an API). *Token-level* distillation instead matches the teacher's whole
# next-token distribution at every position, with the KL term of your loss.
#
# ### Exercise 3 ({{points}} points): `generate`, without a cache
#
# Write the simplest decoding loop: feed the whole sequence, take the logits of the **last**
# position, pick the next token, append it, repeat `n_new` times. With `temperature == 0` pick the
# argmax (greedy); otherwise sample from $\mathrm{softmax}(z / \text{temperature})$ with
# `torch.multinomial(probs, 1, generator=generator)`. Return `(B, T_0 + n_new)` token ids; the
# model runs under `torch.no_grad()`. (Every step recomputes all earlier positions: the cost
# grows with the square of the length. The KV-cache notebook removes that.)

# %% [solution] id=generate
@torch.no_grad()
def generate(model: nn.Module, input_ids: torch.Tensor, n_new: int, temperature: float = 0.0,
             generator: torch.Generator | None = None) -> torch.Tensor:
    ### BEGIN SOLUTION
    ids = input_ids                                                       # (B, T_0)
    for _ in range(n_new):
        logits = model(input_ids=ids)["logits"][:, -1]                    # (B, V) last position
        if temperature == 0:
            nxt = logits.argmax(dim=-1, keepdim=True)                     # (B, 1) greedy
        else:
            probs = F.softmax(logits / temperature, dim=-1)               # (B, V)
            nxt = torch.multinomial(probs, 1, generator=generator)       # (B, 1) sampled
        ids = torch.cat([ids, nxt], dim=1)                                # (B, T + 1)
    return ids
    ### END SOLUTION


# %% [tests] id=test_generate points=3
check_generate(generate)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("distillation.generate", generate=generate)
### END HIDDEN TESTS

# %% [markdown]
# The teacher is the pre-trained 4-layer decoder; the student takes its layers 0 and 2. We
# compare, with the **same budget** (the same number of steps, sequences and tokens):
#
# * **copy training data** (sequence-level): the student learns, with cross-entropy, to predict
#   text the teacher sampled from `[BOS]`;
# * **token-level KL**: on real corpus text, the student matches the teacher's next-token
#   distribution at every position (your loss with $\alpha = 1$, $T = 1$);
# * **real data only**: cross-entropy on the same real text, no teacher.
#
# Perplexity on the held-out `lm_valid` text measures them all.

# %% [skip-grading]
import time

from course_lib.datasets import pack_blocks

N_SEQ, SEQ_LEN, BATCH, STEPS, LM_LR = 128, 48, 16, 40, 1e-3
lm_teacher = load_decoder()
valid_blocks = pack_blocks(tok, load_corpus("lm_valid")[:400], 128).to(device)   # (n, 128)


@torch.no_grad()
def perplexity(model) -> float:
    model.eval()
    nll = F.cross_entropy(model(input_ids=valid_blocks[:, :-1])["logits"].flatten(0, 1),
                          valid_blocks[:, 1:].flatten(), reduction="mean")
    return math.exp(nll.item())


gen = torch.Generator(device=device).manual_seed(0)
start = torch.full((N_SEQ, 1), tok.bos_id, device=device)                 # (N, 1) [BOS]
t0 = time.perf_counter()
teacher_text = generate(lm_teacher, start, SEQ_LEN - 1, temperature=1.0, generator=gen)  # (N, L)
gen_seconds = time.perf_counter() - t0
print(f"teacher generated {N_SEQ} x {SEQ_LEN} tokens in {gen_seconds:.1f} s; two samples:")
for row in teacher_text[:2]:
    print("  ", tok.decode(row)[:150])
real_text = pack_blocks(tok, load_corpus("pretrain")[:2000], SEQ_LEN)[:N_SEQ].to(device)


def train_lm(data, use_teacher: bool):
    """STEPS steps of batch BATCH over `data`: next-token CE, or KL to the teacher (alpha = 1)."""
    student = init_student_from_teacher(lm_teacher, LAYERS).train()
    opt = torch.optim.AdamW(student.parameters(), lr=LM_LR)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(0))
    for step in range(STEPS):
        x = data[order[(step * BATCH) % len(data):][:BATCH]]                # (B, L)
        logits = student(input_ids=x[:, :-1])["logits"].flatten(0, 1)      # (B (L-1), V)
        targets = x[:, 1:].flatten()                                       # (B (L-1),)
        if use_teacher:
            with torch.no_grad():
                t_logits = lm_teacher(input_ids=x[:, :-1])["logits"].flatten(0, 1)
            loss = distillation_loss(logits, t_logits, targets, T=1.0, alpha=1.0)
        else:
            loss = F.cross_entropy(logits, targets)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return student.eval()


lm_rows = [("Teacher (4 layers)", lm_teacher),
           ("Student, teacher layers 0 and 2, untrained", init_student_from_teacher(lm_teacher,
                                                                                    LAYERS)),
           ("Student: copy training data (teacher's text, CE)", train_lm(teacher_text, False)),
           ("Student: token-level KL on real text", train_lm(real_text, True)),
           ("Student: real text only (CE)", train_lm(real_text, False))]
ppl = {name: perplexity(m) for name, m in lm_rows}
plotting.show_table(["Model", "# param. (thousands)", "Perplexity (lm_valid)"],
                    [(n, f"{measure.count_parameters(m) / 1e3:.0f}", f"{ppl[n]:.2f}")
                     for n, m in lm_rows],
                    title=f"Same budget: {STEPS} steps x {BATCH} sequences x {SEQ_LEN} tokens")

# %% [markdown]
# Read the table from the untrained student (two layers removed) down. All three recipes repair
# much of the damage with the same small budget, but not equally. Token-level KL is the best: at
# every position it gives the whole next-token distribution of the teacher, not one token.
# Copying the teacher's text is, at this budget, no better than real text of the same size: the
# teacher's samples carry its own mistakes, and real text is plentiful for our tiny corpus. The
# recipe pays off when the teacher's text holds something real data lacks (DeepSeek-R1's long
# reasoning traces) and when only the teacher's text is available (an API): token-level
# distillation needs its logits, sequence-level distillation only its outputs.
#
# ## Summary
#
# * Distillation trains a small student to mimic a large teacher: soft targets
#   $\mathrm{softmax}(z_t / T)$ plus the hard labels,
#   $\alpha T^2 \mathrm{KL} + (1 - \alpha)\mathrm{CE}$.
# * DistilBERT halves the depth and initialises the student from every other teacher layer:
#   40% fewer parameters, 60% faster, 97% of the score. Ours: fewer layers, the same recipe.
# * For LLMs, "copy training data": fine-tune the student on text the teacher generates
#   (DeepSeek-R1-Distill), or match its next-token distributions when the logits are available.
#
# **Check yourself.** (1) Why does $\mathrm{KL}(p \| q)$ become 0 when the student equals the
# teacher, and what is the loss then if $\alpha = 1$? (2) Why multiply by $T^2$? (3) Why do
# we initialise the student from teacher layers rather than randomly? (4) Why can you not do
# token-level distillation from a model behind an API that returns only text? *(Answers: the
# distributions are equal, so the loss is 0; the soft gradients shrink like $1/T^2$; the
# layers already compute useful features, so the student starts near the teacher; you need
# the teacher's probabilities over the whole vocabulary, not just the sampled tokens.)*
