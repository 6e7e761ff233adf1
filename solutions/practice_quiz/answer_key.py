"""The instructor's question bank for quiz review (plain answer key: never shipped to students).

`python -m autograde.quiz_authoring` turns it into
- course_lib/data/self_check.json: the self-check questions with hashed answers (the review notebook);
- solutions/practice_quiz/practice_quiz.py: the same questions as an nbgrader practice quiz (answers in solution
  cells, graded by hidden tests).
Numbers follow the lecture's slides and shared/REFERENCE.md; tests/test_quiz.py recomputes every
numeric answer independently.
"""

QUESTIONS = [
    # ------------------------------------------------------------------------------------ PEFT
    dict(id="peft_lora_count", part="peft", kind="number", answer=294_912,
         prompt="LoRA with rank $r = 8$ on $W_q$ and $W_v$ of RoBERTa-base ($d = k = 768$, 12 "
                "layers). How many trainable parameters?",
         explanation="Each adapted matrix trains A (r x k) and B (d x r): r (d + k) numbers. "
                     "12 layers x 2 matrices x 8 x 1536 = 294,912, the 0.3M of the lecture's "
                     "table."),
    dict(id="peft_adapter_count", part="peft", kind="number", answer=99_136,
         prompt="A bottleneck adapter with $d = 768$ and bottleneck $m = 64$ (down-projection, "
                "nonlinearity, up-projection, both with biases). How many parameters?",
         explanation="W_down is m x d with m biases, W_up is d x m with d biases: 2dm + d + m. "
                     "2 x 768 x 64 + 768 + 64 = 99,136."),
    dict(id="peft_prefix_count", part="peft", kind="number", answer=368_640,
         prompt="Prefix tuning (P-tuning v2) with $n = 20$ prefix vectors for keys and for values "
                "at every layer of a 12-layer model with $d = 768$. How many trainable parameters "
                "(no reparameterisation)?",
         explanation="Each layer trains P_k and P_v, each n x d: 2 n d per layer. "
                     "12 x 2 x 20 x 768 = 368,640."),
    dict(id="peft_lora_scaling", part="peft", kind="formula", answer="alpha/r",
         prompt="Complete LoRA's forward pass: $h = W_0 x + (\\;?\\;)\\, B A x$. Type the scaling "
                "factor (e.g. `alpha/r`).",
         explanation="The update is scaled by alpha / r, so changing the rank does not change the "
                     "size of the update and the learning rate need not be retuned."),
    dict(id="peft_lora_init", part="peft", kind="choice", answer=1,
         prompt="How does LoRA initialise $A$ and $B$?",
         options=["Both zero", "A random, B zero", "A zero, B random", "Both random"],
         explanations=[
             "With both zero, the gradients of A and B are both zero and nothing ever trains.",
             "Right: B = 0 makes W_delta = BA = 0, so training starts exactly at the pre-trained "
             "model, and the random A lets B receive a gradient.",
             "This also gives BA = 0 at the start, but it is not the paper's (or peft's) choice: "
             "A is kaiming-uniform and B is zero.",
             "Then W_delta = BA is not zero and the model no longer starts at the pre-trained "
             "function."]),
    dict(id="peft_merge", part="peft", kind="choice", answer=2,
         prompt="Which method adds **no** inference latency once training is done?",
         options=["Adapters", "Prefix tuning", "LoRA (merged)", "Soft prompt tuning"],
         explanations=[
             "Adapters add two matrix products and a nonlinearity per layer at inference.",
             "Prefixes make every attention layer attend over n extra keys and values.",
             "Right: W_0 + (alpha/r) BA is just another d x k matrix; merged, the model costs "
             "what the original costs.",
             "The prompt makes every sequence n tokens longer."]),
    dict(id="peft_prompt_vs_prefix", part="peft", kind="choice", answer=0,
         prompt="Soft prompt tuning (Lester et al.) differs from P-tuning v2 because it ...",
         options=["learns vectors only at the input embedding layer",
                  "updates the model's attention weights",
                  "needs a hand-written prompt",
                  "works best for small models"],
         explanations=[
             "Right: prompt tuning prepends trainable vectors to the input only; P-tuning v2 "
             "adds trainable prefixes to the keys and values of every layer, which is why it "
             "works across model sizes and harder tasks.",
             "Neither method touches the frozen model's weights.",
             "Soft prompts are learned vectors, not words.",
             "The opposite: input-only prompt tuning only matches fine-tuning at ~10B "
             "parameters (the lecture's PT vs PT-2 table)."]),
    dict(id="peft_verbalizer", part="peft", kind="choice", answer=3,
         prompt="In [MASK] classification with a verbalizer, the class probabilities are ...",
         options=["the softmax over the whole vocabulary at [CLS]",
                  "the softmax over the whole vocabulary at [MASK], read at the label words",
                  "a new linear layer on the [MASK] embedding",
                  "the softmax over the label words' MLM logits at [MASK]"],
         explanations=[
             "[CLS] is the other recipe (a new classifier head); the verbalizer reads the [MASK].",
             "Read without renormalising, these do not sum to 1 over the classes.",
             "That would throw away the pre-trained MLM head, which is what makes zero-shot work.",
             "Right: score each label by the MLM logit of its word at the mask, then softmax over "
             "the labels only."]),
    # ------------------------------------------------------------------------------------- MoE
    dict(id="moe_gate", part="moe", kind="number", answer=0.644,
         prompt="A router gives $h(x) = [2, 1, 0, -1]$ for $N = 4$ experts. What is the gate "
                "value $p_1(x)$ of the first expert? (3 significant figures)",
         explanation="p_i(x) = exp(h_i) / sum_j exp(h_j). e^2 / (e^2 + e + 1 + e^-1) = "
                     "7.389 / 11.475 = 0.644."),
    dict(id="moe_top2_weight", part="moe", kind="number", answer=0.881,
         prompt="Same $h(x) = [2, 1, 0, -1]$, top-2 routing. With the lecture's form "
                "$y = \\sum_{i \\in T} p_i(x) E_i(x)$, what is the total weight $p_1 + p_2$ "
                "given to the two chosen experts? (3 significant figures)",
         explanation="The two chosen experts keep their softmax values over all four experts. "
                     "(e^2 + e) / (e^2 + e + 1 + e^-1) = 10.107 / 11.475 = 0.881. Mixtral "
                     "instead renormalises them to sum to 1."),
    dict(id="moe_active", part="moe", kind="choice", answer=1,
         prompt="An MoE layer has 8 experts and routes each token to the top 2. Compared with one "
                "dense feed-forward block of the same expert size, per token it computes ...",
         options=["8 times the FLOPs", "about 2 times the FLOPs", "the same FLOPs",
                  "1/8 of the FLOPs"],
         explanations=[
             "Only the selected experts run; the other 6 are skipped for this token.",
             "Right: two experts run (plus a tiny router). The parameters grow 8x, the compute "
             "per token only 2x: that is the point of sparse experts.",
             "Two experts run, not one.",
             "The chosen experts are full-size feed-forward blocks."]),
    dict(id="moe_balance", part="moe", kind="number", answer=1,
         prompt="Switch Transformer's load-balancing loss is $N \\sum_i f_i P_i$. What is its "
                "value when routing is perfectly uniform?",
         explanation="With uniform routing every f_i and every P_i equals 1/N. So the loss is "
                     "N x N x (1/N)(1/N) = 1, its minimum."),
    dict(id="moe_top1_renorm", part="moe", kind="choice", answer=0,
         prompt="Why is renormalising the weights of a **top-1** router a bug?",
         options=["The weight is always 1, so the router gets no gradient from the output",
                  "It makes the output twice as large",
                  "It sends every token to the same expert",
                  "It is not a bug"],
         explanations=[
             "Right: p / p = 1 whatever the router says, so the output does not depend on the "
             "router's probabilities and the router cannot learn from the task loss.",
             "The weight becomes exactly 1, not 2.",
             "Routing still follows the argmax; the problem is the gradient.",
             "It is: Switch keeps the un-normalised p_i for exactly this reason."]),
    dict(id="moe_softmax", part="moe", kind="formula", answer="softmax",
         prompt="Complete: the gate routing $p(x)$ is the ______ of the router logits $h(x)$ over "
                "the $N$ experts.",
         explanation="p_i(x) = e^{h(x)_i} / sum_j e^{h(x)_j}: a softmax over the experts."),
    # ----------------------------------------------------------------------------- compression
    dict(id="comp_round", part="compression", kind="number", answer=11,
         prompt="The slide quantizes 10.789654 to 10. What does round-to-nearest give?",
         explanation="Round to nearest picks the closest integer. 10.789654 is 0.21 from 11 and "
                     "0.79 from 10, so 11; truncation's worst-case error is 1, rounding's is 0.5."),
    dict(id="comp_absmax_scale", part="compression", kind="number", answer=0.972,
         prompt="Symmetric absmax int8 quantization of $x = [123.45, 10.789654, -50.0]$: the "
                "scale is $s = \\max|x| / 127$. What is $s$? (3 significant figures)",
         explanation="s = max|x| / 127. 123.45 / 127 = 0.972."),
    dict(id="comp_absmax_code", part="compression", kind="number", answer=11,
         prompt="With that scale ($s = 123.45/127$), what is the int8 code of 10.789654?",
         explanation="q = round(x / s), clamped to [-127, 127]. 10.789654 / 0.97205 = 11.10, "
                     "which rounds to 11."),
    dict(id="comp_prune", part="compression", kind="number", answer=2,
         prompt="Magnitude pruning with amount 0.25 of a weight with 10 entries (torch.nn.utils."
                "prune semantics): how many entries are zeroed?",
         explanation="The count is round(amount x n), with Python's round (half to even). "
                     "round(0.25 x 10) = round(2.5) = 2."),
    dict(id="comp_kl_T1", part="compression", kind="number", answer=0.0671,
         prompt="Teacher logits $[2, 0]$, student logits $[1, 0]$, temperature $T = 1$. What is "
                "the distillation term $T^2\\,\\mathrm{KL}(p_t \\| p_s)$? (3 significant figures)",
         explanation="KL(p_t || p_s) = sum p_t log(p_t / p_s) with p = softmax(z / T), times T^2. "
                     "p_t = [0.881, 0.119], p_s = [0.731, 0.269]: 0.0671."),
    dict(id="comp_kl_T4", part="compression", kind="number", answer=0.120,
         prompt="Same logits at $T = 4$: what is $T^2\\,\\mathrm{KL}(p_t \\| p_s)$? "
                "(3 significant figures)",
         explanation="Soften both with z / 4, then multiply the KL by T^2 = 16 so its gradients "
                     "keep their size. p_t = [0.622, 0.378], p_s = [0.562, 0.438]: 16 x 0.00748 = "
                     "0.120."),
    dict(id="comp_speed", part="compression", kind="choice", answer=2,
         prompt="Which change makes a dense CPU/GPU matrix multiplication faster without "
                "special sparse kernels?",
         options=["Zeroing 50% of the weights (unstructured magnitude pruning)",
                  "Zeroing random weights", "Removing 50% of the FFN neurons (structured)",
                  "Masking the pruned weights during training"],
         explanations=[
             "The zeros are still multiplied: same shapes, same FLOPs, same time.",
             "Same shapes, same time; and worse accuracy than magnitude pruning.",
             "Right: removing whole rows of W_1 and columns of W_2 makes the matrices smaller, "
             "so the multiplication really is cheaper.",
             "The mask is extra work; the matrix keeps its size."]),
    dict(id="comp_which", part="compression", kind="choice", answer=3,
         prompt="Which compression method needs training a new model?",
         options=["Post-training int8 quantization", "Magnitude pruning without retraining",
                  "GPTQ", "Distillation"],
         explanations=[
             "It only rounds the trained weights (with a little calibration at most).",
             "It only zeroes weights of the trained model (accuracy may drop).",
             "GPTQ quantizes layer by layer with second-order error compensation, no training.",
             "Right: the student model is trained (on the teacher's soft labels and the data)."]),
    dict(id="comp_distilbert", part="compression", kind="choice", answer=1,
         prompt="DistilBERT keeps how many of BERT-base's 12 layers, and how much of its GLUE "
                "score?",
         options=["3 layers, 90%", "6 layers, 97%", "6 layers, 80%", "12 layers, 100%"],
         explanations=[
             "It keeps half the layers, not a quarter.",
             "Right: 6 layers, 66M parameters (40% smaller), 60% faster, 97% of the score.",
             "It keeps 97% of the score (77.0 vs 79.5 in the lecture's table).",
             "Then it would not be smaller."]),
    # --------------------------------------------------------------------------------- KV cache
    dict(id="kv_llama_bytes", part="kv_cache", kind="number", answer=2.0,
         prompt="KV cache of Llama-2-7B (32 layers, 32 KV heads, head size 128, fp16) for one "
                "sequence of 4,096 tokens, in GiB?",
         explanation="2 (K and V) x layers x heads x head_dim x tokens x bytes. "
                     "2 x 32 x 32 x 128 x 4096 x 2 bytes = 2 GiB (0.5 MiB per token)."),
    dict(id="kv_what", part="kv_cache", kind="choice", answer=1,
         prompt="What does a KV cache store?",
         options=["Q, K and V of every past token", "K and V of every past token, per layer",
                  "The logits of every past step", "Only the last token's K and V"],
         explanations=[
             "Past queries are never used again: each new token brings its own query.",
             "Right: a new token's query attends to all past keys and values, which do not "
             "change, so they are computed once and kept.",
             "Logits are not needed to compute the next token's attention.",
             "The new query attends to all past tokens, so all past K and V are needed."]),
    dict(id="kv_streaming", part="kv_cache", kind="choice", answer=2,
         prompt="StreamingLLM keeps, besides a window of recent tokens, ...",
         options=["the tokens with the largest accumulated attention",
                  "a random sample of old tokens", "the first few tokens (attention sinks)",
                  "nothing else"],
         explanations=[
             "That is H2O's heavy-hitter rule.",
             "Random eviction loses the tokens attention relies on.",
             "Right: the first ~4 tokens receive a large share of attention whatever their "
             "content; evicting them breaks the model, keeping them lets a short window work.",
             "A plain sliding window fails once the first tokens are evicted."]),
    dict(id="kv_positions", part="kv_cache", kind="formula", answer="cache length",
         prompt="When generating with a KV cache, the position id of the new token is the "
                "______ (two words).",
         explanation="The new token sits after every cached token: its position is the cache "
                     "length, not 0."),
    dict(id="kv_complexity", part="kv_cache", kind="choice", answer=0,
         prompt="Generating $n$ tokens without a cache recomputes the whole prefix at every step. "
                "With a cache, the work of one step grows with the sequence length ...",
         options=["linearly (one query against t keys)", "quadratically", "not at all",
                  "exponentially"],
         explanations=[
             "Right: the new query attends to t cached keys, O(t) per step; without the cache "
             "the step re-runs all t tokens, O(t^2) attention plus t times the MLP work.",
             "Quadratic per step is the uncached cost.",
             "Attention to the growing cache still grows with t.",
             "Nothing in a transformer step grows exponentially."]),
]
