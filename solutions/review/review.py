# %% [markdown]
# # Quiz review: Model Efficiency
#
# **For the closed-book written quiz.** Each part gives the formulas as on the slides, a
# two-line intuition for each, a worked example you can change and re-run, a pros-and-cons
# table, and self-check questions that answer instantly and explain every wrong option.
#
# | Part | Formulas |
# |---|---|
# | 1 Parameter-efficient fine-tuning | verbalizer, soft prompt, prefix, adapter, LoRA |
# | 2 Mixture of experts | softmax gate, top-k output, load balancing |
# | 3 Compression | magnitude pruning, int8 quantization, distillation loss |
# | 4 Inference | KV cache memory, selective caches |
#
# A printable version (formulas and tables, no code) is made by `make summary`.

# %% [setup]
import torch
import torch.nn.functional as F
import torch.nn.utils.prune as prune

from course_lib import self_check
from course_lib.plotting import show_table

# %% [markdown]
# ## Part 1: Parameter-efficient fine-tuning (PEFT)
#
# **Why.** Fine-tuning every weight for every task stores one full model per task. PEFT freezes
# the pre-trained model and trains a small subset: less memory, faster training, small per-task
# files, comparable accuracy.
#
# **[MASK] + prompt + verbalizer.** $P(y \mid x) = \mathrm{softmax}_{y}\big(
# \mathrm{MLM}(\,\text{pattern}(x)\,)_{[\text{MASK}],\,v(y)}\big)$: score each label by the
# logit of its word $v(y)$ at the mask; softmax over the label words only.
# *Intuition:* re-use the pre-trained MLM head instead of a new classifier, so it works
# zero-shot and with few examples; but the pattern's wording changes accuracy a lot.
#
# **Soft prompt tuning.** Input $[P; E(x)]$ with trainable $P \in \mathbb{R}^{n \times d}$:
# $n d$ parameters. *Intuition:* let gradient descent write the prompt; only at the input, so
# it needs very large models to match fine-tuning.
#
# **Prefix tuning / P-tuning v2.** At every layer $j$, attention uses keys
# $[P_k^{(j)}; W_j^K x]$ and values $[P_v^{(j)}; W_j^V x]$: $2 n d$ parameters per layer.
# *Intuition:* steer every layer, not just the input; works across model sizes.
#
# **Adapter.** $h \leftarrow h + W_{up}\, f(W_{down} h + b_{down}) + b_{up}$, bottleneck
# $m = d / \text{reduction}$: $2dm + d + m$ parameters. *Intuition:* a small residual MLP
# inserted in each layer; starts near the identity.
#
# **LoRA.** $h = W_{old} x + W_\Delta x$, $W_\Delta = \frac{\alpha}{r} B A$,
# $B \in \mathbb{R}^{d\times r}$ (starts at 0), $A \in \mathbb{R}^{r \times k}$ (random):
# $r(d + k)$ parameters per matrix. *Intuition:* the fine-tuning update has low rank; after
# training it merges into $W$, so inference costs nothing extra.

# %%
d, k, r, layers = 768, 768, 8, 12
lora = layers * 2 * r * (d + k)                       # W_q and W_v of every layer
m = d // 12                                           # adapter bottleneck, reduction 12
adapter = 2 * d * m + d + m
n = 20
prefix = layers * 2 * n * d                           # P_k and P_v of every layer
prompt = n * d                                        # input only
show_table(["Method (RoBERTa-base sizes)", "Trainable parameters", "of 125M"],
           [(name, f"{count:,}", f"{count / 125e6:.3%}") for name, count in
            [("LoRA r=8 on W_q, W_v", lora), ("one adapter, m=64", adapter),
             ("prefix n=20, all layers", prefix), ("soft prompt n=20", prompt)]])

# %% [markdown]
# | | Soft prompt | Prefix (P-tuning v2) | Adapter | LoRA |
# |---|---|---|---|---|
# | Trainable parameters | $nd$ (smallest) | $2nd$ per layer | $2dm+d+m$ per adapter | $r(d+k)$ per matrix |
# | Inference overhead | $n$ extra tokens | $n$ extra keys/values per layer | extra layers (latency) | none once merged |
# | Multi-task serving | mix tasks in one batch | mix tasks in one batch | swap adapters | swap $A, B$ or merge per task |
# | Small models | weak (needs ~10B) | close to fine-tuning | close to fine-tuning | matches fine-tuning (lecture's table) |
# | Hand-written prompt needed | no | no | no | no |

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
# **Load balancing (Switch).** $\mathcal{L}_{aux} = N \sum_i f_i P_i$, $f_i$ = fraction of
# tokens routed to expert $i$, $P_i$ = mean router probability; 1 when balanced. *Intuition:*
# without it the router collapses onto a few experts.

# %%
h = torch.tensor([2.0, 1.0, 0.0, -1.0])               # router logits h(x), N = 4
p = torch.softmax(h, dim=-1)                           # p_i(x)
weights, chosen = p.topk(2)                            # top-2
E = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [-1.0, 1.0]])   # E_i(x), 2-dim outputs
y = (weights[:, None] * E[chosen]).sum(0)              # sum of p_i E_i over the top 2
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
# | Training | simple | router collapse, needs a balance loss; capacity limits drop tokens |

# %%
self_check.ask("moe")

# %%
self_check.summary("moe")

# %% [markdown]
# ## Part 3: Compression: pruning, quantization, distillation
#
# **Magnitude pruning.** Zero the fraction of weights with the smallest $|w|$ (per layer or
# globally); structured pruning removes whole neurons, heads or layers. *Intuition:* many
# weights matter little; but zeros only save time when whole rows/blocks go.
#
# **Quantization.** $q = \mathrm{clamp}(\mathrm{round}(x / s) + z, q_{min}, q_{max})$,
# $\hat{x} = (q - z)\, s$; symmetric absmax int8: $s = \max|x| / 127$, $z = 0$. *Intuition:*
# store 8 (or 4) bits instead of 32; rounding error is at most $s/2$; one scale per row
# (per-channel) keeps an outlier from ruining the whole matrix.
#
# **Distillation.** $\mathcal{L} = \alpha\, T^2\, \mathrm{KL}\big(\mathrm{softmax}(z_t/T)
# \,\|\, \mathrm{softmax}(z_s/T)\big) + (1 - \alpha)\, \mathrm{CE}(z_s, y)$. *Intuition:* the
# teacher's soft probabilities say which wrong classes are close; $T$ softens them and $T^2$
# keeps the gradient size.

# %%
torch.manual_seed(0)
layer = torch.nn.Linear(4, 3)
prune.l1_unstructured(layer, "weight", amount=0.5)     # torch's reference: round(0.5 * 12) = 6
print("50% magnitude pruning keeps", int(layer.weight_mask.sum()), "of 12 weights:\n",
      layer.weight.detach().round(decimals=2))

x = torch.tensor([123.45, 10.789654, -50.0])
s = x.abs().max() / 127                                 # symmetric absmax scale
q = torch.clamp(torch.round(x / s), -127, 127)          # int8 codes
print(f"\nint8: s = {s:.4f}, codes {q.int().tolist()}, dequantized {(q * s).tolist()}")
print("the slide truncates 10.789654 to", int(10.789654), "; rounding gives",
      round(10.789654))

teacher, student = torch.tensor([[2.0, 0.0]]), torch.tensor([[1.0, 0.0]])
for T in (1.0, 4.0):
    kl = F.kl_div(F.log_softmax(student / T, -1), F.softmax(teacher / T, -1),
                  reduction="batchmean") * T**2
    print(f"T = {T:.0f}: T^2 KL = {kl:.4f}; teacher probs {F.softmax(teacher / T, -1)[0].tolist()}")

# %% [markdown]
# | | Pruning | Quantization | Distillation |
# |---|---|---|---|
# | What shrinks | number of weights (or neurons, heads, layers) | bits per weight | the whole model (fewer layers) |
# | What speeds up | only structured removal (or sparse kernels) | memory traffic; int8 kernels | everything, proportionally |
# | Needs retraining | no (a short fine-tune helps) | no (post-training; GPTQ/AWQ calibrate) | yes: train the student |
# | Lecture's numbers | dropping 4 of 12 layers keeps most of GLUE | 4-bit GPTQ/AWQ within ~2 points on Llama-3.1-8B | DistilBERT: 40% smaller, 60% faster, 97% of the score |

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
# \text{tokens} \times \text{batch} \times \text{bytes}$.
#
# **Selective caches.** Keep a budget of tokens: a sliding window; StreamingLLM = the first few
# tokens (attention sinks) + a recent window; H2O = a recent window + the "heavy hitters" with
# the largest accumulated attention. *Intuition:* most attention mass falls on few tokens.

# %%
layers, heads, d_head, tokens, bytes_fp16 = 32, 32, 128, 4096, 2     # Llama-2-7B
kv_bytes = 2 * layers * heads * d_head * tokens * bytes_fp16
print(f"Llama-2-7B KV cache at {tokens} tokens: {kv_bytes / 2**30:.1f} GiB "
      f"({kv_bytes / tokens / 2**20:.2f} MiB per token)")

# %% [markdown]
# | | Full cache | Sliding window | StreamingLLM | H2O |
# |---|---|---|---|---|
# | Memory | grows with length | fixed | fixed | fixed |
# | What is lost | nothing | everything older than the window, including the first tokens | old middle tokens | old tokens with little accumulated attention |
# | Quality | exact | breaks once the first tokens are evicted | stable for long streams | close to full at moderate budgets |
# | Cost | none | none | none | track attention scores |

# %%
self_check.ask("kv_cache")

# %%
self_check.summary("kv_cache")
