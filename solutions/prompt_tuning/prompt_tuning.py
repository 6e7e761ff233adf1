# %% [markdown]
# # Part 1b: Soft Prompt Tuning, P-tuning and Prefix Tuning
#
# **Lecture 11, Model Efficiency: parameter-efficient fine-tuning.** Hand-written prompts turn
# the pre-trained masked language model into a zero-shot classifier, but which prompt works is
# hard to guess. Here the model *learns* its prompt: first a few vectors in front of the input
# (soft prompt tuning, P-tuning), then trainable keys and values in every attention layer
# (prefix tuning, P-tuning v2), for classification and for generation. The pre-trained model
# stays frozen throughout.
#
# | | |
# |---|---|
# | You will write | `HardPromptMLM` (Section 1), `SoftPrompt`, `SoftPromptMLM`, `PTuningPrompt` (Sections 2 and 3) |
# | and | `PrefixEncoder`, `prefix_hook`, `PrefixTuningMLM` (Section 4), `PrefixTuningLM` (Section 6) |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 50 minutes of work; run top to bottom, the notebook takes about 30 s on a 2-core laptop CPU (measured; cells that take longer than a few seconds show a progress bar) |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("the attention mask was not extended by n
# ones"). When your notebook is graded, hidden tests run your code on random inputs and compare
# it with the reference. Do not rename the functions and classes you are asked to write.

# %% [setup]
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm.auto import tqdm

from course_lib import measure, plotting, widgets
from course_lib.checks.prompt_tuning import (check_hard_prompt, check_p_tuning,
                                             check_prefix_encoder, check_prefix_lm,
                                             check_prefix_tuning, check_soft_prompt,
                                             check_soft_prompt_mlm)
from course_lib.datasets import TOPICS, few_shot, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_decoder, load_encoder, load_tokenizer
from course_lib.prompts import mask_position, template
from course_lib.runtime import get_device, set_seed
from course_lib.training import evaluate, train_classifier

LABEL_WORDS = ["sports", "finance", "technology", "health"]   # the verbalizer v(l), one per topic
N_PROMPT = 8                                       # virtual tokens of every prompt and prefix
LR_PROMPT, LR_PTUNING, LR_PREFIX = 1e-2, 3e-3, 3e-2   # chosen on dev; Part 1e reuses them

# %% [markdown]
# ## 1. Hard prompts: zero-shot, and fragile
#
# A prompt turns classification into the pre-training task. The pattern $P(x)$ wraps the
# sentence $x$ around one `[MASK]`, and the verbalizer $v$ maps each topic to a label word. The
# score of label $l$ is the masked LM's logit of $v(l)$ at the mask position, and the class
# probabilities are the softmax over the label words only:
#
# $$s(l \mid x) = \text{logit}_{\texttt{[MASK]}}\big(v(l) \mid P(x)\big), \qquad
#   p(l \mid x) = \frac{\exp s(l \mid x)}{\sum_{l'} \exp s(l' \mid x)} .$$
#
# Patterns are written with `[X]` for the input, and `course_lib.prompts` gives the two pieces
# of plumbing: `template(pattern)` ($x \mapsto P(x)$) and `mask_position(input_ids, mask_id)`.
#
# ### Exercise 1 ({{points}} points): `HardPromptMLM`
#
# The [MASK] classifier of Part 1a, now with the model **frozen** (every learned prompt below is
# compared with it, and none of them changes the encoder). `HardPromptMLM(encoder, mask_id,
# label_word_ids)` sets `requires_grad = False` on every parameter of the encoder and keeps it
# as `self.encoder`. Its `forward(input_ids, attention_mask)` returns the `(B, C)` scores
# $s(l \mid x)$, columns in the order of `label_word_ids`. Reading them from the full
# `(B, T, V)` logits is correct; faster is to compute the LM head at the `[MASK]` only: run the
# encoder with `return_logits=False`, take each row's hidden state at its `[MASK]` (`(B, d)`),
# and apply `self.encoder.lm_head` to that alone (the full logits cost a third of the compute
# for one useful position per row). The check prints which one you did.

# %% [solution] id=hard_prompt
class HardPromptMLM(nn.Module):
    """A hand-written prompt on a frozen masked LM: the label words' logits at the [MASK]."""

    def __init__(self, encoder: nn.Module, mask_id: int, label_word_ids):
        super().__init__()
        self.mask_id = mask_id
        self.register_buffer("label_word_ids", torch.as_tensor(label_word_ids, dtype=torch.long))
        ### BEGIN SOLUTION
        for p in encoder.parameters():
            p.requires_grad = False                                     # the model stays frozen
        self.encoder = encoder
        ### END SOLUTION

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              return_logits=False)["hidden"]            # (B, T, d)
        t = mask_position(input_ids, self.mask_id)                      # (B,)
        h = hidden[torch.arange(len(t), device=hidden.device), t]       # (B, d) at the [MASK]
        return self.encoder.lm_head(h)[:, self.label_word_ids]         # (B, C): s(l | x)
        ### END SOLUTION


# %% [tests] points=2
check_hard_prompt(HardPromptMLM)

# %% [markdown]
# With no training at all, how much does the wording of the pattern matter? The lecture's LAMA
# example: "[X] is located in [Y]." gets P@1 31.3, and "[X] is located in which country? In
# [Y]." gets 51.1. Our seven patterns are those of Part 1a; each is scored on the dev set (to
# choose) and on the test set (to report).

# %%
set_seed(0)
tok = load_tokenizer()
train, dev, test = load_topic("train"), load_topic("dev"), load_topic("test")
label_ids = [tok.token_id(w) for w in LABEL_WORDS]
print(f"{len(train)} training sentences, {len(dev)} dev, {len(test)} test; verbalizer: "
      + ", ".join(f"{t} -> {w!r}" for t, w in zip(TOPICS, LABEL_WORDS)))

# %% [skip-grading]
HARD_PROMPTS = ["[X] is related to [MASK]", "[X] What is the topic? [MASK]",
                "Please read this sentence: [X] What is the topic? [MASK]",
                "[X] The topic is [MASK].", "[X] This is about [MASK].", "[MASK]: [X]",
                "[X] [MASK]"]
hard = HardPromptMLM(load_encoder(), tok.mask_id, label_ids)
hard_results = {p: (evaluate(hard, tok, dev, template=template(p)),
                     evaluate(hard, tok, test, template=template(p)))
                for p in tqdm(HARD_PROMPTS, desc="hard prompts")}
BEST = max(hard_results, key=lambda p: hard_results[p][0])     # chosen on dev, never on test
WORST = min(hard_results, key=lambda p: hard_results[p][0])
plotting.show_table(["Prompt (zero-shot)", "Dev acc.", "Test acc."],
                    [(p + ("  (best on dev)" if p == BEST else ""), f"{d:.1%}", f"{t:.1%}")
                     for p, (d, t) in hard_results.items()],
                    title="Same model, same label words, different wording (chance: 25%)")

# %% [markdown]
# As in Part 1a, the wording alone moves the accuracy by tens of points, and nothing tells us in
# advance which prompt wins: we can only try them on labelled dev data. Searching over
# discrete words is awkward (the words are not differentiable). Hence the idea: **let the
# model learn good prompts by itself.**
#
# ## 2. Soft prompt tuning (Lester et al. 2021)
#
# Replace the words of the prompt by $n$ free vectors $P \in \mathbb{R}^{n \times d}$ that live
# in the embedding space but need not be any word. They are prepended to the token embeddings,
#
# $$[P ; E(x)] = [p_1, \dots, p_n, e(\texttt{[CLS]}), e(x_1), \dots, e(x_T)] \in
#   \mathbb{R}^{(n + T) \times d},$$
#
# and only $P$ trains: $n \cdot d$ parameters, while the encoder stays frozen. Like `peft`, we
# prepend **before** `[CLS]`. Because the sequence is $n$ tokens longer, the attention mask
# gains $n$ ones in front (the prompt is never padding), and every position after the prompt
# (the `[MASK]` included) moves right by $n$. With a language-modelling loss the labels would
# also gain $n$ ignored positions; our classifier reads only the `[MASK]`.
#
# How to initialise $P$? Lester et al. (2021, Sections 2.1 and 3.2) compare three options: random
# (uniform in $[-0.5, 0.5]$), rows of the embedding matrix at words sampled from the 5,000 most
# common tokens, and **class labels**: one prompt vector per class, set to the embedding of that
# class's label (averaged when a label has several tokens); a prompt longer than the number of
# classes is filled up with sampled vocabulary. Class labels worked best, most clearly for the
# smaller models.
# `peft` offers three options in its own form: `"random"` (the standard normal of
# `nn.Embedding`), `"vocab"` (rows of $E$ at $n$ random token ids) and `"text"` (the embeddings
# of a text's tokens, repeated until there are $n$ of them, then cut to $n$). Giving `"text"` the
# label words is close to Lester et al.'s class labels, but not the same: it repeats the labels
# where they fill up with vocabulary.
#
# ### Exercise 2 ({{points}} points): `SoftPrompt`
#
# `SoftPrompt(embedding, n, init="random", init_ids=None)` receives the model's frozen
# `nn.Embedding` (only to initialise from; do **not** keep it as a submodule, or its weights
# would count as the prompt's). Store `self.n` and the trainable `self.P`, an `nn.Parameter` of
# shape `(n, d)` initialised as `peft` does (`init_ids`: the token ids of the text for
# `"text"`), on the embedding's device. Then write
#
# * `prompt()`: the prompt matrix $P$, shape `(n, d)` (Exercise 4 overrides it);
# * `forward(inputs_embeds, attention_mask)`: for `inputs_embeds` `(B, T, d)` and
#   `attention_mask` `(B, T)` return `([P ; E(x)], mask)` of shapes `(B, n + T, d)` and
#   `(B, n + T)`, the mask with $n$ ones in front (same dtype as the given mask).

# %% [solution] id=soft_prompt
class SoftPrompt(nn.Module):
    """n trainable vectors P (n, d) prepended to the token embeddings: [P ; E(x)]."""

    def __init__(self, embedding: nn.Embedding, n: int, init: str = "random", init_ids=None):
        super().__init__()
        if init not in ("random", "vocab", "text"):
            raise ValueError(f"init must be 'random', 'vocab' or 'text', got {init!r}")
        ### BEGIN SOLUTION
        self.n = n
        E = embedding.weight.detach()                                   # (V, d), frozen
        if init == "random":
            P = torch.randn(n, E.shape[1], device=E.device)             # (n, d), N(0, 1)
        elif init == "vocab":
            ids = torch.randint(0, E.shape[0], (n,), device=E.device)   # (n,) random token ids
            P = E[ids].clone()                                          # (n, d)
        else:
            ids = list(init_ids) * math.ceil(n / len(init_ids))         # repeat the text ...
            P = E[torch.tensor(ids[:n], device=E.device)].clone()       # ... cut to n: (n, d)
        self.P = nn.Parameter(P)                                        # (n, d), the only weights
        ### END SOLUTION

    def prompt(self) -> torch.Tensor:
        ### BEGIN SOLUTION
        return self.P                                                   # (n, d)
        ### END SOLUTION

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor):
        ### BEGIN SOLUTION
        B = inputs_embeds.shape[0]
        P = self.prompt().unsqueeze(0).expand(B, -1, -1)                # (B, n, d)
        x = torch.cat([P, inputs_embeds], dim=1)                        # (B, n + T, d): [P ; E(x)]
        ones = attention_mask.new_ones(B, self.n)                       # (B, n): prompt is visible
        mask = torch.cat([ones, attention_mask], dim=1)                 # (B, n + T)
        return x, mask
        ### END SOLUTION


# %% [tests] points=3
check_soft_prompt(SoftPrompt)

# %% [markdown]
# ### Exercise 3 ({{points}} points): classify with a soft prompt
#
# `SoftPromptMLM(encoder, soft_prompt, mask_id, label_word_ids)` freezes **every** parameter of
# the encoder and keeps `self.encoder` and `self.soft_prompt` (any module with an attribute `n`
# and `forward(inputs_embeds, attention_mask)` as above). Its
# `forward(input_ids, attention_mask)` looks up the token embeddings $E(x)$
# (`encoder.embed.tok`), prepends the prompt, runs the encoder with `inputs_embeds=` and the mask the prompt module returns,
# and returns the `(B, C)` label-word logits at the `[MASK]`, whose position has moved by $n$
# (the LM head at that position only is the faster way, as in Exercise 1).

# %% [solution] id=soft_prompt_mlm
class SoftPromptMLM(nn.Module):
    """Frozen masked LM + trainable soft prompt; scores the label words at the [MASK]."""

    def __init__(self, encoder: nn.Module, soft_prompt: nn.Module, mask_id: int,
                 label_word_ids):
        super().__init__()
        self.mask_id = mask_id
        self.register_buffer("label_word_ids", torch.as_tensor(label_word_ids, dtype=torch.long))
        ### BEGIN SOLUTION
        for p in encoder.parameters():
            p.requires_grad = False                                     # the model stays frozen
        self.encoder = encoder
        self.soft_prompt = soft_prompt
        ### END SOLUTION

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        E = self.encoder.embed.tok(input_ids)                           # (B, T, d)
        x, mask = self.soft_prompt(E, attention_mask)                   # (B, n + T, d), (B, n + T)
        hidden = self.encoder(inputs_embeds=x, attention_mask=mask,
                              return_logits=False)["hidden"]            # (B, n + T, d)
        t = mask_position(input_ids, self.mask_id) + self.soft_prompt.n  # (B,): shifted by n
        h = hidden[torch.arange(len(t), device=hidden.device), t]       # (B, d)
        return self.encoder.lm_head(h)[:, self.label_word_ids]         # (B, C)
        ### END SOLUTION


# %% [tests] points=2
check_soft_prompt_mlm(SoftPromptMLM)

# %% [markdown]
# ### Train a soft prompt
#
# Where do we start? From the best we already have: the hand-written pattern that won on the
# dev set, with $n = 8$ prompt vectors in front of it, initialised with `peft`'s `"text"` option
# from the four label words (each used twice), the nearest `peft` option to Lester et al.'s
# class-label start. Only the 512 numbers of $P$ train; the encoder is frozen. The soft prompt's
# learning rate is ten times that of full fine-tuning. (All learning rates of this notebook were
# chosen on the dev set, from $10^{-3}$ to $10^{-1}$.)

# %% [skip-grading]
EPOCHS, LR_FULL = 1, 1e-3
PATTERN = template(BEST)
set_seed(0)
encoder = load_encoder()
soft = SoftPromptMLM(encoder, SoftPrompt(encoder.embed.tok, N_PROMPT, "text", label_ids),
                     tok.mask_id, label_ids)
soft_run = train_classifier(soft, tok, train, epochs=EPOCHS, lr=LR_PROMPT, template=PATTERN,
                            seed=0)
soft_acc = (evaluate(soft, tok, dev, template=PATTERN), evaluate(soft, tok, test, template=PATTERN))
soft_trainable = measure.count_parameters(soft, trainable_only=True)
print(f"soft prompt n={N_PROMPT} + {BEST!r}: dev {soft_acc[0]:.1%}, test {soft_acc[1]:.1%}, "
      f"{soft_trainable:,} trainable parameters (n*d = {N_PROMPT}*64), "
      f"{soft_run['seconds']:.1f} s")

# %% [markdown]
# ## 3. P-tuning: reparameterise the prompt (Liu et al. 2021)
#
# P-tuning does not train the prompt vectors directly: it passes trainable embeddings $P_0$
# through a small network, the *prompt encoder*, and uses its output as the prompt. In the
# paper (Liu et al. 2021, "GPT Understands, Too") the encoder is a **bidirectional LSTM**
# followed by a two-layer ReLU MLP, so that each prompt vector depends on all the others; the
# authors argue that independent vectors fall into poor local minima. The prompt also keeps a
# few real words, **anchor tokens** chosen for the task (e.g. a "?" between the two sentences of
# an inference task), among the virtual ones. `peft`'s default encoder, which we write, keeps
# only the MLP:
#
# $$p_i = \text{MLP}(p^0_i) = W_3\,\text{ReLU}\big(W_2\,\text{ReLU}(W_1 p^0_i + b_1) + b_2\big)
#   + b_3 ,$$
#
# applied to each row $p^0_i$ of $P_0 \in \mathbb{R}^{n \times d}$ on its own. A row-wise MLP
# does **not** couple the vectors: $p_i$ depends on $p^0_i$ alone. What it changes is the
# parameterisation: all rows share $W_1, W_2, W_3$, so a gradient step on one row moves the
# others (`peft` has the LSTM too, `encoder_reparameterization_type="LSTM"`). After training,
# only $P = \text{MLP}(P_0)$ needs to be kept.
#
# ### Exercise 4 ({{points}} points): `PTuningPrompt`
#
# Subclass `SoftPrompt`: `PTuningPrompt(embedding, n, hidden, init="random", init_ids=None)`
# keeps $P_0$ as `self.P` (initialised as before) and adds `self.mlp`, an `nn.Sequential` of
# exactly `Linear(d, hidden), ReLU, Linear(hidden, hidden), ReLU, Linear(hidden, d)`.
# Override `prompt()`; `forward` is inherited.

# %% [solution] id=p_tuning
class PTuningPrompt(SoftPrompt):
    """P-tuning: the prompt is MLP(P_0), with MLP = Linear-ReLU-Linear-ReLU-Linear."""

    def __init__(self, embedding: nn.Embedding, n: int, hidden: int, init: str = "random",
                 init_ids=None):
        super().__init__(embedding, n, init, init_ids)
        ### BEGIN SOLUTION
        d = embedding.weight.shape[1]
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(),
                                 nn.Linear(hidden, hidden), nn.ReLU(),
                                 nn.Linear(hidden, d)).to(embedding.weight.device)
        ### END SOLUTION

    def prompt(self) -> torch.Tensor:
        ### BEGIN SOLUTION
        return self.mlp(self.P)                                         # (n, d): P = MLP(P_0)
        ### END SOLUTION


# %% [tests] id=test_p_tuning points=1
check_p_tuning(PTuningPrompt, SoftPrompt)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("prompt_tuning.p_tuning", PTuningPrompt=PTuningPrompt)
### END HIDDEN TESTS

# %% [markdown]
# ### Hard prompts against learned prompts
#
# The lecture's table (RTE-like premise/hypothesis task): four hand-written prompts reach
# 51.4 to 70.2 dev accuracy, P-tuning 76.5. Our version: the zero-shot hard prompts from
# Section 1 against the two learned prompts, on the same frozen encoder and label words, both
# trained on the 2,400 labelled training sentences in front of the best pattern.

# %% [skip-grading]
set_seed(0)
encoder = load_encoder()
ptune = SoftPromptMLM(encoder, PTuningPrompt(encoder.embed.tok, N_PROMPT, hidden=64, init="text",
                                             init_ids=label_ids), tok.mask_id, label_ids)
ptune_run = train_classifier(ptune, tok, train, epochs=EPOCHS, lr=LR_PTUNING, template=PATTERN,
                             seed=0)
ptune_acc = (evaluate(ptune, tok, dev, template=PATTERN),
             evaluate(ptune, tok, test, template=PATTERN))
rows = [(p, f"{d:.1%}", f"{t:.1%}") for p, (d, t) in hard_results.items()]
rows += [(f"Soft prompt tuning (n={N_PROMPT}) + '{BEST}'", f"{soft_acc[0]:.1%}",
          f"{soft_acc[1]:.1%}"),
         (f"P-tuning (n={N_PROMPT}, MLP) + '{BEST}'", f"{ptune_acc[0]:.1%}",
          f"{ptune_acc[1]:.1%}")]
plotting.show_table(["Prompt", "Dev acc.", "Test acc."], rows,
                    title="Hand-written prompts (zero-shot) vs learned prompts (frozen encoder)")

# %% [markdown]
# Both learned prompts score above the best hand-written prompt on the test set, as in the
# lecture's table. <!-- claim: prompt_tuning.learned_beat_hard --> They start from that
# prompt, so what they add is what 2,400 labels teach a few vectors in front of it.
#
# ## 4. From prompt tuning to prefix tuning
#
# A soft prompt acts only at the input: (a) in the lecture's picture (Lester et al., P-tuning),
# which works well for models of about 10 billion parameters and simple tasks. Deeper layers
# see the prompt only through what the frozen layers below make of it. **P-tuning v2** (b) puts
# trainable vectors into **every** layer (prefix tuning, Li & Liang 2021), and then works at
# most scales and on most tasks.
#
# In layer $j$, every real token $x_i$ still computes its query, key and value with the frozen
# projections,
#
# $$q_i = W_j^Q x_i, \qquad k_i = W_j^K x_i, \qquad v_i = W_j^V x_i ,$$
#
# and the layer gets $n$ extra keys and values that are *parameters*, $P_k^{(j)}, P_v^{(j)}
# \in \mathbb{R}^{n \times d}$ (split into heads like the real ones). Attention runs over
#
# $$K' = [P_k^{(j)} ; K], \qquad V' = [P_v^{(j)} ; V], \qquad
#   \text{softmax}\Big(\frac{Q K'^\top}{\sqrt{d_{head}}}\Big) V' ,$$
#
# with queries only from the real tokens: the sequence does not get longer, no position moves,
# and each token can read the prefix. The attention mask gains $n$ columns of ones (a causal
# mask never hides the prefix either). Trainable parameters: $L \cdot 2 \cdot n \cdot d$.
# The picture puts the two side by side.

# %%
fig = plotting.prompt_vs_prefix(n=3, tokens=["[CLS]", "x1", "x2", "[MASK]"], n_layers=3)

# %% [markdown]
# ### Exercise 5 ({{points}} points): `PrefixEncoder`, the `peft` layout
#
# `peft` stores all prefixes of all layers in one `nn.Embedding(n, L * 2 * d)`: row $i$ holds,
# for virtual token $i$, the keys and values of every layer. `forward(batch_size)` looks up the
# $n$ rows (ids `0..n-1`), views the result as `(B, n, 2L, H, d_head)`, permutes it to
# `(2L, B, H, n, d_head)` and splits it into $L$ chunks of 2: a tuple with one tensor
# `(2, B, H, n, d_head)` per layer (index 0 = keys $P_k$, 1 = values $P_v$).
#
# With `projection=True` (the reparameterisation of Li & Liang) the embedding is
# `nn.Embedding(n, d)` followed by `self.transform = nn.Sequential(Linear(d, hidden), Tanh,
# Linear(hidden, L * 2 * d))`; like P-tuning's MLP it only helps training and can be dropped
# afterwards (keep its output). Use the names `self.embedding` and `self.transform` (as `peft`
# does) so weights can be copied between the two.

# %% [solution] id=prefix_encoder
class PrefixEncoder(nn.Module):
    """Trainable prefix keys and values for every layer, in peft's layout."""

    def __init__(self, n: int, n_layers: int, d_model: int, n_heads: int,
                 projection: bool = False, hidden: int = 64):
        super().__init__()
        self.n, self.n_layers, self.d_model, self.n_heads = n, n_layers, d_model, n_heads
        self.projection = projection
        ### BEGIN SOLUTION
        if projection:
            self.embedding = nn.Embedding(n, d_model)                   # (n, d)
            self.transform = nn.Sequential(nn.Linear(d_model, hidden), nn.Tanh(),
                                           nn.Linear(hidden, n_layers * 2 * d_model))
        else:
            self.embedding = nn.Embedding(n, n_layers * 2 * d_model)    # (n, L * 2 * d)
        ### END SOLUTION

    def forward(self, batch_size: int) -> tuple:
        ### BEGIN SOLUTION
        ids = torch.arange(self.n, device=self.embedding.weight.device)            # (n,)
        pkv = self.embedding(ids)                                       # (n, L*2*d) or (n, d)
        if self.projection:
            pkv = self.transform(pkv)                                   # (n, L * 2 * d)
        B, H = batch_size, self.n_heads
        pkv = pkv.unsqueeze(0).expand(B, -1, -1)                        # (B, n, L * 2 * d)
        pkv = pkv.reshape(B, self.n, 2 * self.n_layers, H, self.d_model // H)  # (B, n, 2L, H, dh)
        pkv = pkv.permute(2, 0, 3, 1, 4)                                # (2L, B, H, n, d_head)
        return pkv.split(2)                                             # L x (2, B, H, n, d_head)
        ### END SOLUTION


# %% [tests] points=2
check_prefix_encoder(PrefixEncoder)

# %% [markdown]
# ### Exercise 6 ({{points}} points): plug the prefixes into attention
#
# `course_lib`'s attention calls `attn.kv_hook(k, v, attn_mask)` right after projecting the
# keys and values, if the hook is set: `k, v` have shape `(B, H, T, d_head)`; `attn_mask` is
# `None` (everyone may attend) or boolean, broadcastable to `(B, H, T_q, T_k)`, `True` = may
# attend (for padding it is `(B, 1, 1, T)`; a decoder's causal mask is `(1, 1, T, T)`).
#
# * `prefix_hook(P_k, P_v)` returns such a hook for prefixes of shape `(B, H, n, d_head)`: it
#   returns `[P_k ; K]`, `[P_v ; V]` (concatenated along the key axis) and the mask with $n$
#   `True` columns in front of its last axis (`None` stays `None`).
# * `PrefixTuningMLM(encoder, prefix_encoder, mask_id, label_word_ids)` freezes the encoder and
#   keeps `self.encoder` and `self.prefix_encoder`. Its `forward(input_ids, attention_mask)`
#   computes the prefixes for the batch (`self.prefix_encoder(B)`, one `(2, B, H, n, d_head)`
#   per layer), sets the hook of **every** block's attention (`block.attn.kv_hook`) with your
#   `prefix_hook`, runs the encoder, removes the hooks again (set them to `None`, even if the
#   forward fails), and returns the label-word logits at the `[MASK]` (which does not move
#   this time).

# %% [solution] id=prefix_hook
def prefix_hook(P_k: torch.Tensor, P_v: torch.Tensor):
    """A kv_hook that prepends trainable keys/values P_k, P_v (B, H, n, d_head) in one layer."""
    ### BEGIN SOLUTION
    def hook(k, v, attn_mask):
        k = torch.cat([P_k, k], dim=2)                                  # (B, H, n + T, d_head)
        v = torch.cat([P_v, v], dim=2)                                  # (B, H, n + T, d_head)
        if attn_mask is not None:
            ones = attn_mask.new_ones(*attn_mask.shape[:-1], P_k.shape[2])   # (..., T_q, n)
            attn_mask = torch.cat([ones, attn_mask], dim=-1)            # (..., T_q, n + T_k)
        return k, v, attn_mask
    return hook
    ### END SOLUTION


# %% [solution] id=prefix_tuning
class PrefixTuningMLM(nn.Module):
    """Frozen masked LM + trainable prefix keys/values in every layer (P-tuning v2)."""

    def __init__(self, encoder: nn.Module, prefix_encoder: nn.Module, mask_id: int,
                 label_word_ids):
        super().__init__()
        self.mask_id = mask_id
        self.register_buffer("label_word_ids", torch.as_tensor(label_word_ids, dtype=torch.long))
        ### BEGIN SOLUTION
        for p in encoder.parameters():
            p.requires_grad = False
        self.encoder = encoder
        self.prefix_encoder = prefix_encoder
        ### END SOLUTION

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        ### BEGIN SOLUTION
        past = self.prefix_encoder(input_ids.shape[0])                  # L x (2, B, H, n, d_head)
        for block, P in zip(self.encoder.blocks, past):
            block.attn.kv_hook = prefix_hook(P[0], P[1])                # every layer j
        try:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  return_logits=False)["hidden"]        # (B, T, d)
        finally:
            for block in self.encoder.blocks:
                block.attn.kv_hook = None
        t = mask_position(input_ids, self.mask_id)                      # (B,): does not move
        h = hidden[torch.arange(len(t), device=hidden.device), t]       # (B, d)
        return self.encoder.lm_head(h)[:, self.label_word_ids]         # (B, C)
        ### END SOLUTION


# %% [tests] id=test_prefix_tuning points=2
check_prefix_tuning(prefix_hook, PrefixTuningMLM)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("prompt_tuning.prefix_hook", prefix_hook=prefix_hook)
hidden_check("prompt_tuning.prefix_tuning", PrefixTuningMLM=PrefixTuningMLM)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Prompt tuning vs prefix tuning vs fine-tuning
#
# The lecture's table (SuperGLUE, dev): on BERT-large, prompt tuning (PT) falls far behind
# fine-tuning (FT), e.g. BoolQ 67.2 vs 77.7 and RTE 53.5 vs 70.4, while P-tuning v2 (PT-2)
# closes most of the gap (75.8, 78.3); only at 10B parameters does PT catch up. We train, with
# the same pattern, data and number of epochs, a prefix of the same length $n$ in every layer,
# and the full [CLS] classifier as the fine-tuning baseline.

# %% [skip-grading]
set_seed(0)
encoder = load_encoder()
cfg = encoder.config
prefix = PrefixTuningMLM(encoder, PrefixEncoder(N_PROMPT, cfg.n_layers, cfg.d_model,
                                                cfg.n_heads), tok.mask_id, label_ids)
prefix_run = train_classifier(prefix, tok, train, epochs=EPOCHS, lr=LR_PREFIX, template=PATTERN,
                              seed=0)
prefix_acc = (evaluate(prefix, tok, dev, template=PATTERN),
              evaluate(prefix, tok, test, template=PATTERN))
prefix_trainable = measure.count_parameters(prefix, trainable_only=True)
print(f"prefix tuning n={N_PROMPT}: dev {prefix_acc[0]:.1%}, test {prefix_acc[1]:.1%}, "
      f"{prefix_trainable:,} trainable parameters (L*2*n*d), {prefix_run['seconds']:.1f} s")

full = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
full_run = train_classifier(full, tok, train, epochs=EPOCHS, lr=LR_FULL, seed=0)
full_acc = (evaluate(full, tok, dev), evaluate(full, tok, test))
full_trainable = measure.count_parameters(full, trainable_only=True)
print(f"full fine-tuning: dev {full_acc[0]:.1%}, test {full_acc[1]:.1%}, "
      f"{full_trainable:,} trainable parameters, {full_run['seconds']:.1f} s")

# %% [skip-grading]
methods = {"Hard prompt, best on dev (zero-shot)": (0, hard_results[BEST]),
           "Hard prompt, worst on dev (zero-shot)": (0, hard_results[WORST]),
           f"PT: soft prompt, input only (n={N_PROMPT})": (soft_trainable, soft_acc),
           f"PT-2: prefix, every layer (n={N_PROMPT})": (prefix_trainable, prefix_acc),
           "FT: full fine-tuning ([CLS])": (full_trainable, full_acc)}
plotting.show_table(
    ["Method", "# Trainable parameters", "% of FT", "Dev acc.", "Test acc."],
    [(m, f"{n:,}", f"{n / full_trainable:.2%}", f"{a[0]:.1%}", f"{a[1]:.1%}")
     for m, (n, a) in methods.items()],
    title=f"Frozen encoder (4 layers, d = 64), {EPOCHS} epoch{'s' * (EPOCHS > 1)} each: "
          "what learning the prompt buys")

# %% [markdown]
# With the same $n$ and the same number of steps, the prefix in every layer scores above the
# input-only soft prompt, as PT-2 does above PT in the lecture's table.
# <!-- claim: prompt_tuning.prefix_beats_prompt --> It stays within 5 points of full
# fine-tuning while training about 1% of its parameters. <!-- claim: prompt_tuning.prefix_near_ft -->
# Why? The usual explanation is that a prefix acts on every layer's attention directly, while an
# input-only prompt must push its effect through the frozen layers from below; and a larger
# model's layers turn an input prompt into more, which is why PT catches up with PT-2 at 10B
# parameters in the lecture's table. The curves below cannot test that explanation: they are one
# seed, and the two methods trained with different learning rates ($10^{-2}$ for the prompt,
# $3 \cdot 10^{-2}$ for the prefix, each the best on dev), so a difference between them may come
# from either. Exercise 5 asks for the experiment that would.

# %% [skip-grading]
def smooth(xs, k=10):
    return [sum(xs[max(0, i - k + 1):i + 1]) / len(xs[max(0, i - k + 1):i + 1])
            for i in range(len(xs))]


steps = list(range(1, len(soft_run["losses"]) + 1))
fig = plotting.line_plot(steps, {"soft prompt (input only)": smooth(soft_run["losses"]),
                                 "P-tuning (MLP prompt)": smooth(ptune_run["losses"]),
                                 "prefix (every layer)": smooth(prefix_run["losses"])},
                         xlabel="training step (batch of 32)", ylabel="training loss (smoothed)",
                         title=f"Frozen encoder, n = {N_PROMPT} virtual tokens", markers=False)
widgets.table_slider(list(methods), methods, "method",
                     lambda m, r: f"<b>{m}</b>: {r[0]:,} trainable parameters, "
                                  f"dev {r[1][0]:.1%}, test {r[1][1]:.1%}")

# %% [markdown]
# ### P-tuning v2 drops the verbalizer
#
# P-tuning v2 (Liu et al. 2022, "P-Tuning v2: Prompt Tuning Can Be Comparable to Fine-tuning
# Universally Across Scales and Tasks") keeps the prefixes in every layer but changes the
# output: instead of a verbalizer (the label words' logits at the `[MASK]`), a randomly
# initialised **linear head** reads a token's hidden state, as BERT's [CLS] classifier does.
# The authors found the verbalizer unnecessary when there is enough labelled data, and a linear
# head also serves tasks with no label word at all, such as sequence labelling (a class for
# every token). It costs $C(d + 1)$ more trainable numbers and gives up zero-shot predictions:
# a new head means nothing before training.
#
# Your `PrefixTuningMLM` does this without a new line of code: its scores are
# `lm_head(h)[:, label_word_ids]`, so a new `nn.Linear(d, 4)` in place of the LM head, with
# label ids `0, 1, 2, 3`, turns the verbalizer into a linear head (on the `[MASK]`'s hidden
# state rather than [CLS]'s). The head trains with the prefix, same pattern, data and steps.

# %% [skip-grading]
set_seed(0)
encoder = load_encoder()
prefix_linear = PrefixTuningMLM(encoder, PrefixEncoder(N_PROMPT, cfg.n_layers, cfg.d_model,
                                                       cfg.n_heads),
                                tok.mask_id, list(range(len(TOPICS))))
encoder.lm_head = nn.Linear(cfg.d_model, len(TOPICS))          # new and trainable: (4, d) + 4
train_classifier(prefix_linear, tok, train, epochs=EPOCHS, lr=LR_PREFIX, template=PATTERN, seed=0)
linear_acc = (evaluate(prefix_linear, tok, dev, template=PATTERN),
              evaluate(prefix_linear, tok, test, template=PATTERN))
linear_trainable = measure.count_parameters(prefix_linear, trainable_only=True)
plotting.show_table(
    ["Prefix in every layer (n = 8), then ...", "# Trainable", "Dev acc.", "Test acc."],
    [("the verbalizer (label words at [MASK])", f"{prefix_trainable:,}", f"{prefix_acc[0]:.1%}",
      f"{prefix_acc[1]:.1%}"),
     ("a new linear head (P-tuning v2)", f"{linear_trainable:,}", f"{linear_acc[0]:.1%}",
      f"{linear_acc[1]:.1%}")],
    title=f"{len(train)} labelled sentences, {EPOCHS} epoch{'s' * (EPOCHS > 1)} each")

# %% [markdown]
# After one epoch the linear head is still below the verbalizer on the test set.
# <!-- claim: prompt_tuning.linear_head_behind --> It starts at chance, while the verbalizer
# starts at the zero-shot accuracy of the hard prompt and only has to improve it. P-tuning v2
# reports the two on par when models train to convergence on full data sets; our one epoch is
# a short budget, where a verbalizer's head start still shows (Exercise 6 trains longer).

# %% [markdown]
# ## 6. Prefix tuning for generation
#
# Li & Liang introduced prefix tuning for *generation*: a frozen GPT-2 writes a restaurant
# description from a table (the lecture's table-to-text example, "name[Clowns] customer-rating
# [1 out of 5] eatType[coffee shop] ...") or a summary from an article. The input $x$ (the
# linearised table) and the output $y$ (the text) form one sequence $[\,\text{prefix} ; x ;
# y\,]$; the loss is the log-likelihood of $y$ only, and only the prefix trains.
#
# Our version is a one-field table: $x$ = `topic : health`, $y$ = a news sentence of that
# topic, on the course's pre-trained causal decoder (same size as the encoder). The decoder's
# attention is causal, and the prefix sits in front of every position, so every token can
# read it; that is the "causal mask never hides the prefix" rule of Exercise 6.
#
# ### Exercise 7 ({{points}} points): `PrefixTuningLM`
#
# `PrefixTuningLM(decoder, prefix_encoder)` freezes the decoder and keeps `self.decoder` and
# `self.prefix_encoder`. Its `forward(input_ids, attention_mask=None)` returns the decoder's
# next-token logits `(B, T, V)` with the prefixes in every layer: the same hooks as in
# `PrefixTuningMLM` (use your `prefix_hook`), removed again after the forward, even if it
# fails.

# %% [solution] id=prefix_lm
class PrefixTuningLM(nn.Module):
    """Frozen causal LM + trainable prefix keys/values in every layer (Li & Liang 2021)."""

    def __init__(self, decoder: nn.Module, prefix_encoder: nn.Module):
        super().__init__()
        ### BEGIN SOLUTION
        for p in decoder.parameters():
            p.requires_grad = False
        self.decoder = decoder
        self.prefix_encoder = prefix_encoder
        ### END SOLUTION

    def forward(self, input_ids: torch.Tensor, attention_mask=None) -> torch.Tensor:
        ### BEGIN SOLUTION
        past = self.prefix_encoder(input_ids.shape[0])                  # L x (2, B, H, n, d_head)
        for block, P in zip(self.decoder.blocks, past):
            block.attn.kv_hook = prefix_hook(P[0], P[1])
        try:
            return self.decoder(input_ids=input_ids,
                                attention_mask=attention_mask)["logits"]   # (B, T, V)
        finally:
            for block in self.decoder.blocks:
                block.attn.kv_hook = None
        ### END SOLUTION


# %% [tests] points=1
check_prefix_lm(PrefixTuningLM)

# %% [markdown]
# **The data and the loss.** Each training pair becomes `[BOS] topic : health [SEP] <the
# sentence> [EOS]`; the labels are the next tokens of the sentence part only (the record's
# tokens get the ignored label $-100$). The loop is the one of Part 1a, with a language-model
# loss: AdamW over the parameters that require a gradient, which are the prefix's alone.

# %% [skip-grading]
def record(topic):
    return f"topic : {TOPICS[topic].lower()}"


def lm_batch(pairs):
    """[BOS] record [SEP] text [EOS], right-padded; labels = the text's tokens, else -100."""
    seqs, starts = [], []
    for rec, text in pairs:
        src = [tok.bos_id] + tok.encode(rec, add_cls=False) + [tok.sep_id]
        seqs.append(src + tok.encode(text, add_cls=False) + [tok.eos_id])
        starts.append(len(src))
    T = max(map(len, seqs))
    ids = torch.full((len(seqs), T), tok.pad_id, dtype=torch.long)
    labels = torch.full((len(seqs), T), -100, dtype=torch.long)
    for i, (s, start) in enumerate(zip(seqs, starts)):
        ids[i, :len(s)] = torch.tensor(s)
        labels[i, start:len(s)] = torch.tensor(s[start:])              # only y is predicted
    dev_ = get_device()
    return ids.to(dev_), (ids != tok.pad_id).long().to(dev_), labels.to(dev_)


def lm_loss(logits, labels):
    """Mean -log p(y_t | prefix, x, y_<t) over the text tokens: logits at t predict t + 1."""
    return F.cross_entropy(logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(),
                           ignore_index=-100)


@torch.no_grad()
def text_nll(model, examples, topic_of=lambda ex: ex.topic):
    """Per-token negative log-likelihood of the examples' texts given their records."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(examples), 100):
        chunk = examples[i:i + 100]
        ids, attn, labels = lm_batch([(record(topic_of(ex)), ex.text) for ex in chunk])
        n = int((labels[:, 1:] != -100).sum())
        total += lm_loss(model(ids, attn), labels).item() * n
        count += n
    return total / count


class FrozenLM(nn.Module):
    """The decoder as is, called like PrefixTuningLM: the zero-shot baseline."""

    def __init__(self, decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, input_ids, attention_mask=None):
        return self.decoder(input_ids=input_ids, attention_mask=attention_mask)["logits"]


GEN_PER_TOPIC, GEN_EPOCHS, LR_GEN = 160, 2, 3e-2
gen_train = few_shot(train, per_class=GEN_PER_TOPIC, seed=0)      # 640 (record, text) pairs
gen_test = test[::2]                                               # 400 held-out pairs
set_seed(0)
decoder = load_decoder()
dcfg = decoder.config
prefix_lm = PrefixTuningLM(decoder, PrefixEncoder(N_PROMPT, dcfg.n_layers, dcfg.d_model,
                                                  dcfg.n_heads)).to(get_device())
opt = torch.optim.AdamW([p for p in prefix_lm.parameters() if p.requires_grad], lr=LR_GEN)
prefix_lm.train()
for _ in tqdm(range(GEN_EPOCHS), desc="generation prefix, epochs"):
    for i in range(0, len(gen_train), 32):
        ids, attn, labels = lm_batch([(record(ex.topic), ex.text) for ex in gen_train[i:i + 32]])
        loss = lm_loss(prefix_lm(ids, attn), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
prefix_lm.eval()
frozen_lm = FrozenLM(load_decoder())
wrong = lambda ex: (ex.topic + 1) % len(TOPICS)                    # another topic's record
gen_nll = {name: (text_nll(m, gen_test), text_nll(m, gen_test, wrong))
           for name, m in (("frozen decoder (zero-shot)", frozen_lm),
                           (f"prefix tuning (n = {N_PROMPT})", prefix_lm))}
gen_trainable = measure.count_parameters(prefix_lm, trainable_only=True)
plotting.show_table(
    ["Decoder", "Trainable", "Perplexity, own record", "Perplexity, another topic's record"],
    [(name, f"{gen_trainable if 'prefix' in name else 0:,}", f"{math.exp(a):.2f}",
      f"{math.exp(b):.2f}") for name, (a, b) in gen_nll.items()],
    title=f"Test sentences given 'topic : ...' ({len(gen_train)} training pairs, "
          f"{GEN_EPOCHS} epochs)")


@torch.no_grad()
def greedy_text(model, topic, steps=24):
    ids = torch.tensor([[tok.bos_id] + tok.encode(record(topic), add_cls=False) + [tok.sep_id]],
                       device=get_device())
    start = ids.shape[1]
    for _ in range(steps):                                       # greedy, one token a step
        nxt = model(ids, torch.ones_like(ids))[:, -1].argmax(-1, keepdim=True)
        ids = torch.cat([ids, nxt], dim=1)
        if nxt.item() == tok.eos_id:
            break
    return tok.decode(ids[0, start:])


for t in range(len(TOPICS)):
    print(f"{record(t):<22} -> {greedy_text(prefix_lm, t)}")

# %% [markdown]
# The prefix (its few thousand numbers are the table's second column) lowers the decoder's
# perplexity on the task's test sentences. <!-- claim: prompt_tuning.gen_prefix_helps --> But
# at this scale it does not learn to *read* the record: a test sentence is about as likely
# under another topic's record as under its own (the last two columns differ by less than
# 5%), and the greedy samples above do not follow the topic.
# <!-- claim-not-held: prompt_tuning.gen_reads_record --> The reason: the frozen 4-layer
# decoder never saw a "topic : ..." field during pre-training, and in 40 steps a prefix can
# shift what the decoder writes in general (the format, the domain) but cannot teach its
# frozen attention to route one new field into every later token. Li & Liang's GPT-2 already
# reads such text, and their prefixes train for several epochs on tens of thousands of
# table-text pairs.
#
# ## Summary
#
# * Hand-written prompts give zero-shot predictions, but the wording alone moves accuracy by
#   tens of points and the best one is found only by trying.
# * Soft prompt tuning learns $n$ vectors $P$ prepended to the embeddings, $[P ; E(x)]$: $n d$
#   trainable numbers, the mask grows by $n$ ones, positions after the prompt move by $n$.
#   Started from the best hand-written pattern and the label words, it improves on it.
# * P-tuning produces the prompt with a prompt encoder (the paper: a bidirectional LSTM and an
#   MLP, plus anchor words; `peft`'s default: an MLP on each row), a reparameterisation meant to
#   ease optimisation.
# * Prefix tuning / P-tuning v2 adds trainable keys and values $[P_k ; K], [P_v ; V]$ in every
#   layer: $2 L n d$ numbers, no longer sequence, and nearer to full fine-tuning than an
#   input-only prompt. P-tuning v2 reads the class from a new linear head instead of a
#   verbalizer.
# * The same prefixes condition a frozen decoder for generation, where the loss is the
#   likelihood of the output text only.
#
# ## Exercises
#
# 1. Initialise the soft prompt with `"random"` and with `"vocab"` instead of the label words
#    (same learning rate). Which start does best after one epoch, and how far apart are they
#    before training?
# 2. Train the prefix with `projection=True` (Li & Liang's reparameterisation). Does the loss
#    curve become smoother? After training, compute the prefixes once and check that a
#    `PrefixEncoder` without projection, holding them in its embedding, gives the same scores.
# 3. Vary $n$ (2, 8, 32) for the soft prompt and the prefix. How do trainable parameters and
#    accuracy grow?
# 4. Section 6: train the generation prefix on all 2,400 pairs for more epochs. At what point,
#    if any, does the perplexity under the wrong record rise above that under the own record?
# 5. Is the prefix better because it acts in every layer, or because of its learning rate?
#    Train the soft prompt and the prefix with the *same* learning rates (each of $10^{-2}$ and
#    $3 \cdot 10^{-2}$) on three seeds, and report means and spreads.
# 6. Train the prefix with the linear head and the prefix with the verbalizer for 1, 2 and 4
#    epochs. Does the gap close, as P-tuning v2 finds for full training?
#
# <details><summary>Answers</summary>
#
# 1. Measure it: build `SoftPrompt(encoder.embed.tok, 8, "random")` and `"vocab"`, evaluate
#    before and after `train_classifier`. A random start puts vectors of norm about 8 (the
#    standard normal in $d = 64$) in front of the pattern, far from any word embedding, so
#    expect it to start lower and need the training more.
# 2. `PrefixEncoder(8, L, d, H, projection=True)`; then
#    `plain = PrefixEncoder(8, L, d, H)` and copy the rows: `plain.embedding.weight` gets
#    `pe.transform(pe.embedding.weight)`; the scores agree to float precision, which is why
#    the transform can be dropped after training.
# 3. Trainable parameters grow linearly: $n d$ for the prompt, $2 L n d$ for the prefix.
#    Accuracy need not grow with them; plot it with `plotting.line_plot`.
# 4. Loop over epochs and print both perplexities after each; the gap between the two
#    columns is the measure of how much the decoder reads the record.
# 5. Four runs per seed (two methods, two rates), each `train_classifier(..., seed=s)` after
#    `set_seed(s)`; only if the prefix wins at both rates and on every seed does "every layer"
#    explain the gap. A difference smaller than the spread over seeds explains nothing.
# 6. Rebuild both models for each budget (the cells of Section 5) and train with
#    `epochs=e`; expect the head's deficit to shrink as it learns what the verbalizer had for
#    free, and measure whether it vanishes.
#
# </details>
#
# **Check yourself.** (1) Why must the attention mask grow by $n$ ones for a soft prompt, and
# what happens to the `[MASK]` index? (2) A soft prompt vector need not be the embedding of any
# word: why is that an advantage over discrete prompt search? (3) Why is a prefix of all zeros
# *not* the identity (hint: what does a key of zeros do to the softmax)? (4) How many
# parameters does prefix tuning train on BERT-large (24 layers, $d = 1024$) with $n = 20$?
#
# <details><summary>Answers</summary>
#
# (1) Otherwise the prompt is masked out or the shapes disagree; it moves right by $n$.
# (2) The search is continuous and differentiable, so gradient descent can find it. (3) A zero
# key scores 0, so it still takes softmax mass and mixes a zero value into every output.
# (4) $24 \cdot 2 \cdot 20 \cdot 1024 = 983{,}040$, about 0.3% of 335M.
#
# </details>
