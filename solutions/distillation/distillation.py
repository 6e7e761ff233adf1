# %% [markdown]
# # Part 3c: Knowledge Distillation
#
# **Lecture 11, Model Efficiency: model compression.** Train a small **student** to mimic a large
# **teacher**: the student learns from the data (hard labels) *and* from the teacher's behaviour
# (its softened output distribution). You will write the distillation loss (Hinton et al. 2015),
# build a half-depth student from the teacher's layers (DistilBERT, Sanh et al. 2019), add
# DistilBERT's third loss term (a cosine between hidden states), and distil a causal language
# model the way DeepSeek-R1-Distill does: by training on text the teacher generates ("copy
# training data").
#
# | | |
# |---|---|
# | You will write | `distillation_loss`, `init_student_from_teacher`, `cosine_loss`, `generate_uncached` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 40 minutes of work; run top to bottom, the notebook takes about 50 s on a 2-core laptop CPU (measured; cells that take longer than a few seconds show a progress bar) |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("the KL term is not scaled by T^2"). When your
# notebook is graded, hidden tests run your code on random inputs and compare it with the
# reference. Do not rename the functions you are asked to write.

# %% [setup]
import copy
import math
import statistics

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_lib import measure, plotting, widgets
from course_lib.checks.distillation import (check_cosine_loss, check_distillation_loss,
                                            check_generate_uncached, check_init_student)
from course_lib.datasets import TOPICS, load_corpus, load_topic
from course_lib.tokenizer import SPECIAL_TOKENS
from course_lib.model import CLSClassifier, Encoder
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
teacher_run = train_classifier(teacher, tok, train, epochs=EPOCHS, lr=LR, seed=0)
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


# %% [tests] points=4 case=loss
check_distillation_loss(distillation_loss)

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


# %% [tests] points=3
check_init_student(init_student_from_teacher)

# %% [markdown]
# ## 4. Distil the topic classifier
#
# Three 2-layer students, trained with the same budget (one epoch, the same learning rate):
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


STUDENT_EPOCHS = 1


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


recipes = {"Student from scratch (hard labels)": (False, None),
           "Student, teacher layers (hard labels)": (True, None),
           "Distilled student (T = 2, alpha = 0.5)": (True, 2.0)}
students = {name: train_student(make_student(init), T=T)
            for name, (init, T) in tqdm(recipes.items(), desc="students")}

test_batch = {k: v.to(device) for k, v in tok.batch([ex.text for ex in test[:400]]).items()}
models = {"Teacher (4 layers)": teacher, **students}
with torch.no_grad():                                  # the models take turns: fair under load
    seconds = measure.interleaved({name: (lambda m=m: m(**test_batch))
                                   for name, m in models.items()},
                                  rounds=3, repeats=2, progress="timing rounds")
rows, accs = [], {}
for name, model in models.items():
    accs[name] = evaluate(model, tok, test)
    rows.append((name, f"{measure.count_parameters(model) / 1e3:.0f}",
                 f"{1e3 * statistics.median(seconds[name]):.0f}",
                 f"{accs[name]:.1%} ({accs[name] / teacher_acc:.0%} of the teacher)"))
plotting.show_table(["Model", "# param. (thousands)", "Inf. time, 400 sentences (ms, median)",
                     "Test accuracy"], rows)
distilled = list(students)[-1]
speedup = measure.ratio_spread(seconds["Teacher (4 layers)"], seconds[distilled])
n_student = measure.count_parameters(students[distilled])
print(f"student: {1 - n_student / measure.count_parameters(teacher):.0%} fewer parameters; "
      f"teacher / student time: median {speedup[0]:.2f}x over 3 interleaved rounds "
      f"(rounds from {speedup[1]:.2f}x to {speedup[2]:.2f}x)")

# %% [markdown]
# Compare with DistilBERT: half the layers, and the student runs in about half the teacher's
# time (the median of the rounds; the printed range is how much they vary on a busy machine).
# <!-- claim: distillation.student_speedup -->
# But fewer than half the parameters are saved, because the embedding table stays (1939 x 64
# here, 30522 x 768 in BERT); in our tiny model the embeddings are a larger share, so the student
# is only about 30% smaller (DistilBERT: 40%). Initialising from teacher layers does better than
# a random start. <!-- claim: distillation.init_beats_scratch -->
# The teacher's soft targets add to that: the distilled student does better than the same
# student trained on the hard labels. <!-- claim: distillation.soft_targets_help -->
# (Both comparisons hold on average over three training orders, which the benchmark runs.)
# A plausible reason: 96 of the 2,400 training labels are noisy (the data card), and the
# teacher's probabilities may be a cleaner signal than those labels. Keep the scale in mind: one
# test sentence is 0.125 points, so a difference of a point is eight sentences, and another seed
# can move it.
#
# ## 5. The effect of the temperature
#
# $T = 1$ uses the teacher's sharp probabilities (close to its hard predictions); a larger $T$
# exposes more of the small probabilities. Same student, same budget, $\alpha = 0.5$:

# %% [skip-grading]
T_VALUES = [1.0, 2.0]
t_acc = {2.0: accs["Distilled student (T = 2, alpha = 0.5)"]}
for T in tqdm(T_VALUES, desc="temperatures"):
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
# Is a softer target better? On one seed the curve above is within the noise of a few test
# sentences, so the benchmark repeats it on three seeds of the training order, adding $T = 8$:
# averaged over them, the three temperatures lie within a point of each other here.
# <!-- claim: distillation.temperature_flat -->
# With four classes the teacher's small probabilities carry little beyond the label, so expect
# small differences; the gain Hinton et al. report comes with many classes.
#
# ## 6. DistilBERT's triple loss
#
# DistilBERT was distilled during pre-training, on masked-language-model text, with three terms:
#
# $$\mathcal{L} = \alpha_{ce}\,\mathcal{L}_{ce} + \alpha_{mlm}\,\mathcal{L}_{mlm} +
#   \alpha_{cos}\,\mathcal{L}_{cos}$$
#
# * $\mathcal{L}_{ce}$: your distillation loss with $\alpha = 1$ at the masked positions: the
#   student is trained towards the teacher's softened distribution over the vocabulary;
# * $\mathcal{L}_{mlm}$: the ordinary masked-language-model cross-entropy with the true tokens;
# * $\mathcal{L}_{cos}$: a **cosine embedding loss** that turns the student's hidden states in
#   the direction of the teacher's, $\frac{1}{|R|}\sum_{t \in R} \big(1 - \cos(h^{s}_t,
#   h^{t}_t)\big)$ over the real (not padding) tokens $R$. It is possible because the student
#   keeps the teacher's width.
#
# ### Exercise 3 ({{points}} points): `cosine_loss`
#
# Write `cosine_loss(h_student, h_teacher, mask)`: hidden states of shape `(B, T, d)` and a
# padding mask `(B, T)` (1 = real token). Return the scalar above: $1 - \cos$ per token (the
# cosine over the hidden dimension), averaged over the real tokens only. The teacher is fixed: no
# gradient may flow into `h_teacher`.

# %% [solution] id=cosine_loss
def cosine_loss(h_student: torch.Tensor, h_teacher: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
    """L_cos = mean over real tokens of 1 - cos(h_s, h_t); a scalar."""
    ### BEGIN SOLUTION
    cos = F.cosine_similarity(h_student, h_teacher.detach(), dim=-1)     # (B, T)
    return (1 - cos)[mask.bool()].mean()                                # () real tokens only
    ### END SOLUTION


# %% [tests] points=2 case=cosine
check_cosine_loss(cosine_loss)

# %% [markdown]
# We distil the pre-trained 4-layer encoder (the masked language model, before any fine-tuning)
# into a 2-layer student initialised from its layers 0 and 2, on pre-training text with 15% of
# the tokens masked, with the same budget for three losses: the MLM loss alone, MLM plus soft
# targets, and the triple loss with the weights of Hugging Face's DistilBERT training script
# ($\alpha_{ce} = 5$, $\alpha_{mlm} = 2$, $\alpha_{cos} = 1$, $T = 2$). The training loop is in
# the open: the teacher runs under `torch.no_grad()`, only the student's parameters are in the
# optimizer. We measure how well each student predicts held-out masked tokens.

# %% [skip-grading]
MLM_STEPS, MLM_BATCH, P_MASK = 30, 32, 0.15
MLM_LOSSES = {"MLM only": (0.0, 1.0, 0.0), "MLM + soft targets": (5.0, 2.0, 0.0),
              "triple loss (DistilBERT)": (5.0, 2.0, 1.0)}      # (alpha_ce, alpha_mlm, alpha_cos)


def mask_for_mlm(lines, g):
    """BERT-style inputs: 15% of the real, non-special tokens become [MASK]; labels -100 elsewhere."""
    batch = tok.batch(lines, max_len=64)
    ids, att = batch["input_ids"], batch["attention_mask"]                 # (B, L)
    pick = ((torch.rand(ids.shape, generator=g) < P_MASK) & att.bool()
            & (ids >= len(SPECIAL_TOKENS)))                                # (B, L) masked
    inputs = ids.masked_fill(pick, tok.mask_id)
    labels = torch.where(pick, ids, torch.full_like(ids, -100))
    return inputs.to(device), att.to(device), labels.to(device)


mlm_teacher = load_encoder().eval()
corpus = load_corpus("pretrain")
valid_mlm = mask_for_mlm(load_corpus("lm_valid")[:256], torch.Generator().manual_seed(123))


def at_masks(model, inputs, att, m):
    """Hidden states (B, L, d) and the MLM logits of the masked positions only (n, V)."""
    hidden = model(input_ids=inputs, attention_mask=att, return_logits=False)["hidden"]
    return hidden, model.lm_head(hidden[m])


@torch.no_grad()
def masked_token_quality(model):
    """Accuracy and perplexity of the held-out masked tokens."""
    inputs, att, labels = valid_mlm
    m = labels != -100
    _, logits = at_masks(model, inputs, att, m)                              # (n, V)
    nll = F.cross_entropy(logits, labels[m]).item()
    return (logits.argmax(-1) == labels[m]).float().mean().item(), math.exp(nll)


def distil_mlm(a_ce, a_mlm, a_cos, seed=0):
    student = init_student_from_teacher(mlm_teacher, LAYERS).train()
    opt = torch.optim.AdamW(student.parameters(), lr=LR)                 # the student only
    g = torch.Generator().manual_seed(seed)
    for _ in range(MLM_STEPS):
        rows = torch.randint(0, len(corpus), (MLM_BATCH,), generator=g).tolist()
        inputs, att, labels = mask_for_mlm([corpus[i] for i in rows], g)
        m = labels != -100                                             # (B, L) masked positions
        h_s, z_s = at_masks(student, inputs, att, m)                   # (B, L, d), (n, V)
        with torch.no_grad():
            h_t, z_t = at_masks(mlm_teacher, inputs, att, m)           # the teacher is fixed
        loss = (a_mlm * F.cross_entropy(z_s, labels[m])                # L_mlm
                + a_ce * distillation_loss(z_s, z_t, labels[m], T=2.0, alpha=1.0)  # L_ce
                + a_cos * cosine_loss(h_s, h_t, att))                  # L_cos
        opt.zero_grad()
        loss.backward()
        opt.step()
    return student.eval()


mlm_quality = {"Teacher (4 layers)": masked_token_quality(mlm_teacher),
               "Student, teacher layers 0 and 2, untrained":
                   masked_token_quality(init_student_from_teacher(mlm_teacher, LAYERS))}
for name, weights in tqdm(MLM_LOSSES.items(), desc="MLM students"):
    mlm_quality[f"Student: {name}"] = masked_token_quality(distil_mlm(*weights))
plotting.show_table(["Model", "held-out masked tokens: accuracy", "perplexity"],
                    [(n, f"{a:.1%}", f"{p:.2f}") for n, (a, p) in mlm_quality.items()],
                    title=f"Same budget: {MLM_STEPS} steps x {MLM_BATCH} sentences")

# %% [markdown]
# Here the lecture's recipe does not pay off: the MLM loss alone gives the lowest masked-token
# perplexity, and the soft targets raise it. <!-- claim-not-held: distillation.mlm_soft_targets_help -->
# The table says why: after these few steps the MLM-only student predicts held-out masked tokens
# better than the teacher itself. <!-- claim: distillation.mlm_student_beats_teacher -->
# Our teacher is a small encoder whose second pre-training stage masked only tone-cue words (the
# data card): it is no expert at filling ordinary masks, and pulling the student towards its
# distribution holds the student back, which is our reading of the table.
# Distillation pays when the teacher knows more than the student can learn from the data in the
# same budget, as BERT does for DistilBERT. The cosine term changes little on top of the soft
# targets (within 5%). <!-- claim: distillation.cosine_small -->
#
# ## 7. LLM distillation: copy the teacher's training data
#
# For LLMs the lecture's recipe is simpler: let the teacher **generate** text (for
# DeepSeek-R1-Distill: about 800k samples curated with DeepSeek-R1, about 600k of them reasoning
# traces) and fine-tune a smaller model on it
# with the ordinary next-token loss. This is *sequence-level* distillation: the student copies
# the teacher's outputs, not its probabilities, so it works even when only the teacher's text is
# available (through an API). *Token-level* distillation instead fits the teacher's whole
# next-token distribution at every position, with the KL term of your loss.
#
# ### Exercise 4 ({{points}} points): `generate_uncached`, decoding without a cache
#
# Write the simplest decoding loop (the KV-cache notebook uses the same function, by the same
# name): feed the whole sequence, take the logits of the **last**
# position, pick the next token, append it, repeat `n_new` times. With `temperature == 0` pick the
# argmax (greedy); otherwise sample from $\mathrm{softmax}(z / \text{temperature})$ with
# `torch.multinomial(probs, 1, generator=generator)`. Return `(B, T_0 + n_new)` token ids; the
# model runs under `torch.no_grad()`. (Every step recomputes all earlier positions: the cost
# grows with the square of the length. The KV-cache notebook removes that.)

# %% [solution] id=generate_uncached
@torch.no_grad()
def generate_uncached(model: nn.Module, ids: torch.Tensor, n_new: int, temperature: float = 0.0,
                      generator: torch.Generator | None = None) -> torch.Tensor:
    """ids (B, T_0) -> (B, T_0 + n_new); every step recomputes the whole sequence."""
    ### BEGIN SOLUTION
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


# %% [tests] points=3
check_generate_uncached(generate_uncached)

# %% [markdown]
# The teacher is the pre-trained 4-layer decoder; the student takes its layers 0 and 2. We
# compare, with the **same budget** (the same number of steps, sequences and tokens):
#
# * **copy training data** (sequence-level): the student learns, with cross-entropy, to predict
#   text the teacher sampled from `[BOS]`;
# * **token-level KL**: on real corpus text, the student fits the teacher's next-token
#   distribution at every position (your loss with $\alpha = 1$, $T = 1$);
# * **real data only**: cross-entropy on the same real text, no teacher.
#
# Perplexity on the held-out `lm_valid` text measures them all.

# %% [skip-grading]
import time

from course_lib.datasets import pack_blocks

N_SEQ, SEQ_LEN, BATCH, STEPS, LM_LR = 96, 48, 16, 30, 1e-3
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
teacher_text = generate_uncached(lm_teacher, start, SEQ_LEN - 1, temperature=1.0, generator=gen)  # (N, L)
gen_seconds = time.perf_counter() - t0
print(f"teacher generated {N_SEQ} x {SEQ_LEN} tokens in {gen_seconds:.1f} s; two samples:")
for row in teacher_text[:2]:
    print("  ", tok.decode(row)[:150])
real_text = pack_blocks(tok, load_corpus("pretrain")[:2000], SEQ_LEN)[:N_SEQ].to(device)


def train_lm(data, use_teacher: bool, seed: int = 0):
    """STEPS steps of batch BATCH over `data`: next-token CE, or KL to the teacher (alpha = 1)."""
    student = init_student_from_teacher(lm_teacher, LAYERS).train()
    opt = torch.optim.AdamW(student.parameters(), lr=LM_LR)
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))
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


lm_recipes = {"Student: copy training data (teacher's text, CE)": (teacher_text, False),
              "Student: token-level KL on real text": (real_text, True),
              "Student: real text only (CE)": (real_text, False)}
lm_rows = [("Teacher (4 layers)", lm_teacher),
           ("Student, teacher layers 0 and 2, untrained", init_student_from_teacher(lm_teacher,
                                                                                    LAYERS)),
           *((name, train_lm(data, kl)) for name, (data, kl)
             in tqdm(lm_recipes.items(), desc="LM students"))]
ppl = {name: perplexity(m) for name, m in lm_rows}
plotting.show_table(["Model", "# param. (thousands)", "Perplexity (lm_valid)"],
                    [(n, f"{measure.count_parameters(m) / 1e3:.0f}", f"{ppl[n]:.2f}")
                     for n, m in lm_rows],
                    title=f"Same budget: {STEPS} steps x {BATCH} sequences x {SEQ_LEN} tokens")

# %% [markdown]
# Read the table from the untrained student (two layers removed) down. All three recipes repair
# much of the damage with the same small budget, but not equally. Token-level KL gives the lowest
# perplexity of the three (the benchmark repeats the comparison on three seeds).
# <!-- claim: distillation.token_kl_best -->
# A plausible reason: at every position it gives the whole next-token distribution of the
# teacher, not one token. Copying the teacher's text does about as well as real text of the
# same size: averaged over the three seeds, their perplexities are within 5% of each other.
# <!-- claim: distillation.copy_no_better_than_real -->
# The teacher's samples carry its own mistakes, and real text is plentiful for our tiny corpus.
# The recipe pays off when the teacher's text holds something real data lacks (DeepSeek-R1's long
# reasoning traces) and when only the teacher's text is available (an API): token-level
# distillation needs its logits, sequence-level distillation only its outputs.
#
# ## Summary
#
# * Distillation trains a small student to mimic a large teacher: soft targets
#   $\mathrm{softmax}(z_t / T)$ plus the hard labels,
#   $\alpha T^2 \mathrm{KL} + (1 - \alpha)\mathrm{CE}$.
# * DistilBERT halves the depth and initialises the student from every other teacher layer:
#   40% fewer parameters, 60% faster, 97% of the score; it trains with three terms, soft targets,
#   the MLM loss and a cosine between hidden states. Ours: fewer layers, the same recipe.
# * For LLMs, "copy training data": fine-tune the student on text the teacher generates
#   (DeepSeek-R1-Distill), or train towards its next-token distributions when the logits are available.
#
# **Check yourself.** (1) Why does $\mathrm{KL}(p \| q)$ become 0 when the student equals the
# teacher, and what is the loss then if $\alpha = 1$? (2) Why multiply by $T^2$? (3) Why do
# we initialise the student from teacher layers rather than randomly? (4) Why can you not do
# token-level distillation from a model behind an API that returns only text? (5) Why can
# DistilBERT use a cosine loss between hidden states, and why could a student of half the width
# not use it as it is?
#
# <details><summary>Answers</summary>
#
# (1) The two distributions are equal, so every $\log(p_i / q_i)$ is 0; with $\alpha = 1$ the
# loss is 0. (2) The gradients of the soft term shrink like $1/T^2$; the factor keeps its weight
# against the hard term independent of $T$. (3) The teacher's layers already compute useful
# features, so the student starts near the teacher instead of from nothing. (4) You need the
# teacher's probabilities over the whole vocabulary, not only the tokens it sampled.
# (5) The student keeps the teacher's hidden size, so its hidden states live in the same space;
# a narrower student would first need a learned projection (TinyBERT's approach).
#
# </details>
#
# ## Exercises
#
# 1. **Which layers?** DistilBERT takes one teacher layer out of two. Initialise the 2-layer
#    student from layers `[0, 1]`, `[2, 3]` and `[0, 3]` instead of `[0, 2]` and distil it as in
#    Section 4. Before you run it: which do you expect to start best, and why?
# 2. **Only the soft targets.** Train the student with $\alpha = 1$ (no hard labels at all). Can
#    it reach the teacher's accuracy? What does it learn when the teacher is wrong?
# 3. **The $T^2$ factor.** Remove $T^2$ and train with $T = 8$. Compare the size of the soft term's
#    gradient with and without the factor, and the accuracy after training.
# 4. **The triple loss's weights.** DistilBERT's weights are $5 / 2 / 1$. Try the cosine term
#    alone ($\alpha_{ce} = \alpha_{mlm} = 0$): what does a student learn from it, and what does it
#    not learn?
# 5. **Sequence-level distillation with greedy text.** Generate the teacher's text with
#    `temperature=0` instead of 1. What happens to its diversity (count the distinct sequences),
#    and to the student trained on it?
#
# <details><summary>Answers</summary>
#
# 1. A hypothesis to test: spreading the layers (`[0, 2]`, `[0, 3]`) keeps features from the
#    top of the teacher, which are closest to the classifier; `[0, 1]` throws the top away. The
#    untrained students' accuracy (before training) shows which start is best.
# 2. With $\alpha = 1$ it learns the teacher's function, mistakes included: where the teacher is
#    wrong, the student is taught the same wrong class, so the teacher's accuracy is its
#    ceiling, unless the student generalises differently.
# 3. Without $T^2$ the soft term's gradients are about $1/T^2 = 1/64$ of their size with it, so
#    the hard labels dominate and the student behaves almost like one trained on labels only.
# 4. The cosine term only aligns directions of hidden states: the student learns the teacher's
#    representation but nothing ties its output head to the right tokens or labels; it is a
#    regulariser next to the other two terms, not a loss on its own.
# 5. Greedy decoding from `[BOS]` gives the same text for every sequence (one distinct sequence),
#    so the student sees one example many times; sampling ($T = 1$) gives varied text.
