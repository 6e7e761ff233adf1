# %% [markdown]
# # Practice quiz: Model Efficiency
#
# **{{total_points}} points.** Practice for the written, closed-book quiz: answer without notes.
# The questions follow the lecture's order. Most are graded automatically when you hand the
# notebook in: set the variable the question names to an option **number** (0, 1, 2, ...) for
# multiple choice, a **number** for numeric questions (3 significant figures are enough) or a
# short **text** (a string) for formulas, in the code cell below the question. Questions marked
# *written* ask why, or for pros and cons: write a few sentences in the text cell below them
# (double-click it); they are graded by hand.
#
# The review notebook (`review.ipynb`) revises the formulas and tables; its self-check
# questions are different ones.

# %% [markdown]
# ## Parameter-efficient fine-tuning

# %% [markdown]
# ### Question 1 ({{points}} points): Size of a [CLS] classifier head
#
# A linear classifier (weights and a bias) on the 768-dimensional [CLS] embedding of BERT-base, for the lecture's four topics (Sports, Finance, Technology, Health). How many new parameters does it add?
#
# Set `cls_head_params` to a number.

# %% [solution] id=cls_head_params
### BEGIN SOLUTION
cls_head_params = 3076   # 768 x 4 weights + 4 biases
### END SOLUTION

# %% [tests] id=test_cls_head_params points=1
assert "cls_head_params" in dir(), "set the variable cls_head_params to your answer"
print("answer recorded:", cls_head_params)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.cls_head_params", answer=cls_head_params)
### END HIDDEN TESTS

# %% [markdown] id=cls_vs_mask_question
# ### Question 2 ({{points}} points, written): Classifying with [CLS] or with [MASK]
#
# The lecture classifies a sentence's topic in two ways: a new classifier on the [CLS] embedding, or a pattern such as "... What is the topic? [MASK]" whose mask the pre-trained MLM head fills, read at the label words (a verbalizer). Explain why the [MASK] recipe can predict with no labelled example while the [CLS] recipe cannot, and give one advantage of the [CLS] recipe.
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: The [MASK] recipe re-uses the pre-trained MLM head: the logits of the label words at the mask mean something before any training (label semantics, pre-trained knowledge). The [CLS] classifier is new and randomly initialised, so it predicts nothing useful until it is trained on labelled examples.
# - 1 point: One real advantage of [CLS], explained: no pattern or verbalizer to design (so no sensitivity to their wording); labels need not be single words of the vocabulary; any number of classes with one linear layer.
# ### END MARK SCHEME

# %% [written] id=cls_vs_mask points=2
# The [MASK] recipe asks the model the question it was pre-trained on: fill in the mask. Its MLM head already scores words like "Sports" or "Finance" in context, so reading those logits at the mask gives a prediction before any training (zero-shot). The [CLS] recipe adds a new, randomly initialised classifier whose weights mean nothing until they are trained on labelled examples. In exchange, [CLS] needs no hand-designed pattern or verbalizer, so its accuracy does not depend on how a prompt is worded, and its labels need not be words of the vocabulary.

# %% [markdown] id=zero_few_shot_question
# ### Question 3 ({{points}} points, written): Zero-shot and few-shot prompting
#
# What do *zero-shot* and *few-shot* mean for [MASK] classification with a prompt and a verbalizer? Why does this recipe need fewer training examples than a new classifier head, and what limits it?
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: Zero-shot: predictions from the pattern and the verbalizer alone, with no labelled example and no training. Few-shot: only a handful of labelled examples, used to fine-tune (or to choose the prompt).
# - 1 point: Fewer examples because the task is posed as the pre-training task (fill in the mask) and starts from what the model knows about the label words: nothing is learned from scratch. A limit, explained: accuracy depends on the wording of the pattern and the choice of label words; every label needs a word the model knows.
# ### END MARK SCHEME

# %% [written] id=zero_few_shot points=2
# Zero-shot: the model classifies with the pattern and the label words only, no labelled example is used and nothing is trained. Few-shot: a handful of labelled examples (say 16 per class) is used to fine-tune the model through the same pattern. Because the task is posed as filling in the mask, the pre-trained head already knows how the label words relate to the sentence, so the few examples only adjust a model that is already close; a new head must learn the whole mapping from scratch. The recipe is limited by its prompt: a different wording or a different label word can change the accuracy a lot, and each label needs a word the model knows.

# %% [markdown] id=prompt_sensitivity_question
# ### Question 4 ({{points}} points, written): Why hand-written prompts are fragile, and what soft prompts change
#
# In the lecture's table, four wordings of the same question ("[X] is located in [Y].") score from 19.78 to 51.08 P@1. Why is a frozen masked language model so sensitive to the wording? How does soft prompt tuning (P-tuning) avoid choosing a wording by hand, and what does it cost?
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: Sensitivity: the model predicts the mask only from the context it is given; each wording is a different context, and nothing trained the model to treat paraphrases alike, so small changes move the prediction. The best wording can only be found by trying many.
# - 1 point: Soft prompts: the prompt is a sequence of continuous vectors learned by gradient descent on labelled examples while the model stays frozen (the lecture's [PRE]/[HYP] table: P-tuning 76.45 against 70.15 for the best of four hand-written prompts). A cost, explained: labelled data and back-propagation through the whole model; vectors that are not words, tied to one model.
# ### END MARK SCHEME

# %% [written] id=prompt_sensitivity points=2
# A masked LM fills the mask from the context it sees. Two wordings of one question are two different contexts, and pre-training never taught the model that they ask the same thing, so the prediction moves with the wording; the only way to find a good wording by hand is to try many. Soft prompt tuning replaces the words of the prompt by trainable vectors and learns them by gradient descent on labelled examples, with the model frozen, so the prompt is chosen by the loss instead of by hand (the lecture's table: P-tuning 76.45 against 70.15 for the best hand-written prompt). It costs labelled data and training through the whole model, and the learned vectors are not readable and only work with the model they were trained for.

# %% [markdown]
# ### Question 5 ({{points}} points): Parameters of a soft prompt
#
# Soft prompt tuning of RoBERTa-large ($d = 1024$) with $n = 100$ prompt vectors. How many trainable parameters?
#
# Set `soft_prompt_params` to a number.

# %% [solution] id=soft_prompt_params
### BEGIN SOLUTION
soft_prompt_params = 102400   # n d = 100 x 1024
### END SOLUTION

# %% [tests] id=test_soft_prompt_params points=1
assert "soft_prompt_params" in dir(), "set the variable soft_prompt_params to your answer"
print("answer recorded:", soft_prompt_params)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.soft_prompt_params", answer=soft_prompt_params)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 6 ({{points}} points): Parameters of a prefix at every layer
#
# P-tuning v2 on RoBERTa-large (24 layers, $d = 1024$) with $n = 10$ prefix vectors for the keys and for the values of every layer (no reparameterisation). How many trainable parameters?
#
# Set `prefix_params` to a number.

# %% [solution] id=prefix_params
### BEGIN SOLUTION
prefix_params = 491520   # layers x 2 n d = 24 x 2 x 10 x 1024
### END SOLUTION

# %% [tests] id=test_prefix_params points=1
assert "prefix_params" in dir(), "set the variable prefix_params to your answer"
print("answer recorded:", prefix_params)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.prefix_params", answer=prefix_params)
### END HIDDEN TESTS

# %% [markdown] id=soft_prompts_scale_question
# ### Question 7 ({{points}} points, written): Why soft prompts need large models and P-tuning v2 does not
#
# In the lecture's table, prompt tuning (PT) falls far behind fine-tuning on BERT-large and RoBERTa-large (RTE: 53.5 against 70.4 on BERT-large) but catches up at 10B parameters, while P-tuning v2 (PT-2) is close to fine-tuning at every size. Explain why an input-only soft prompt needs a large model, and what P-tuning v2 changes so that it does not.
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: Input-only: the prompt acts only at the embedding layer and its effect must pass through every frozen layer; small models' layers cannot turn it into the needed change (few parameters, little capacity to steer), large models already compute what the task needs and steering the input suffices.
# - 1 point: P-tuning v2: trainable prefixes (keys and values) in every layer, so each layer is steered directly and there are more trainable parameters (layers x 2 n d); (a linear classification head instead of a verbalizer may be mentioned).
# ### END MARK SCHEME

# %% [written] id=soft_prompts_scale points=2
# A soft prompt only adds vectors at the input. Everything it changes must be carried up through the frozen layers, which were never trained to turn a few extra input vectors into the change a new task needs; a small model's layers make little of them, so the prompt has little control over the output. A very large model is more expressive and its frozen layers already compute much of what the task needs, so steering its input is enough (Lester et al.: the gap closes around 10B). P-tuning v2 puts trainable prefixes (keys and values) into every layer: each layer's attention reads vectors that were trained for it, so the prompt acts directly at every depth instead of only from below, with more trainable parameters (layers x 2 n d instead of n d). It also replaces the verbalizer by a linear head, so hard tasks (sequence labelling) work too.

# %% [markdown] id=adapter_placement_question
# ### Question 8 ({{points}} points, written): Where adapters sit, and what they cost
#
# Houlsby et al. insert two adapters $h \leftarrow h + W_{up}\, f(W_{down} h)$ in every transformer block. Where in the block do they sit, why does an adapter have a residual connection and start close to the identity, and what does this design cost at inference compared with merged LoRA?
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: Placement: one after the attention sublayer (its output projection) and one after the feed-forward sublayer, each before the residual addition and LayerNorm; the pre-trained weights stay frozen.
# - 1 point: Residual + near-zero start: the block first computes what the pre-trained block computed, so training starts from the pre-trained function and the bottleneck m << d keeps 2dm + d + m parameters. Cost: two extra matrix products and a nonlinearity in sequence in every layer, extra latency that cannot be merged away (the nonlinearity), while LoRA's W_0 + (alpha/r) BA is one matrix again.
# ### END MARK SCHEME

# %% [written] id=adapter_placement points=2
# In Houlsby's design each block gets two adapters: one right after the attention sublayer's output projection and one after the feed-forward sublayer, each before the residual addition and the LayerNorm. The adapter adds its output to its input, and it starts with a tiny (or zero) up-projection, so at the start the block computes exactly what the pre-trained block computed: fine-tuning starts from the pre-trained model instead of disturbing it. The bottleneck m << d keeps it small, 2dm + d + m parameters. The price is paid at inference: two more matrix products and a nonlinearity run in sequence in every layer, and because of the nonlinearity they cannot be folded into the frozen weights, whereas a trained LoRA update merges into W and costs nothing extra.

# %% [markdown]
# ### Question 9 ({{points}} points): Adapter parameters in one block
#
# A Houlsby block holds two adapters, each with $W_{down} \in \mathbb{R}^{m \times d}$ and $W_{up} \in \mathbb{R}^{d \times m}$ and their biases. With $d = 1024$ and $m = 64$, how many adapter parameters does one block add?
#
# Set `adapter_block_params` to a number.

# %% [solution] id=adapter_block_params
### BEGIN SOLUTION
adapter_block_params = 264320   # 2 x (2 d m + d + m) = 2 x 132,160
### END SOLUTION

# %% [tests] id=test_adapter_block_params points=1
assert "adapter_block_params" in dir(), "set the variable adapter_block_params to your answer"
print("answer recorded:", adapter_block_params)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.adapter_block_params", answer=adapter_block_params)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 10 ({{points}} points): LoRA's trainable parameters on RoBERTa-large
#
# LoRA with rank $r = 8$ on $W_q$ and $W_v$ of every layer of RoBERTa-large (24 layers, $d = k = 1024$). How many trainable parameters? (The lecture's table rounds it.)
#
# Set `lora_params_large` to a number.

# %% [solution] id=lora_params_large
### BEGIN SOLUTION
lora_params_large = 786432   # layers x 2 matrices x r (d + k) = 24 x 2 x 8 x 2048: the 0.8M of the table
### END SOLUTION

# %% [tests] id=test_lora_params_large points=1
assert "lora_params_large" in dir(), "set the variable lora_params_large to your answer"
print("answer recorded:", lora_params_large)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.lora_params_large", answer=lora_params_large)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 11 ({{points}} points): What the alpha / r scaling buys
#
# LoRA scales its update by $\alpha / r$ (Hu et al.). What does this scaling buy when you try another rank $r$?
#
# 0. The size of the update no longer depends on r
# 1. alpha is set once and the learning rate need not be retuned for each r
# 2. The number of trainable parameters no longer depends on r
# 3. The update stays zero until training ends
#
# Set `lora_alpha_over_r` to the option's number.

# %% [solution] id=lora_alpha_over_r
### BEGIN SOLUTION
lora_alpha_over_r = 1   # alpha is set once and the learning rate need not be retuned for each r
### END SOLUTION

# %% [tests] id=test_lora_alpha_over_r points=1
assert "lora_alpha_over_r" in dir(), "set the variable lora_alpha_over_r to your answer"
print("answer recorded:", lora_alpha_over_r)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.lora_alpha_over_r", answer=lora_alpha_over_r)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 12 ({{points}} points): The rank of LoRA's update
#
# LoRA's update is $\Delta W = \frac{\alpha}{r} B A$ with $B \in \mathbb{R}^{d \times r}$, $A \in \mathbb{R}^{r \times k}$ and $r \ll \min(d, k)$. Its rank is at most ___ (one symbol; a string such as `"x"`).
#
# Set `lora_update_rank` to a string.

# %% [solution] id=lora_update_rank
### BEGIN SOLUTION
lora_update_rank = 'r'   # rank(BA) <= min(rank B, rank A) <= r
### END SOLUTION

# %% [tests] id=test_lora_update_rank points=1
assert "lora_update_rank" in dir(), "set the variable lora_update_rank to your answer"
print("answer recorded:", lora_update_rank)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.lora_update_rank", answer=lora_update_rank)
### END HIDDEN TESTS

# %% [markdown]
# ## Mixture of experts

# %% [markdown] id=moe_why_question
# ### Question 13 ({{points}} points, written): Why a mixture of experts
#
# Mixtral 8x7B has 47B parameters but uses about 13B for each token. Explain what a mixture of experts buys over a dense model of the same total size and over one of the same compute, and name two costs it brings.
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: Parameters grow with N, compute per token with k: more capacity than a dense model of the same compute, much less compute per token than a dense model of the same total size (Mixtral: 47B stored, about 13B used per token).
# - 1 point: Two real costs, explained: all N experts stay in memory; routing must be balanced (a load-balancing loss, idle or overloaded experts, dropped tokens at capacity); routing, gathering and scattering (and communication between devices) cost time.
# ### END MARK SCHEME

# %% [written] id=moe_why points=2
# The parameters of a model, where its knowledge is stored, grow with the number of experts N, but the computation per token grows only with the k experts its router picks: Mixtral stores 47B parameters but spends the compute of a 13B model on each token. Against a dense model of the same total size it is much cheaper per token (faster, fewer FLOPs); against a dense model of the same compute it has several times the parameters, so it can fit more, and experts can specialise. The costs: every expert must be held in memory, because any token may choose any expert (47B in memory for 13B of compute); the router must be trained to spread the tokens (a load-balancing loss, or some experts idle and others overloaded, capacity limits that drop tokens); and routing, gathering and scattering tokens add overhead and communication across devices, so the real speed-up is smaller than the FLOP count suggests.

# %% [markdown]
# ### Question 14 ({{points}} points): A gate value
#
# A router gives $h(x) = [0.2, 1.5, -0.5, 0]$ for $N = 4$ experts. What is the largest gate value $p_i(x)$? (3 significant figures)
#
# Set `moe_gate_value` to a number.

# %% [solution] id=moe_gate_value
### BEGIN SOLUTION
moe_gate_value = 0.613   # e^1.5 / (e^0.2 + e^1.5 + e^-0.5 + e^0) = 4.482 / 7.310
### END SOLUTION

# %% [tests] id=test_moe_gate_value points=1
assert "moe_gate_value" in dir(), "set the variable moe_gate_value to your answer"
print("answer recorded:", moe_gate_value)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.moe_gate_value", answer=moe_gate_value)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 15 ({{points}} points): Top-2 weights, renormalised
#
# Same $h(x) = [0.2, 1.5, -0.5, 0]$, top-2 routing, and the two chosen weights renormalised to sum to 1 (Mixtral). What weight does the top expert get? (3 significant figures)
#
# Set `moe_top2_renormalized` to a number.

# %% [solution] id=moe_top2_renormalized
### BEGIN SOLUTION
moe_top2_renormalized = 0.786   # e^1.5 / (e^1.5 + e^0.2) = 1 / (1 + e^-1.3)
### END SOLUTION

# %% [tests] id=test_moe_top2_renormalized points=1
assert "moe_top2_renormalized" in dir(), "set the variable moe_top2_renormalized to your answer"
print("answer recorded:", moe_top2_renormalized)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.moe_top2_renormalized", answer=moe_top2_renormalized)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 16 ({{points}} points): A load-balancing loss
#
# Switch Transformer's load-balancing loss $N \sum_i f_i P_i$ with $N = 2$ experts and top-1 routing over four tokens whose router probabilities are $(0.9, 0.1)$, $(0.7, 0.3)$, $(0.6, 0.4)$ and $(0.2, 0.8)$. What is its value? (3 significant figures)
#
# Set `moe_balance_value` to a number.

# %% [solution] id=moe_balance_value
### BEGIN SOLUTION
moe_balance_value = 1.1   # f = (3/4, 1/4), P = (0.6, 0.4): 2 x (0.45 + 0.10)
### END SOLUTION

# %% [tests] id=test_moe_balance_value points=1
assert "moe_balance_value" in dir(), "set the variable moe_balance_value to your answer"
print("answer recorded:", moe_balance_value)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.moe_balance_value", answer=moe_balance_value)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 17 ({{points}} points): What sparse experts do not save
#
# Compared with a dense model whose feed-forward block is one expert, an MoE with $N = 8$ such experts and top-2 routing ...
#
# 0. holds about 8x the feed-forward weights in memory and computes about 2x per token
# 1. holds about 2x the weights and computes about 2x per token
# 2. holds about 8x the weights and computes about 8x per token
# 3. holds the same weights, since only 2 experts are loaded per token
#
# Set `moe_serving_memory` to the option's number.

# %% [solution] id=moe_serving_memory
### BEGIN SOLUTION
moe_serving_memory = 0   # holds about 8x the feed-forward weights in memory and computes about 2x per token
### END SOLUTION

# %% [tests] id=test_moe_serving_memory points=1
assert "moe_serving_memory" in dir(), "set the variable moe_serving_memory to your answer"
print("answer recorded:", moe_serving_memory)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.moe_serving_memory", answer=moe_serving_memory)
### END HIDDEN TESTS

# %% [markdown]
# ## Pruning, quantization and distillation

# %% [markdown]
# ### Question 18 ({{points}} points): Pruning twice
#
# `prune.l1_unstructured(layer, "weight", amount=0.5)` is applied twice to a weight with 1,000 nonzero entries. How many nonzero entries remain?
#
# Set `prune_twice_remaining` to a number.

# %% [solution] id=prune_twice_remaining
### BEGIN SOLUTION
prune_twice_remaining = 250   # the second call prunes half of what is left: 1000 -> 500 -> 250
### END SOLUTION

# %% [tests] id=test_prune_twice_remaining points=1
assert "prune_twice_remaining" in dir(), "set the variable prune_twice_remaining to your answer"
print("answer recorded:", prune_twice_remaining)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.prune_twice_remaining", answer=prune_twice_remaining)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 19 ({{points}} points): Pruning neurons
#
# A BERT-base feed-forward block has $d = 768$ and $d_{ff} = 3072$: $W_1 \in \mathbb{R}^{3072 \times 768}$ with a bias $b_1$, and $W_2 \in \mathbb{R}^{768 \times 3072}$. Neuron pruning removes 25% of its neurons. How many parameters (weights and biases) does that remove?
#
# Set `prune_neurons_count` to a number.

# %% [solution] id=prune_neurons_count
### BEGIN SOLUTION
prune_neurons_count = 1180416   # 768 neurons: their rows of W_1 and entries of b_1, and their columns of W_2
### END SOLUTION

# %% [tests] id=test_prune_neurons_count points=1
assert "prune_neurons_count" in dir(), "set the variable prune_neurons_count to your answer"
print("answer recorded:", prune_neurons_count)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.prune_neurons_count", answer=prune_neurons_count)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 20 ({{points}} points): Which heads to prune
#
# Michel et al. put a gate $\xi_h = 1$ on each attention head's output. Which score do they prune heads by, least important first?
#
# 0. the norm of the head's weights $W_q, W_k, W_v$
# 1. the average attention weight the head puts on [CLS]
# 2. $\mathbb{E}_x \left|\partial \mathcal{L}(x) / \partial \xi_h\right|$, the loss's sensitivity to the gate
# 3. the accuracy of a classifier trained on the head's output
#
# Set `head_importance` to the option's number.

# %% [solution] id=head_importance
### BEGIN SOLUTION
head_importance = 2   # $\mathbb{E}_x \left|\partial \mathcal{L}(x) / \partial \xi_h\right|$, the loss's sensitivity to the gate
### END SOLUTION

# %% [tests] id=test_head_importance points=1
assert "head_importance" in dir(), "set the variable head_importance to your answer"
print("answer recorded:", head_importance)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.head_importance", answer=head_importance)
### END HIDDEN TESTS

# %% [markdown] id=pruning_granularity_question
# ### Question 21 ({{points}} points, written): Pruning weights, neurons, heads or layers
#
# The lecture prunes a transformer at four granularities: weights, neurons, attention heads and layers. Compare pruning single weights (unstructured) with removing neurons, heads or layers (structured): which keeps more accuracy at the same sparsity, which makes an ordinary dense model faster, and why?
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: Unstructured keeps more accuracy at the same sparsity (it chooses each weight: the finest choice), but does not speed up a dense matrix multiplication: the zeros are still stored and multiplied unless sparse formats, kernels or hardware are used.
# - 1 point: Structured removes whole rows, heads or layers, so the matrices (or the depth) shrink and ordinary dense hardware runs faster with less memory; the choice is coarser, so it costs more accuracy and usually needs a short fine-tune (the lecture's table: dropping 6 of BERT's 12 layers loses 2.18 points on SST-2 and 7.84 on MRPC).
# ### END MARK SCHEME

# %% [written] id=pruning_granularity points=2
# Pruning single weights is the finest choice: it can remove exactly the least important weights anywhere, so at a given sparsity it keeps the most accuracy. But the pruned matrix has the same shape, and a dense matrix multiplication multiplies the zeros like any other number: no speed-up, and no memory saved, unless sparse formats and kernels (or hardware) exploit them. Removing whole neurons, heads or layers makes the matrices smaller or the model shallower, so the same dense hardware really does less work and stores less. The choice is coarse, whole units go at once, so it costs more accuracy and is usually followed by a short fine-tune: in the lecture's table, dropping 6 of BERT's 12 layers loses 2.18 points on SST-2 and 7.84 on MRPC.

# %% [markdown]
# ### Question 22 ({{points}} points): An int8 code
#
# Symmetric absmax int8 quantization of $x = [0.42, -3.81, 1.9]$ with $s = \max|x| / 127$: what is the int8 code of 1.9?
#
# Set `absmax_code` to a number.

# %% [solution] id=absmax_code
### BEGIN SOLUTION
absmax_code = 63   # s = 3.81 / 127 = 0.03; round(1.9 / 0.03) = round(63.3)
### END SOLUTION

# %% [tests] id=test_absmax_code points=1
assert "absmax_code" in dir(), "set the variable absmax_code to your answer"
print("answer recorded:", absmax_code)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.absmax_code", answer=absmax_code)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 23 ({{points}} points): A zero point
#
# Asymmetric uint8 quantization of values in $[-1.5, 2.5]$: $s = (\max - \min) / 255$ and $z = \mathrm{round}(-\min / s)$. What is the zero point $z$?
#
# Set `asymmetric_zero_point` to a number.

# %% [solution] id=asymmetric_zero_point
### BEGIN SOLUTION
asymmetric_zero_point = 96   # s = 4 / 255; -min / s = 1.5 x 255 / 4 = 95.6
### END SOLUTION

# %% [tests] id=test_asymmetric_zero_point points=1
assert "asymmetric_zero_point" in dir(), "set the variable asymmetric_zero_point to your answer"
print("answer recorded:", asymmetric_zero_point)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.asymmetric_zero_point", answer=asymmetric_zero_point)
### END HIDDEN TESTS

# %% [markdown] id=asymmetric_quantization_question
# ### Question 24 ({{points}} points, written): Symmetric or asymmetric int8
#
# Symmetric absmax int8 maps $[-\max|x|, \max|x|]$ onto $[-127, 127]$ with $z = 0$. A ReLU output lies in $[0, 6]$. What goes wrong with the symmetric scheme there, how does an asymmetric (affine) scheme $q = \mathrm{clamp}(\mathrm{round}(x / s) + z, 0, 255)$ fix it, and what does the asymmetric scheme cost?
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: Symmetric: s = 6/127 (about 0.047) and the 127 negative codes are never used, so only half the codes cover the data. Asymmetric: s = 6/255 (about 0.024), z = 0 here, all 256 codes cover [0, 6] and the rounding error (at most s/2) is halved.
# - 1 point: Cost: a zero point to store per tensor (or per channel), and a matrix product with z != 0 needs correction terms (z times row or column sums), so the kernels do more work; weights, roughly symmetric around 0, lose little with the symmetric scheme.
# ### END MARK SCHEME

# %% [written] id=asymmetric_quantization points=2
# With absmax the scale is s = 6/127, about 0.047, and the codes -127 ... -1 are never used because no value is negative: half of the 8 bits' range is wasted. An asymmetric scheme maps [min, max] = [0, 6] onto all 256 codes: s = 6/255, about 0.024, with zero point z = round(-min/s) = 0, so the step, and with it the worst rounding error s/2, is halved. The cost is a zero point to store for each tensor or channel and more arithmetic: a product of quantized matrices with z != 0 needs extra correction terms (z times sums of rows or columns). Weights are roughly symmetric around zero, so for them the simpler symmetric scheme loses little.

# %% [markdown]
# ### Question 25 ({{points}} points): Which method quantizes the activations
#
# The lecture's table lists GPTQ and AWQ as "4 / 16" and SmoothQuant as "8 / 8" (weight / activation bits). What does SmoothQuant do that the other two do not?
#
# 0. it stores the weights in fewer bits than GPTQ and AWQ
# 1. it quantizes the activations as well, after moving their outlier channels' scale into the weights, so matrix products run in int8
# 2. it trains the model again in 8 bits
# 3. it keeps the salient 1% of weights in fp16
#
# Set `weight_activation_bits` to the option's number.

# %% [solution] id=weight_activation_bits
### BEGIN SOLUTION
weight_activation_bits = 1   # it quantizes the activations as well, after moving their outlier channels' scale into the weights, so matrix products run in int8
### END SOLUTION

# %% [tests] id=test_weight_activation_bits points=1
assert "weight_activation_bits" in dir(), "set the variable weight_activation_bits to your answer"
print("answer recorded:", weight_activation_bits)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.weight_activation_bits", answer=weight_activation_bits)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 26 ({{points}} points): A distillation loss term
#
# Teacher logits $[2, 1, 0]$, student logits $[0, 1, 0]$, temperature $T = 2$. What is $T^2\,\mathrm{KL}(p_t \| p_s)$ with $p = \mathrm{softmax}(z / T)$? (3 significant figures)
#
# Set `distillation_term` to a number.

# %% [solution] id=distillation_term
### BEGIN SOLUTION
distillation_term = 0.482   # p_t = softmax([1, 0.5, 0]), p_s = softmax([0, 0.5, 0]); 4 x KL
### END SOLUTION

# %% [tests] id=test_distillation_term points=1
assert "distillation_term" in dir(), "set the variable distillation_term to your answer"
print("answer recorded:", distillation_term)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.distillation_term", answer=distillation_term)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 27 ({{points}} points): DistilBERT's speed-up
#
# The lecture's table: BERT-base takes 668 s and DistilBERT 410 s for the same inference workload. By what factor is DistilBERT faster? (3 significant figures)
#
# Set `distilbert_speedup` to a number.

# %% [solution] id=distilbert_speedup
### BEGIN SOLUTION
distilbert_speedup = 1.63   # 668 / 410: with half the layers, less than twice as fast
### END SOLUTION

# %% [tests] id=test_distilbert_speedup points=1
assert "distilbert_speedup" in dir(), "set the variable distilbert_speedup to your answer"
print("answer recorded:", distilbert_speedup)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.distilbert_speedup", answer=distilbert_speedup)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 28 ({{points}} points): The T squared factor
#
# The distillation loss is $\alpha\, T^2\, \mathrm{KL}(p_t^{(T)} \| p_s^{(T)}) + (1 - \alpha)\, \mathrm{CE}(z_s, y)$. Why the factor $T^2$?
#
# 0. to make the loss positive
# 1. to sharpen the teacher's distribution
# 2. the gradients of the soft term scale like $1/T^2$, so $T^2$ keeps its weight against the hard term when $T$ changes
# 3. to convert the KL divergence from nats to bits
#
# Set `distillation_t_squared` to the option's number.

# %% [solution] id=distillation_t_squared
### BEGIN SOLUTION
distillation_t_squared = 2   # the gradients of the soft term scale like $1/T^2$, so $T^2$ keeps its weight against the hard term when $T$ changes
### END SOLUTION

# %% [tests] id=test_distillation_t_squared points=1
assert "distillation_t_squared" in dir(), "set the variable distillation_t_squared to your answer"
print("answer recorded:", distillation_t_squared)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.distillation_t_squared", answer=distillation_t_squared)
### END HIDDEN TESTS

# %% [markdown] id=sequence_vs_token_distillation_question
# ### Question 29 ({{points}} points, written): Token-level or sequence-level distillation
#
# To distill a language model, *token-level* distillation trains the student to match the teacher's next-token distribution at every position (the KL term); *sequence-level* distillation trains the student on text the teacher generated (the lecture's "distillation: copy training data", as for DeepSeek-R1-Distill-Llama-70B). Give the main advantage and one limitation of each.
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: Token-level: a full soft distribution at every position (how likely every other token is), far more signal per example than one sampled token. Limitation: it needs the teacher's logits during training (white-box access, the same vocabulary, a teacher forward pass per batch).
# - 1 point: Sequence-level: needs only the teacher's outputs (a black-box or API teacher, any tokenizer), and is ordinary fine-tuning on a data set generated once and reused (DeepSeek-R1-Distill: about 800k samples). Limitation: one sampled answer per prompt, not the distribution, so the student learns only what the samples show, the teacher's mistakes included.
# ### END MARK SCHEME

# %% [written] id=sequence_vs_token_distillation points=2
# Token-level distillation gives the student the teacher's whole probability distribution at every position: besides the right token it learns which other tokens the teacher found likely, a much richer signal than one token. It needs the teacher's logits while training, so the teacher must be open (white-box), share the student's vocabulary, and run a forward pass for every batch. Sequence-level distillation only needs the teacher's generated text: the teacher can be a black box behind an API with another tokenizer, and the student is fine-tuned on a fixed data set that is generated once and reused (DeepSeek-R1-Distill used about 800k samples). But each prompt contributes one sampled answer, not a distribution, so the student sees less information per example and copies the teacher's mistakes along with its successes.

# %% [markdown]
# ## KV cache

# %% [markdown]
# ### Question 30 ({{points}} points): Size of a KV cache
#
# A decoder with 24 layers and 16 attention heads of size 64 (every head has its own keys and values), in fp16. How large is its KV cache, in MiB, for a batch of 4 sequences of 1,024 tokens?
#
# Set `kv_cache_mib` to a number.

# %% [solution] id=kv_cache_mib
### BEGIN SOLUTION
kv_cache_mib = 384   # 2 x 24 x 16 x 64 x 1024 x 4 x 2 bytes / 2^20
### END SOLUTION

# %% [tests] id=test_kv_cache_mib points=1
assert "kv_cache_mib" in dir(), "set the variable kv_cache_mib to your answer"
print("answer recorded:", kv_cache_mib)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.kv_cache_mib", answer=kv_cache_mib)
### END HIDDEN TESTS

# %% [markdown]
# ### Question 31 ({{points}} points): How often a cached key is computed
#
# A 500-token prompt, then 100 generated tokens with a KV cache. In each layer, how many times is the key of the prompt's first token computed?
#
# 0. once
# 1. 100 times
# 2. 101 times
# 3. 600 times
#
# Set `kv_prefill_keys` to the option's number.

# %% [solution] id=kv_prefill_keys
### BEGIN SOLUTION
kv_prefill_keys = 0   # once
### END SOLUTION

# %% [tests] id=test_kv_prefill_keys points=1
assert "kv_prefill_keys" in dir(), "set the variable kv_prefill_keys to your answer"
print("answer recorded:", kv_prefill_keys)
### BEGIN HIDDEN TESTS
from autograde.grade.verdict import hidden_check
hidden_check("practice_quiz.kv_prefill_keys", answer=kv_prefill_keys)
### END HIDDEN TESTS

# %% [markdown] id=kv_cache_policies_question
# ### Question 32 ({{points}} points, written): Choosing what a KV cache keeps
#
# At the same cache budget, compare a sliding window, StreamingLLM and H2O: what does each keep, and when does each fail?
#
# ### BEGIN MARK SCHEME
# **Rubric** (2 points)
#
# - 1 point: Sliding window: the most recent tokens; fixed memory, simple, but quality breaks once the first tokens are evicted, since attention puts much of its mass on them (attention sinks). StreamingLLM: the first few (about 4) tokens plus a recent window; stable on long streams, but the middle is gone, so an old fact cannot be recalled.
# - 1 point: H2O: a recent window plus the heavy hitters, the older tokens with the largest accumulated attention; keeps important old tokens, but must track attention scores (extra work; fused attention kernels do not expose them), and eviction is final: a token evicted as unimportant cannot come back when a later query needs it.
# ### END MARK SCHEME

# %% [written] id=kv_cache_policies points=2
# A sliding window keeps only the most recent tokens. It is simple and its memory is fixed, but once the first tokens of the sequence are evicted the quality breaks, because attention puts a large share of its weight on them (attention sinks). StreamingLLM keeps those first few tokens, about four, plus the recent window: it stays stable on very long streams, but everything in the middle is dropped, so it cannot recall a fact from far back. H2O keeps the recent window plus the heavy hitters, the older tokens that have received the most attention so far, so important old tokens survive; it must track attention scores, which costs work and does not fit fused attention kernels that never form the scores, and its eviction is final: a token that looked unimportant is gone when a later query needs it.
