# %% [markdown]
# # Part 1b: Soft Prompt Tuning, P-tuning and Prefix Tuning
#
# **Lecture 11, Model Efficiency: parameter-efficient fine-tuning.** Hand-written prompts turn
# the pre-trained masked language model into a zero-shot classifier, but which prompt works is
# hard to guess. Here the model *learns* its prompt: first a few vectors in front of the input
# (soft prompt tuning, P-tuning), then trainable keys and values in every attention layer
# (prefix tuning, P-tuning v2). The pre-trained encoder stays frozen throughout.
#
# | | |
# |---|---|
# | You will write | `SoftPrompt`, `SoftPromptMLM`, `PTuningPrompt` (Sections 2 and 3) |
# | and | `PrefixEncoder`, `prefix_hook`, `PrefixTuningMLM` (Section 4) |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 45 minutes; every cell runs in seconds on a laptop CPU |
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

from course_lib import measure, plotting, widgets
from course_lib.checks.prompt_tuning import (check_p_tuning, check_prefix_encoder,
                                             check_prefix_tuning, check_soft_prompt,
                                             check_soft_prompt_mlm)
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.tokenizer import SPECIAL_TOKENS
from course_lib.training import evaluate, train_classifier

MASK_ID = SPECIAL_TOKENS.index("[MASK]")                  # id of [MASK] in the course tokenizer
LABEL_WORDS = ["sports", "finance", "technology", "health"]   # the verbalizer v(l), one per topic


def mask_position(input_ids: torch.Tensor) -> torch.Tensor:
    """Index of the (one) [MASK] token in each row. input_ids (B, T) -> (B,)"""
    return (input_ids == MASK_ID).long().argmax(dim=-1)                     # (B,)


def verbalizer_scores(logits: torch.Tensor, mask_pos: torch.Tensor, label_ids) -> torch.Tensor:
    """s(l | x) = MLM logit of the label word v(l) at the [MASK] position (given code).

    logits (B, T, V), mask_pos (B,), label_ids (C,) -> scores (B, C). Cross-entropy on these
    scores is the softmax over the label words only.
    """
    rows = torch.arange(logits.shape[0], device=logits.device)
    return logits[rows, mask_pos][:, label_ids]                            # (B, C)


class HardPromptMLM(nn.Module):
    """A hand-written prompt: the pattern's [MASK] is scored by the verbalizer (given code)."""

    def __init__(self, encoder: nn.Module, label_ids):
        super().__init__()
        self.encoder = encoder
        self.register_buffer("label_ids", torch.as_tensor(label_ids))

    def forward(self, input_ids, attention_mask):
        logits = self.encoder(input_ids=input_ids, attention_mask=attention_mask)["logits"]
        return verbalizer_scores(logits, mask_position(input_ids), self.label_ids)   # (B, C)


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
# The setup cell gives you this scoring (`verbalizer_scores`, `HardPromptMLM`; writing it is the
# exercise of the prompting notebook). With no training at all, how much does the wording of
# the pattern matter? The lecture's LAMA example: "[X] is located in [Y]." gets P@1 31.3, and
# "[X] is located in which country? In [Y]." gets 51.1.

# %%
set_seed(0)
tok = load_tokenizer()
train, dev, test = load_topic("train"), load_topic("dev"), load_topic("test")
label_ids = [tok.token_id(w) for w in LABEL_WORDS]
PATTERN = "{x} [MASK]"          # the pattern every learned prompt below starts from


def template(pattern):
    return lambda x: pattern.replace("{x}", x)


print(f"{len(train)} training sentences, {len(dev)} dev, {len(test)} test; verbalizer: "
      + ", ".join(f"{t} -> {w!r}" for t, w in zip(TOPICS, LABEL_WORDS)))

# %% [skip-grading]
HARD_PROMPTS = ["please read this sentence : {x} what is the topic ? [MASK]",
                "{x} what is the topic ? [MASK] .",
                "{x} is related to [MASK]",
                "{x} [MASK]",
                "{x} this is about [MASK] .",
                "{x} the topic is [MASK] .",
                "[MASK] : {x}"]
hard = HardPromptMLM(load_encoder(), label_ids)
hard_results = {p: (evaluate(hard, tok, dev, template=template(p)),
                     evaluate(hard, tok, test, template=template(p))) for p in HARD_PROMPTS}
plotting.show_table(["Prompt (zero-shot)", "Dev acc.", "Test acc."],
                    [(p, f"{d:.1%}", f"{t:.1%}") for p, (d, t) in hard_results.items()],
                    title="Same model, same label words, different wording (chance: 25%)")

# %% [markdown]
# The spread between the best and the worst hand-written prompt is as large as in the
# lecture, and nothing tells us in advance which prompt wins. Searching over discrete words is
# awkward (the words are not differentiable). Hence the idea: **let the model learn good
# prompts by itself.**
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
# How to initialise $P$? Lester et al. compare three options, which `peft` also offers:
# `"random"` (standard normal, like `nn.Embedding`), `"vocab"` (rows of the embedding matrix
# $E$ at $n$ random token ids) and `"text"` (the embeddings of a text's tokens, repeated until
# there are $n$ of them, then cut to $n$).
#
# ### Exercise 1 ({{points}} points): `SoftPrompt`
#
# `SoftPrompt(embedding, n, init="random", init_ids=None)` receives the model's frozen
# `nn.Embedding` (only to initialise from; do **not** keep it as a submodule, or its weights
# would count as the prompt's). Store `self.n` and the trainable `self.P`, an `nn.Parameter` of
# shape `(n, d)` initialised as above (`init_ids`: the token ids of the text for `"text"`), on
# the embedding's device. Then write
#
# * `prompt()`: the prompt matrix $P$, shape `(n, d)` (Exercise 3 overrides it);
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


# %% [tests] id=test_soft_prompt points=3
check_soft_prompt(SoftPrompt)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("prompt_tuning.soft_prompt", SoftPrompt=SoftPrompt)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 2 ({{points}} points): classify with a soft prompt
#
# `SoftPromptMLM(encoder, soft_prompt, label_ids)` freezes **every** parameter of the encoder
# and keeps `self.encoder` and `self.soft_prompt`. Its `forward(input_ids, attention_mask)`
# looks up the token embeddings $E(x)$ (`encoder.embed.tok`), prepends the prompt, runs the
# encoder with `inputs_embeds=` and the extended mask, and returns the verbalizer scores
# `(B, C)` at the `[MASK]`, whose position has moved by $n$ (use the given `mask_position` and
# `verbalizer_scores`).

# %% [solution] id=soft_prompt_mlm
class SoftPromptMLM(nn.Module):
    """Frozen masked LM + trainable soft prompt; scores the label words at the [MASK]."""

    def __init__(self, encoder: nn.Module, soft_prompt: SoftPrompt, label_ids):
        super().__init__()
        self.register_buffer("label_ids", torch.as_tensor(label_ids))
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
        logits = self.encoder(inputs_embeds=x, attention_mask=mask)["logits"]   # (B, n + T, V)
        mask_pos = mask_position(input_ids) + self.soft_prompt.n        # (B,): shifted by n
        return verbalizer_scores(logits, mask_pos, self.label_ids)      # (B, C)
        ### END SOLUTION


# %% [tests] id=test_soft_prompt_mlm points=2
check_soft_prompt_mlm(SoftPromptMLM, SoftPrompt, HardPromptMLM)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("prompt_tuning.soft_prompt_mlm", SoftPromptMLM=SoftPromptMLM, SoftPrompt=SoftPrompt)
### END HIDDEN TESTS

# %% [markdown]
# ### Train a soft prompt
#
# We start from the plain pattern `"{x} [MASK]"` and learn $n = 8$ prompt vectors in front of
# it, initialised from the embeddings of the words of a hand-written prompt. A soft prompt
# needs a large learning rate: it is a handful of vectors pushing a frozen network.

# %% [skip-grading]
N_PROMPT, EPOCHS, LR_PROMPT, LR_PREFIX = 8, 2, 3e-2, 3e-2
INIT_TEXT = "please read this sentence : what is the topic ?"
set_seed(0)
encoder = load_encoder()
soft = SoftPromptMLM(encoder, SoftPrompt(encoder.embed.tok, N_PROMPT, "text",
                                         tok.encode(INIT_TEXT, add_cls=False)), label_ids)
soft_run = train_classifier(soft, tok, train, epochs=EPOCHS, lr=LR_PROMPT,
                            template=template(PATTERN), seed=0)
soft_acc = (evaluate(soft, tok, dev, template=template(PATTERN)),
            evaluate(soft, tok, test, template=template(PATTERN)))
soft_trainable = measure.count_parameters(soft, trainable_only=True)
print(f"soft prompt n={N_PROMPT}: dev {soft_acc[0]:.1%}, test {soft_acc[1]:.1%}, "
      f"{soft_trainable:,} trainable parameters (n*d = {N_PROMPT}*64), "
      f"{soft_run['seconds']:.1f} s")

# %% [markdown]
# ## 3. P-tuning: reparameterise the prompt (Liu et al. 2021)
#
# P-tuning does not train the prompt vectors directly: it passes trainable embeddings through
# a small network and uses its output as the prompt. In `peft` this is an MLP
#
# $$P = \text{MLP}(P_0) = W_3\,\text{ReLU}\big(W_2\,\text{ReLU}(W_1 P_0 + b_1) + b_2\big) + b_3 ,$$
#
# applied to each row of $P_0 \in \mathbb{R}^{n \times d}$. The MLP couples the prompt
# vectors, which makes optimisation less sensitive to the learning rate and the
# initialisation. After training, only $P = \text{MLP}(P_0)$ needs to be kept.
#
# ### Exercise 3 ({{points}} points): `PTuningPrompt`
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
from autograde.hidden import hidden_check
hidden_check("prompt_tuning.p_tuning", PTuningPrompt=PTuningPrompt)
### END HIDDEN TESTS

# %% [markdown]
# ### Hard prompts against learned prompts
#
# The lecture's table (RTE-like premise/hypothesis task): four hand-written prompts reach
# 51.4 to 70.2 dev accuracy, P-tuning 76.5. Our version: the zero-shot hard prompts from
# Section 1 against the two learned prompts, on the same frozen encoder and label words.

# %% [skip-grading]
set_seed(0)
encoder = load_encoder()
ptune = SoftPromptMLM(encoder, PTuningPrompt(encoder.embed.tok, N_PROMPT, hidden=64, init="text",
                                             init_ids=tok.encode(INIT_TEXT, add_cls=False)),
                      label_ids)
ptune_run = train_classifier(ptune, tok, train, epochs=EPOCHS, lr=LR_PROMPT / 10,
                             template=template(PATTERN), seed=0, progress=False)
ptune_acc = (evaluate(ptune, tok, dev, template=template(PATTERN)),
             evaluate(ptune, tok, test, template=template(PATTERN)))
rows = [(p, f"{d:.1%}", f"{t:.1%}") for p, (d, t) in hard_results.items()]
rows += [(f"Soft prompt tuning (n={N_PROMPT}) + '{PATTERN}'", f"{soft_acc[0]:.1%}",
          f"{soft_acc[1]:.1%}"),
         (f"P-tuning (n={N_PROMPT}, MLP) + '{PATTERN}'", f"{ptune_acc[0]:.1%}",
          f"{ptune_acc[1]:.1%}")]
plotting.show_table(["Prompt", "Dev acc.", "Test acc."], rows,
                    title="Hand-written prompts (zero-shot) vs learned prompts (frozen encoder)")

# %% [markdown]
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
#
# ### Exercise 4 ({{points}} points): `PrefixEncoder`, the `peft` layout
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


# %% [tests] id=test_prefix_encoder points=2
check_prefix_encoder(PrefixEncoder)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("prompt_tuning.prefix_encoder", PrefixEncoder=PrefixEncoder)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 5 ({{points}} points): plug the prefixes into attention
#
# `course_lib`'s attention calls `attn.kv_hook(k, v, attn_mask)` right after projecting the
# keys and values, if the hook is set: `k, v` have shape `(B, H, T, d_head)`; `attn_mask` is
# `None` (everyone may attend) or boolean, broadcastable to `(B, H, T_q, T_k)`, `True` = may
# attend (for padding it is `(B, 1, 1, T)`; a decoder's causal mask is `(1, 1, T, T)`).
#
# * `prefix_hook(P_k, P_v)` returns such a hook for prefixes of shape `(B, H, n, d_head)`: it
#   returns `[P_k ; K]`, `[P_v ; V]` (concatenated along the key axis) and the mask with $n$
#   `True` columns in front of its last axis (`None` stays `None`).
# * `PrefixTuningMLM(encoder, prefix_encoder, label_ids)` freezes the encoder and keeps
#   `self.encoder` and `self.prefix_encoder`. Its `forward(input_ids, attention_mask)` computes
#   the prefixes for the batch, sets the hook of **every** block's attention
#   (`block.attn.kv_hook`), runs the encoder, removes the hooks again (set them to `None`, even
#   if the forward fails), and returns the verbalizer scores at the `[MASK]` (which does not
#   move this time).

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

    def __init__(self, encoder: nn.Module, prefix_encoder: PrefixEncoder, label_ids):
        super().__init__()
        self.register_buffer("label_ids", torch.as_tensor(label_ids))
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
            logits = self.encoder(input_ids=input_ids, attention_mask=attention_mask)["logits"]
        finally:
            for block in self.encoder.blocks:
                block.attn.kv_hook = None
        return verbalizer_scores(logits, mask_position(input_ids), self.label_ids)   # (B, C)
        ### END SOLUTION


# %% [tests] id=test_prefix_tuning points=2
check_prefix_tuning(prefix_hook, PrefixTuningMLM, PrefixEncoder)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("prompt_tuning.prefix_hook", prefix_hook=prefix_hook)
hidden_check("prompt_tuning.prefix_tuning", PrefixTuningMLM=PrefixTuningMLM,
             PrefixEncoder=PrefixEncoder)
### END HIDDEN TESTS

# %% [markdown]
# ## 5. Prompt tuning vs prefix tuning vs fine-tuning
#
# The lecture's table (SuperGLUE, dev): on BERT-large, prompt tuning (PT) falls far behind
# fine-tuning (FT), e.g. BoolQ 67.2 vs 77.7 and RTE 53.5 vs 70.4, while P-tuning v2 (PT-2)
# closes the gap (75.8, 78.3); only at 10B parameters does PT catch up. We train, with the same
# pattern, data and number of epochs, a prefix of the same length $n$ in every layer, and the
# full [CLS] classifier as the fine-tuning baseline.

# %% [skip-grading]
set_seed(0)
encoder = load_encoder()
cfg = encoder.config
prefix = PrefixTuningMLM(encoder, PrefixEncoder(N_PROMPT, cfg.n_layers, cfg.d_model,
                                                cfg.n_heads), label_ids)
prefix_run = train_classifier(prefix, tok, train, epochs=EPOCHS, lr=LR_PREFIX,
                              template=template(PATTERN), seed=0)
prefix_acc = (evaluate(prefix, tok, dev, template=template(PATTERN)),
              evaluate(prefix, tok, test, template=template(PATTERN)))
prefix_trainable = measure.count_parameters(prefix, trainable_only=True)
print(f"prefix tuning n={N_PROMPT}: dev {prefix_acc[0]:.1%}, test {prefix_acc[1]:.1%}, "
      f"{prefix_trainable:,} trainable parameters (L*2*n*d), {prefix_run['seconds']:.1f} s")

full = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
full_run = train_classifier(full, tok, train, epochs=3, lr=1e-3, seed=0, progress=False)
full_acc = (evaluate(full, tok, dev), evaluate(full, tok, test))
full_trainable = measure.count_parameters(full, trainable_only=True)
print(f"full fine-tuning: dev {full_acc[0]:.1%}, test {full_acc[1]:.1%}, "
      f"{full_trainable:,} trainable parameters, {full_run['seconds']:.1f} s")

# %% [skip-grading]
best = max(hard_results, key=lambda p: hard_results[p][0])      # chosen on dev
worst = min(hard_results, key=lambda p: hard_results[p][0])
methods = {"Hard prompt, best on dev (zero-shot)": (0, hard_results[best]),
           "Hard prompt, worst on dev (zero-shot)": (0, hard_results[worst]),
           f"PT: soft prompt, input only (n={N_PROMPT})": (soft_trainable, soft_acc),
           f"PT-2: prefix, every layer (n={N_PROMPT})": (prefix_trainable, prefix_acc),
           "FT: full fine-tuning ([CLS])": (full_trainable, full_acc)}
plotting.show_table(
    ["Method", "# Trainable parameters", "% of FT", "Dev acc.", "Test acc."],
    [(m, f"{n:,}", f"{n / full_trainable:.2%}", f"{a[0]:.1%}", f"{a[1]:.1%}")
     for m, (n, a) in methods.items()],
    title="Frozen encoder (4 layers, d = 64): what learning the prompt buys")

# %% [markdown]
# The training curves show where the difference comes from: with the same $n$, a prefix acts
# on every layer's attention, an input-only prompt has to push its effect through the frozen
# layers from below. (In the lecture's table this matters less as models grow: at 10B
# parameters PT catches up with PT-2.)

# %% [skip-grading]
def smooth(xs, k=10):
    return [sum(xs[max(0, i - k + 1):i + 1]) / len(xs[max(0, i - k + 1):i + 1])
            for i in range(len(xs))]


steps = list(range(1, len(soft_run["losses"]) + 1))
fig = plotting.line_plot(steps, {"soft prompt (input only)": smooth(soft_run["losses"]),
                                 "P-tuning (MLP prompt)": smooth(ptune_run["losses"]),
                                 "prefix (every layer)": smooth(prefix_run["losses"])},
                         xlabel="training step (batch of 32)", ylabel="training loss (smoothed)",
                         title=f"Frozen encoder, n = {N_PROMPT} virtual tokens")
for line in fig.axes[0].lines:
    line.set_marker("")
fig.axes[0].legend()
widgets.table_slider(list(methods), methods, "method",
                     lambda m, r: f"<b>{m}</b>: {r[0]:,} trainable parameters, "
                                  f"dev {r[1][0]:.1%}, test {r[1][1]:.1%}")

# %% [markdown]
# ## Summary
#
# * Hand-written prompts give zero-shot predictions, but the wording alone moves accuracy by
#   tens of points and the best one is found only by trying.
# * Soft prompt tuning learns $n$ vectors $P$ prepended to the embeddings, $[P ; E(x)]$: $n d$
#   trainable numbers, the mask grows by $n$ ones, positions after the prompt move by $n$.
# * P-tuning produces the prompt with an MLP (reparameterisation) to ease optimisation.
# * Prefix tuning / P-tuning v2 adds trainable keys and values $[P_k ; K], [P_v ; V]$ in every
#   layer: $2 L n d$ numbers, no longer sequence, and much closer to full fine-tuning.
#
# **Check yourself.** (1) Why must the attention mask grow by $n$ ones for a soft prompt, and
# what happens to the `[MASK]` index? (2) A soft prompt vector need not be the embedding of any
# word: why is that an advantage over discrete prompt search? (3) Why is a prefix of all zeros
# *not* the identity (hint: what does a key of zeros do to the softmax)? (4) How many
# parameters does prefix tuning train on BERT-large (24 layers, $d = 1024$) with $n = 20$?
# *(Answers: otherwise the prompt is masked out or the shapes disagree; it moves right by $n$;
# the search is continuous and differentiable, so gradient descent can find it; a zero key
# scores 0, so it still takes softmax mass and mixes a zero value into every output;
# $24 \cdot 2 \cdot 20 \cdot 1024 = 983{,}040$, about 0.3% of 335M.)*
