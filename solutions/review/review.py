# %% [markdown]
# # Quiz review: Model Efficiency
#
# **For the written, closed-book quiz.** The lecture's tips for it: get familiar with the
# formulas, understand the intuition behind each formula and design, and know the pros and cons
# of the approaches. So each part gives the formulas as on the slides with a two-line intuition
# each, a worked example you can change and re-run, a pros-and-cons table, and self-check
# questions that answer instantly and explain every wrong option. The graded practice quiz
# (`practice_quiz.ipynb`) asks other questions, with other numbers, and written "why" questions.
#
# | Part | Formulas |
# |---|---|
# | 1 Parameter-efficient fine-tuning | [CLS] head, [MASK] + verbalizer, soft prompt, prefix, adapter, LoRA |
# | 2 Mixture of experts | softmax gate, top-k output, load balancing |
# | 3 Compression | magnitude pruning, int8 quantization, distillation loss |
# | 4 Inference | KV cache memory, selective caches |
#
# Your instructor may hand out a printable version of the formulas and tables (no code).

# %% [setup]
import torch
import torch.nn.functional as F
import torch.nn.utils.prune as prune

from course_lib import self_check
from course_lib.plotting import show_table

# %% [markdown]
# ## Part 1: Parameter-efficient fine-tuning (PEFT)
#
# **Why.** Fine-tuning every weight for every task stores one full model (or classifier) per
# task. PEFT freezes the pre-trained model and trains a small subset of parameters; the
# lecture lists the advantages: lower GPU memory, faster training, reduced storage, easier
# deployment across tasks, at comparable accuracy.
#
# **[CLS] classification.** $P(y \mid x) = \mathrm{softmax}\big(W\, h_{[\text{CLS}]}(x) + b\big)$
# with a new $W \in \mathbb{R}^{C \times d}$. *Intuition:* the pre-trained encoder gives a good
# initialisation; the new head is random, so it needs labelled data before it predicts anything.
#
# **[MASK] + pattern + verbalizer.** $P(y \mid x) = \mathrm{softmax}_{y}\big(
# \mathrm{MLM}(\,\text{pattern}(x)\,)_{[\text{MASK}],\,v(y)}\big)$: score each label by the
# logit of its word $v(y)$ at the mask; softmax over the label words only.
# *Intuition:* re-use the pre-trained MLM head and the meaning of the label words, so it can
# predict zero-shot and needs fewer training examples (the lecture's two points). But the
# pattern's wording matters: in the lecture's table, four wordings of "[X] is located in [Y]"
# score 31.29, 19.78, 31.40 and 51.08 P@1.
#
# **Soft prompt tuning.** Input $[P; E(x)]$ with trainable $P \in \mathbb{R}^{n \times d}$:
# $n d$ parameters. *Intuition:* let gradient descent write the prompt (in the lecture's table,
# P-tuning reaches 76.45 where the best of four hand-written prompts reaches 70.15); only at the
# input, so it needs very large models to match fine-tuning.
#
# **Prefix tuning / P-tuning v2.** At every layer $j$, attention uses keys
# $[P_k^{(j)}; W_j^K x]$ and values $[P_v^{(j)}; W_j^V x]$ (queries only from the real tokens):
# $2 n d$ parameters per layer. *Intuition:* steer every layer, not just the input; works across
# model sizes.
#
# **Adapter.** $h \leftarrow h + W_{up}\, f(W_{down} h + b_{down}) + b_{up}$, bottleneck
# $m = d / \text{reduction}$: $2dm + d + m$ parameters. *Intuition:* a small residual MLP
# inserted in each block; it starts near the identity, so training starts from the pre-trained
# function.
#
# **LoRA.** $h = W_{old} x + W_\Delta x$, $W_\Delta = \frac{\alpha}{r} B A$,
# $B \in \mathbb{R}^{d\times r}$ (starts at 0), $A \in \mathbb{R}^{r \times k}$ (random):
# $r(d + k)$ parameters per matrix. *Intuition:* the fine-tuning update has low rank; after
# training it merges into $W$, so inference costs nothing extra. The factor $\alpha / r$ lets
# Hu et al. keep $\alpha$ (and the learning rate) when they change $r$; the update's size still
# depends on $r$ (rsLoRA scales by $\alpha / \sqrt{r}$ instead).

# %%
d, k, r, layers = 768, 768, 8, 12                     # RoBERTa-base
lora = layers * 2 * r * (d + k)                       # W_q and W_v of every layer: r (d + k) each
m = d // 12                                           # adapter bottleneck, reduction 12
adapter = 2 * d * m + d + m                           # W_down, b_down, W_up, b_up
n = 20
prefix = layers * 2 * n * d                           # P_k and P_v (n x d) of every layer
prompt = n * d                                        # P (n x d), input only
show_table(["Method (RoBERTa-base sizes)", "Trainable parameters", "of 125M"],
           [(name, f"{count:,}", f"{count / 125e6:.3%}") for name, count in
            [("LoRA r=8 on W_q, W_v", lora), (f"one adapter, m={m}", adapter), (f"prefix n={n}, all layers", prefix),
             (f"soft prompt n={n}", prompt)]])

# %% [markdown]
# | | [MASK] + hand-written prompt | Soft prompt | Prefix (P-tuning v2) | Adapter | LoRA |
# |---|---|---|---|---|---|
# | What trains | nothing (zero-shot), or the model on a few examples | $nd$ prompt vectors | $2nd$ per layer | $2dm+d+m$ per adapter | $r(d+k)$ per adapted matrix |
# | Labelled data | none needed zero-shot | needed | needed | needed | needed |
# | Who picks the prompt | a person, by trial and error | gradient descent | gradient descent | no prompt | no prompt |
# | Inference overhead | the pattern's tokens | $n$ extra tokens | $n$ extra keys/values per layer | two extra sublayers per block (latency) | none once merged |
# | Multi-task serving | zero-shot: one model, a pattern per task | mix tasks in one batch | mix tasks in one batch | swap adapters | swap $A, B$ or merge per task |
# | Lecture's numbers | 19.78 to 51.08 P@1 across four wordings | close to fine-tuning only at 10B (GLM BoolQ 88.8 vs 88.7) | close from 335M (BERT-large BoolQ 75.8 vs 77.7) | RoBERTa-base, 0.3M / 0.9M: 84.4 / 85.4 average | RoBERTa-base, 0.3M: 87.2 against 86.4 for full fine-tuning |

# %%
self_check.ask("peft")

# %%
self_check.summary("peft")

# %% [markdown]
# ## Part 2: Mixture of experts (MoE)
#
# **Gate.** $p_i(x) = \dfrac{e^{h(x)_i}}{\sum_j^N e^{h(x)_j}}$: a softmax over the $N$ experts
# of the router logits $h(x)$. *Intuition:* a learned, per-token choice of specialists.
#
# **Output.** $y = \sum_{i \in \mathcal{T}} p_i(x) E_i(x)$, $\mathcal{T}$ = the top-$k$ gate
# values. *Intuition:* only $k$ of the $N$ experts run: parameters grow with $N$, compute per
# token with $k$. (Mixtral renormalises the $k$ weights to sum to 1.)
#
# **Load balancing (Switch Transformer, Fedus et al. 2021; not on the lecture's slides).**
# $\mathcal{L}_{aux} = N \sum_i f_i P_i$, $f_i$ = fraction of tokens routed to expert $i$,
# $P_i$ = mean router probability of expert $i$. It equals 1 under uniform routing
# ($f_i = P_i = 1/N$); it is not a minimum: it can fall below 1. Its gradient, through $P_i$,
# lowers the probability of the experts that receive the most tokens. *Intuition:* Shazeer et
# al. (2017) saw gates trained on the task loss alone favour the same few experts, an imbalance
# that feeds itself (the favoured experts train more); the loss keeps every expert in use.
# Whether a router collapses without it at our scale is what the MoE notebook's §5 measures: it
# trains with and without the loss and compares the expert loads.

# %%
h = torch.tensor([2.0, 1.0, 0.0, -1.0])               # router logits h(x), N = 4
p = torch.softmax(h, dim=-1)                           # (4,): p_i(x)
weights, chosen = p.topk(2)                            # (2,), (2,): top-2
E = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 1.0]])   # (4, 2): E_i(x)
y = (weights[:, None] * E[chosen]).sum(0)              # (2,): sum of p_i E_i over the top 2
print("p(x) =", [round(v, 3) for v in p.tolist()])
print("top-2 experts", chosen.tolist(), "weights", [round(v, 3) for v in weights.tolist()],
      f"(sum {weights.sum():.3f}; Mixtral would renormalise to 1)")
print("y =", [round(v, 3) for v in y.tolist()])

# %% [markdown]
# | | Dense FFN | MoE, $N$ experts, top-$k$ |
# |---|---|---|
# | Parameters | $P$ | about $N \cdot P$ |
# | Compute per token | $P$ | about $k \cdot P$ |
# | Memory to serve | $P$ | all $N \cdot P$ must be loaded |
# | Training | simple | a router to train; Switch adds a balance loss so no expert idles; a capacity limit drops the tokens that overflow an expert |

# %%
self_check.ask("moe")

# %%
self_check.summary("moe")

# %% [markdown]
# ## Part 3: Compression: pruning, quantization, distillation
#
# **Magnitude pruning.** Zero the fraction of weights with the smallest $|w|$ (per layer or
# globally); the lecture's granularities are weights, neurons, attention heads and layers.
# *Intuition:* many weights matter little; but zeros only save time when whole rows, heads or
# layers go. In the lecture's table, dropping 6 of BERT's 12 layers costs 2.18 points on SST-2
# and 7.84 on MRPC.
#
# **Quantization.** $q = \mathrm{clamp}(\mathrm{round}(x / s) + z, q_{min}, q_{max})$,
# $\hat{x} = (q - z)\, s$; symmetric absmax int8: $s = \max|x| / 127$, $z = 0$; asymmetric
# (affine): $s = (\max x - \min x) / (q_{max} - q_{min})$ and a zero point $z$.
# *Intuition:* store 8 (or 4) bits instead of 32 (or 16); the rounding error is at most $s/2$;
# one scale per row (per-channel) keeps an outlier from ruining the whole matrix. The slide's
# examples: $123.45 \to 123$, $10.789654 \to 10$.
#
# **Formats.** Bytes per weight: fp32 4, fp16 and bf16 2, fp8 and int8 1, int4 half (an 8B
# model: 32, 16, 8, 4 GB). fp16 (5 exponent bits) overflows above 65,504; bf16 keeps fp32's
# 8-bit exponent (range) with 7 mantissa bits (2 to 3 digits); integers need a scale.
# LLM.int8() keeps the few outlier *feature dimensions* of the activations in 16 bits and
# multiplies the rest in int8 (a mixed-precision decomposition).
# QLoRA fine-tunes LoRA's $A, B$ on a frozen 4-bit base: half a byte per frozen weight.
#
# **Distillation.** $\mathcal{L} = \alpha\, T^2\, \mathrm{KL}\big(\mathrm{softmax}(z_t/T)
# \,\|\, \mathrm{softmax}(z_s/T)\big) + (1 - \alpha)\, \mathrm{CE}(z_s, y)$: mimic the teacher's
# behaviour and learn from the data (the lecture's two halves). *Intuition:* the teacher's soft
# probabilities say which wrong classes are close; $T$ softens them and $T^2$ keeps the
# gradient size. For LLMs the lecture's form is "copy training data": fine-tune the student on
# the teacher's outputs (DeepSeek-R1-Distill).

# %%
torch.manual_seed(0)
layer = torch.nn.Linear(4, 3)
prune.l1_unstructured(layer, "weight", amount=0.5)     # torch's reference: round(0.5 * 12) = 6
print("50% magnitude pruning keeps", int(layer.weight_mask.sum()), "of 12 weights:\n",
      layer.weight.detach().round(decimals=2))

x = torch.tensor([123.45, 10.789654, -50.0])
s = x.abs().max() / 127                                 # symmetric absmax scale
q = torch.clamp(torch.round(x / s), -127, 127)          # (3,): int8 codes
print(f"\nint8: s = {s:.4f}, codes {q.int().tolist()}, dequantized "
      f"{[round(v, 3) for v in (q * s).tolist()]}")
print(f"10.789654: round to nearest gives {round(10.789654)}, the slide writes 10")

teacher, student = torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0]])   # (1, 2) logits
for T in (1.0, 4.0):
    kl = F.kl_div(F.log_softmax(student / T, -1), F.softmax(teacher / T, -1),
                  reduction="batchmean") * T**2         # T^2 KL(p_t || p_s)
    print(f"T = {T:.0f}: T^2 KL = {kl:.4f}; teacher probs "
          f"{[round(v, 3) for v in F.softmax(teacher / T, -1)[0].tolist()]}")

# %% [markdown]
# | | Pruning | Quantization | Distillation |
# |---|---|---|---|
# | What shrinks | number of weights (or neurons, heads, layers) | bits per weight | the whole model (fewer layers) |
# | What gets faster | only structured removal, or unstructured with sparse kernels | memory traffic; int8 kernels where the hardware has them | fewer layers, less time per input: DistilBERT (6 of 12 layers) takes 410 s where BERT-base takes 668 s (the lecture's table), not half |
# | Needs retraining | at low sparsity no; at high sparsity yes (Part 3a: pruning 90% of the weights costs tens of points, and one epoch of fine-tuning with the mask fixed wins most of them back); dropped layers need it too | no (post-training; GPTQ/AWQ calibrate) | yes: train the student |
# | Lecture's numbers | dropping 6 of 12 BERT layers: -2.18 on SST-2, -7.84 on MRPC | 4-bit GPTQ / AWQ on Llama-3.1-8B: 1.26 to 2.32 below FP16 on average; SmoothQuant 8/8 at 405B: 2.44 below | DistilBERT: 66M against 110M parameters, GLUE 77.0 against 79.5 |

# %%
self_check.ask("compression")

# %%
self_check.summary("compression")

# %% [markdown]
# ## Part 4: Inference and the KV cache
#
# **KV cache.** At step $t$ the new token's query attends to all past keys and values, which
# never change: compute them once, keep them per layer, append one row per step. *Intuition:*
# trade memory for time; a step costs $O(t)$ instead of re-running the whole prefix.
#
# **Memory.** $2 \times \text{layers} \times \text{heads} \times d_{head} \times
# \text{tokens} \times \text{batch} \times \text{bytes}$. Appending with `torch.cat` copies
# the whole cache each step; serving libraries pre-allocate the buffer and write in place.
#
# **Selective caches.** Keep a budget of tokens: a sliding window; StreamingLLM = the first few
# tokens (attention sinks) + a recent window; H2O = a recent window + the "heavy hitters" with
# the largest accumulated attention. *Intuition:* most attention mass falls on few tokens.

# %%
layers, heads, d_head, tokens, bytes_fp16 = 32, 32, 128, 4096, 2     # Llama-2-7B
kv_bytes = 2 * layers * heads * d_head * tokens * bytes_fp16         # K and V, batch 1
print(f"Llama-2-7B KV cache at {tokens} tokens: {kv_bytes / 2**30:.1f} GiB "
      f"({kv_bytes / tokens / 2**20:.2f} MiB per token)")

# %% [markdown]
# | | Full cache | Sliding window | StreamingLLM | H2O |
# |---|---|---|---|---|
# | Memory | grows with length | fixed | fixed | fixed |
# | What is lost | nothing | everything older than the window, the first tokens included | the middle of the sequence | old tokens with little accumulated attention |
# | Quality (the papers' reports) | exact | breaks once the first tokens are evicted | stable on long streams | close to the full cache at moderate budgets |
# | Cost | none | none | none | tracking the attention scores |

# %%
self_check.ask("kv_cache")

# %%
self_check.summary("kv_cache")
