# %% [markdown]
# # Practice quiz: Model Efficiency
#
# One point per question. Write your answer in the cell below each question:
# an option **number** (0, 1, 2, ...) for multiple choice, a **number** for numeric
# questions (3 significant figures are enough), a short **text** for formulas.
# Your answers are graded when you hand the notebook in; the review notebook
# (`review.ipynb`) has the same questions with instant feedback.

# %% [markdown]
# ## Parameter-efficient fine-tuning

# %% [markdown]
# **peft_lora_count.** LoRA with rank $r = 8$ on $W_q$ and $W_v$ of RoBERTa-base ($d = k = 768$, 12 layers). How many trainable parameters?

# %% [solution] id=peft_lora_count
### BEGIN SOLUTION
peft_lora_count = 294912
### END SOLUTION

# %% [tests] id=test_peft_lora_count points=1
assert "peft_lora_count" in dir(), "keep the variable name peft_lora_count"
print("answer recorded:", peft_lora_count)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.peft_lora_count", answer=peft_lora_count)
### END HIDDEN TESTS

# %% [markdown]
# **peft_adapter_count.** A bottleneck adapter with $d = 768$ and bottleneck $m = 64$ (down-projection, nonlinearity, up-projection, both with biases). How many parameters?

# %% [solution] id=peft_adapter_count
### BEGIN SOLUTION
peft_adapter_count = 99136
### END SOLUTION

# %% [tests] id=test_peft_adapter_count points=1
assert "peft_adapter_count" in dir(), "keep the variable name peft_adapter_count"
print("answer recorded:", peft_adapter_count)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.peft_adapter_count", answer=peft_adapter_count)
### END HIDDEN TESTS

# %% [markdown]
# **peft_prefix_count.** Prefix tuning (P-tuning v2) with $n = 20$ prefix vectors for keys and for values at every layer of a 12-layer model with $d = 768$. How many trainable parameters (no reparameterisation)?

# %% [solution] id=peft_prefix_count
### BEGIN SOLUTION
peft_prefix_count = 368640
### END SOLUTION

# %% [tests] id=test_peft_prefix_count points=1
assert "peft_prefix_count" in dir(), "keep the variable name peft_prefix_count"
print("answer recorded:", peft_prefix_count)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.peft_prefix_count", answer=peft_prefix_count)
### END HIDDEN TESTS

# %% [markdown]
# **peft_lora_scaling.** Complete LoRA's forward pass: $h = W_0 x + (\;?\;)\, B A x$. Type the scaling factor (e.g. `alpha/r`).

# %% [solution] id=peft_lora_scaling
### BEGIN SOLUTION
peft_lora_scaling = 'alpha/r'
### END SOLUTION

# %% [tests] id=test_peft_lora_scaling points=1
assert "peft_lora_scaling" in dir(), "keep the variable name peft_lora_scaling"
print("answer recorded:", peft_lora_scaling)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.peft_lora_scaling", answer=peft_lora_scaling)
### END HIDDEN TESTS

# %% [markdown]
# **peft_lora_init.** How does LoRA initialise $A$ and $B$?
#
# 0. Both zero
# 1. A random, B zero
# 2. A zero, B random
# 3. Both random

# %% [solution] id=peft_lora_init
### BEGIN SOLUTION
peft_lora_init = 1
### END SOLUTION

# %% [tests] id=test_peft_lora_init points=1
assert "peft_lora_init" in dir(), "keep the variable name peft_lora_init"
print("answer recorded:", peft_lora_init)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.peft_lora_init", answer=peft_lora_init)
### END HIDDEN TESTS

# %% [markdown]
# **peft_merge.** Which method adds **no** inference latency once training is done?
#
# 0. Adapters
# 1. Prefix tuning
# 2. LoRA (merged)
# 3. Soft prompt tuning

# %% [solution] id=peft_merge
### BEGIN SOLUTION
peft_merge = 2
### END SOLUTION

# %% [tests] id=test_peft_merge points=1
assert "peft_merge" in dir(), "keep the variable name peft_merge"
print("answer recorded:", peft_merge)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.peft_merge", answer=peft_merge)
### END HIDDEN TESTS

# %% [markdown]
# **peft_prompt_vs_prefix.** Soft prompt tuning (Lester et al.) differs from P-tuning v2 because it ...
#
# 0. learns vectors only at the input embedding layer
# 1. updates the model's attention weights
# 2. needs a hand-written prompt
# 3. works best for small models

# %% [solution] id=peft_prompt_vs_prefix
### BEGIN SOLUTION
peft_prompt_vs_prefix = 0
### END SOLUTION

# %% [tests] id=test_peft_prompt_vs_prefix points=1
assert "peft_prompt_vs_prefix" in dir(), "keep the variable name peft_prompt_vs_prefix"
print("answer recorded:", peft_prompt_vs_prefix)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.peft_prompt_vs_prefix", answer=peft_prompt_vs_prefix)
### END HIDDEN TESTS

# %% [markdown]
# **peft_verbalizer.** In [MASK] classification with a verbalizer, the class probabilities are ...
#
# 0. the softmax over the whole vocabulary at [CLS]
# 1. the softmax over the whole vocabulary at [MASK], read at the label words
# 2. a new linear layer on the [MASK] embedding
# 3. the softmax over the label words' MLM logits at [MASK]

# %% [solution] id=peft_verbalizer
### BEGIN SOLUTION
peft_verbalizer = 3
### END SOLUTION

# %% [tests] id=test_peft_verbalizer points=1
assert "peft_verbalizer" in dir(), "keep the variable name peft_verbalizer"
print("answer recorded:", peft_verbalizer)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.peft_verbalizer", answer=peft_verbalizer)
### END HIDDEN TESTS

# %% [markdown]
# ## Mixture of experts

# %% [markdown]
# **moe_gate.** A router gives $h(x) = [2, 1, 0, -1]$ for $N = 4$ experts. What is the gate value $p_1(x)$ of the first expert? (3 significant figures)

# %% [solution] id=moe_gate
### BEGIN SOLUTION
moe_gate = 0.644
### END SOLUTION

# %% [tests] id=test_moe_gate points=1
assert "moe_gate" in dir(), "keep the variable name moe_gate"
print("answer recorded:", moe_gate)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.moe_gate", answer=moe_gate)
### END HIDDEN TESTS

# %% [markdown]
# **moe_top2_weight.** Same $h(x) = [2, 1, 0, -1]$, top-2 routing. With the lecture's form $y = \sum_{i \in T} p_i(x) E_i(x)$, what is the total weight $p_1 + p_2$ given to the two chosen experts? (3 significant figures)

# %% [solution] id=moe_top2_weight
### BEGIN SOLUTION
moe_top2_weight = 0.881
### END SOLUTION

# %% [tests] id=test_moe_top2_weight points=1
assert "moe_top2_weight" in dir(), "keep the variable name moe_top2_weight"
print("answer recorded:", moe_top2_weight)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.moe_top2_weight", answer=moe_top2_weight)
### END HIDDEN TESTS

# %% [markdown]
# **moe_active.** An MoE layer has 8 experts and routes each token to the top 2. Compared with one dense feed-forward block of the same expert size, per token it computes ...
#
# 0. 8 times the FLOPs
# 1. about 2 times the FLOPs
# 2. the same FLOPs
# 3. 1/8 of the FLOPs

# %% [solution] id=moe_active
### BEGIN SOLUTION
moe_active = 1
### END SOLUTION

# %% [tests] id=test_moe_active points=1
assert "moe_active" in dir(), "keep the variable name moe_active"
print("answer recorded:", moe_active)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.moe_active", answer=moe_active)
### END HIDDEN TESTS

# %% [markdown]
# **moe_balance.** Switch Transformer's load-balancing loss is $N \sum_i f_i P_i$. What is its value when routing is perfectly uniform?

# %% [solution] id=moe_balance
### BEGIN SOLUTION
moe_balance = 1
### END SOLUTION

# %% [tests] id=test_moe_balance points=1
assert "moe_balance" in dir(), "keep the variable name moe_balance"
print("answer recorded:", moe_balance)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.moe_balance", answer=moe_balance)
### END HIDDEN TESTS

# %% [markdown]
# **moe_top1_renorm.** Why is renormalising the weights of a **top-1** router a bug?
#
# 0. The weight is always 1, so the router gets no gradient from the output
# 1. It makes the output twice as large
# 2. It sends every token to the same expert
# 3. It is not a bug

# %% [solution] id=moe_top1_renorm
### BEGIN SOLUTION
moe_top1_renorm = 0
### END SOLUTION

# %% [tests] id=test_moe_top1_renorm points=1
assert "moe_top1_renorm" in dir(), "keep the variable name moe_top1_renorm"
print("answer recorded:", moe_top1_renorm)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.moe_top1_renorm", answer=moe_top1_renorm)
### END HIDDEN TESTS

# %% [markdown]
# **moe_softmax.** Complete: the gate routing $p(x)$ is the ______ of the router logits $h(x)$ over the $N$ experts.

# %% [solution] id=moe_softmax
### BEGIN SOLUTION
moe_softmax = 'softmax'
### END SOLUTION

# %% [tests] id=test_moe_softmax points=1
assert "moe_softmax" in dir(), "keep the variable name moe_softmax"
print("answer recorded:", moe_softmax)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.moe_softmax", answer=moe_softmax)
### END HIDDEN TESTS

# %% [markdown]
# ## Pruning, quantization and distillation

# %% [markdown]
# **comp_round.** The slide quantizes 10.789654 to 10. What does round-to-nearest give?

# %% [solution] id=comp_round
### BEGIN SOLUTION
comp_round = 11
### END SOLUTION

# %% [tests] id=test_comp_round points=1
assert "comp_round" in dir(), "keep the variable name comp_round"
print("answer recorded:", comp_round)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.comp_round", answer=comp_round)
### END HIDDEN TESTS

# %% [markdown]
# **comp_absmax_scale.** Symmetric absmax int8 quantization of $x = [123.45, 10.789654, -50.0]$: the scale is $s = \max|x| / 127$. What is $s$? (3 significant figures)

# %% [solution] id=comp_absmax_scale
### BEGIN SOLUTION
comp_absmax_scale = 0.972
### END SOLUTION

# %% [tests] id=test_comp_absmax_scale points=1
assert "comp_absmax_scale" in dir(), "keep the variable name comp_absmax_scale"
print("answer recorded:", comp_absmax_scale)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.comp_absmax_scale", answer=comp_absmax_scale)
### END HIDDEN TESTS

# %% [markdown]
# **comp_absmax_code.** With that scale ($s = 123.45/127$), what is the int8 code of 10.789654?

# %% [solution] id=comp_absmax_code
### BEGIN SOLUTION
comp_absmax_code = 11
### END SOLUTION

# %% [tests] id=test_comp_absmax_code points=1
assert "comp_absmax_code" in dir(), "keep the variable name comp_absmax_code"
print("answer recorded:", comp_absmax_code)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.comp_absmax_code", answer=comp_absmax_code)
### END HIDDEN TESTS

# %% [markdown]
# **comp_prune.** Magnitude pruning with amount 0.25 of a weight with 10 entries (torch.nn.utils.prune semantics): how many entries are zeroed?

# %% [solution] id=comp_prune
### BEGIN SOLUTION
comp_prune = 2
### END SOLUTION

# %% [tests] id=test_comp_prune points=1
assert "comp_prune" in dir(), "keep the variable name comp_prune"
print("answer recorded:", comp_prune)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.comp_prune", answer=comp_prune)
### END HIDDEN TESTS

# %% [markdown]
# **comp_kl_T1.** Teacher logits $[2, 0]$, student logits $[1, 0]$, temperature $T = 1$. What is the distillation term $T^2\,\mathrm{KL}(p_t \| p_s)$? (3 significant figures)

# %% [solution] id=comp_kl_T1
### BEGIN SOLUTION
comp_kl_T1 = 0.0671
### END SOLUTION

# %% [tests] id=test_comp_kl_T1 points=1
assert "comp_kl_T1" in dir(), "keep the variable name comp_kl_T1"
print("answer recorded:", comp_kl_T1)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.comp_kl_T1", answer=comp_kl_T1)
### END HIDDEN TESTS

# %% [markdown]
# **comp_kl_T4.** Same logits at $T = 4$: what is $T^2\,\mathrm{KL}(p_t \| p_s)$? (3 significant figures)

# %% [solution] id=comp_kl_T4
### BEGIN SOLUTION
comp_kl_T4 = 0.12
### END SOLUTION

# %% [tests] id=test_comp_kl_T4 points=1
assert "comp_kl_T4" in dir(), "keep the variable name comp_kl_T4"
print("answer recorded:", comp_kl_T4)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.comp_kl_T4", answer=comp_kl_T4)
### END HIDDEN TESTS

# %% [markdown]
# **comp_speed.** Which change makes a dense CPU/GPU matrix multiplication faster without special sparse kernels?
#
# 0. Zeroing 50% of the weights (unstructured magnitude pruning)
# 1. Zeroing random weights
# 2. Removing 50% of the FFN neurons (structured)
# 3. Masking the pruned weights during training

# %% [solution] id=comp_speed
### BEGIN SOLUTION
comp_speed = 2
### END SOLUTION

# %% [tests] id=test_comp_speed points=1
assert "comp_speed" in dir(), "keep the variable name comp_speed"
print("answer recorded:", comp_speed)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.comp_speed", answer=comp_speed)
### END HIDDEN TESTS

# %% [markdown]
# **comp_which.** Which compression method needs training a new model?
#
# 0. Post-training int8 quantization
# 1. Magnitude pruning without retraining
# 2. GPTQ
# 3. Distillation

# %% [solution] id=comp_which
### BEGIN SOLUTION
comp_which = 3
### END SOLUTION

# %% [tests] id=test_comp_which points=1
assert "comp_which" in dir(), "keep the variable name comp_which"
print("answer recorded:", comp_which)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.comp_which", answer=comp_which)
### END HIDDEN TESTS

# %% [markdown]
# **comp_distilbert.** DistilBERT keeps how many of BERT-base's 12 layers, and how much of its GLUE score?
#
# 0. 3 layers, 90%
# 1. 6 layers, 97%
# 2. 6 layers, 80%
# 3. 12 layers, 100%

# %% [solution] id=comp_distilbert
### BEGIN SOLUTION
comp_distilbert = 1
### END SOLUTION

# %% [tests] id=test_comp_distilbert points=1
assert "comp_distilbert" in dir(), "keep the variable name comp_distilbert"
print("answer recorded:", comp_distilbert)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.comp_distilbert", answer=comp_distilbert)
### END HIDDEN TESTS

# %% [markdown]
# ## KV cache

# %% [markdown]
# **kv_llama_bytes.** KV cache of Llama-2-7B (32 layers, 32 KV heads, head size 128, fp16) for one sequence of 4,096 tokens, in GiB?

# %% [solution] id=kv_llama_bytes
### BEGIN SOLUTION
kv_llama_bytes = 2.0
### END SOLUTION

# %% [tests] id=test_kv_llama_bytes points=1
assert "kv_llama_bytes" in dir(), "keep the variable name kv_llama_bytes"
print("answer recorded:", kv_llama_bytes)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.kv_llama_bytes", answer=kv_llama_bytes)
### END HIDDEN TESTS

# %% [markdown]
# **kv_what.** What does a KV cache store?
#
# 0. Q, K and V of every past token
# 1. K and V of every past token, per layer
# 2. The logits of every past step
# 3. Only the last token's K and V

# %% [solution] id=kv_what
### BEGIN SOLUTION
kv_what = 1
### END SOLUTION

# %% [tests] id=test_kv_what points=1
assert "kv_what" in dir(), "keep the variable name kv_what"
print("answer recorded:", kv_what)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.kv_what", answer=kv_what)
### END HIDDEN TESTS

# %% [markdown]
# **kv_streaming.** StreamingLLM keeps, besides a window of recent tokens, ...
#
# 0. the tokens with the largest accumulated attention
# 1. a random sample of old tokens
# 2. the first few tokens (attention sinks)
# 3. nothing else

# %% [solution] id=kv_streaming
### BEGIN SOLUTION
kv_streaming = 2
### END SOLUTION

# %% [tests] id=test_kv_streaming points=1
assert "kv_streaming" in dir(), "keep the variable name kv_streaming"
print("answer recorded:", kv_streaming)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.kv_streaming", answer=kv_streaming)
### END HIDDEN TESTS

# %% [markdown]
# **kv_positions.** When generating with a KV cache, the position id of the new token is the ______ (two words).

# %% [solution] id=kv_positions
### BEGIN SOLUTION
kv_positions = 'cache length'
### END SOLUTION

# %% [tests] id=test_kv_positions points=1
assert "kv_positions" in dir(), "keep the variable name kv_positions"
print("answer recorded:", kv_positions)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.kv_positions", answer=kv_positions)
### END HIDDEN TESTS

# %% [markdown]
# **kv_complexity.** Generating $n$ tokens without a cache recomputes the whole prefix at every step. With a cache, the work of one step grows with the sequence length ...
#
# 0. linearly (one query against t keys)
# 1. quadratically
# 2. not at all
# 3. exponentially

# %% [solution] id=kv_complexity
### BEGIN SOLUTION
kv_complexity = 0
### END SOLUTION

# %% [tests] id=test_kv_complexity points=1
assert "kv_complexity" in dir(), "keep the variable name kv_complexity"
print("answer recorded:", kv_complexity)
### BEGIN HIDDEN TESTS
from autograde.hidden import hidden_check
hidden_check("practice_quiz.kv_complexity", answer=kv_complexity)
### END HIDDEN TESTS
