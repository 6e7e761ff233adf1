"""The review notebook's self-check questions with their plain answer key (instructor only).

`python -m autograde.quiz_authoring` hashes it into course_lib/data/self_check.json, which
`course_lib.self_check.ask(part)` shows in the review with instant feedback. The graded practice
quiz has its own questions (solutions/practice_quiz/answer_key.py); tests/test_quiz.py checks that
neither gives the other's answers away, and that the review's worked examples print none of these
answers (they use other numbers). Every numeric answer is recomputed independently in tests/test_quiz.py.
"""

QUESTIONS = [
    # ------------------------------------------------------------------------------------ PEFT
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
             "Soft prompts are learned vectors, not words (a hand-written prompt can initialise "
             "them, but none is needed).",
             "The opposite: input-only prompt tuning matches fine-tuning only at about 10B "
             "parameters (the lecture's PT vs PT-2 table: GLM 10B, BoolQ 88.8 vs 88.7)."]),
    dict(id="peft_prefix_count", part="peft", kind="number", answer=184_320,
         prompt="Prefix tuning (P-tuning v2) with $n = 10$ prefix vectors for keys and for values "
                "at every layer of a 12-layer model with $d = 768$. How many trainable parameters "
                "(no reparameterisation)?",
         explanation="Each layer trains P_k and P_v, each n x d: 2 n d per layer. "
                     "12 x 2 x 10 x 768 = 184,320."),
    dict(id="peft_adapter_count", part="peft", kind="number", answer=49_952,
         prompt="A bottleneck adapter with $d = 768$ and bottleneck $m = 32$ (down-projection, "
                "nonlinearity, up-projection, both with biases). How many parameters?",
         explanation="W_down is m x d with m biases, W_up is d x m with d biases: 2dm + d + m. "
                     "2 x 768 x 32 + 768 + 32 = 49,952."),
    dict(id="peft_lora_count", part="peft", kind="number", answer=589_824,
         prompt="LoRA with rank $r = 16$ on $W_q$ and $W_v$ of RoBERTa-base ($d = k = 768$, 12 "
                "layers). How many trainable parameters?",
         explanation="Each adapted matrix trains A (r x k) and B (d x r): r (d + k) numbers. "
                     "12 layers x 2 matrices x 16 x 1536 = 589,824: twice the r = 8 count, "
                     "since the count grows linearly with r."),
    dict(id="peft_lora_scaling", part="peft", kind="formula", answer="alpha/r",
         prompt="Complete LoRA's forward pass: $h = W_0 x + (\\;?\\;)\\, B A x$. Type the scaling "
                "factor (e.g. `2/d`).",
         explanation="The update is scaled by alpha / r. Hu et al. set alpha once and keep it when "
                     "they change r, so the learning rate need not be retuned for each rank; the "
                     "size of the update still depends on r (rsLoRA's argument for "
                     "alpha / sqrt(r))."),
    dict(id="peft_lora_init", part="peft", kind="choice", answer=1,
         prompt="How does LoRA initialise $A$ and $B$?",
         options=["Both zero", "A random, B zero", "A zero, B random", "Both random"],
         explanations=[
             "With both zero, the gradients of A and B are both zero and nothing ever trains.",
             "Right: B = 0 makes W_delta = BA = 0, so training starts exactly at the pre-trained "
             "model, and the random A lets B receive a gradient. The paper draws A from a "
             "Gaussian; peft uses kaiming-uniform.",
             "This also gives BA = 0 at the start, but it is not the paper's (or peft's) choice: "
             "A is random and B is zero.",
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
    # ------------------------------------------------------------------------------------- MoE
    dict(id="moe_softmax", part="moe", kind="formula", answer="softmax",
         prompt="Complete: the gate routing $p(x)$ is the ______ of the router logits $h(x)$ over "
                "the $N$ experts.",
         explanation="p_i(x) = e^{h(x)_i} / sum_j e^{h(x)_j}: a softmax over the experts."),
    dict(id="moe_gate", part="moe", kind="number", answer=0.810,
         prompt="A router gives $h(x) = [3, 1, 0, 0]$ for $N = 4$ experts. What is the gate "
                "value $p_1(x)$ of the first expert? (3 significant figures)",
         explanation="p_i(x) = exp(h_i) / sum_j exp(h_j). e^3 / (e^3 + e + 1 + 1) = "
                     "20.09 / 24.80 = 0.810."),
    dict(id="moe_top2_weight", part="moe", kind="number", answer=0.919,
         prompt="Same $h(x) = [3, 1, 0, 0]$, top-2 routing. With the lecture's form "
                "$y = \\sum_{i \\in T} p_i(x) E_i(x)$, what is the total weight $p_1 + p_2$ "
                "given to the two chosen experts? (3 significant figures)",
         explanation="The two chosen experts keep their softmax values over all four experts. "
                     "(e^3 + e) / (e^3 + e + 1 + 1) = 22.80 / 24.80 = 0.919. Mixtral "
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
    dict(id="moe_balance", part="moe", kind="choice", answer=2,
         prompt="Switch Transformer's load-balancing loss $N \\sum_i f_i P_i$ equals 1 when "
                "routing is perfectly uniform ($f_i = P_i = 1/N$). Which statement is right?",
         options=["1 is its minimum: any imbalance makes it larger",
                  "It is 0 when routing is uniform",
                  "It can be below 1; 1 is its value under uniform routing, not its minimum",
                  "It equals N when routing is uniform"],
         explanations=[
             "Not so: N = 2, top-1, three tokens with router probabilities (.51, .49), (.51, .49) "
             "and (0, 1) give f = (2/3, 1/3), P = (.34, .66) and a loss of 0.89.",
             "N x N x (1/N)(1/N) = 1, not 0.",
             "Right: with uniform f_i and P_i it is N x N x (1/N)(1/N) = 1; when the experts that "
             "receive many tokens get them with low probability it drops below 1 (N = 2, top-1, "
             "probabilities (.51, .49), (.51, .49), (0, 1): 0.89). Its gradient, through P_i, "
             "lowers the probability of the experts that receive the most tokens.",
             "The factor N cancels the 1/N^2 of the N uniform terms: the value is 1 (k with "
             "Mixtral's top-k version)."]),
    # ----------------------------------------------------------------------------- compression
    dict(id="comp_slide_rounding", part="compression", kind="choice", answer=1,
         prompt="The quantization slide maps $123.45 \\to 123$ and $10.789654 \\to 10$. Which "
                "rule gives both?",
         options=["Round to nearest", "Truncation (drop the fraction)", "Round up (ceiling)",
                  "Round half to even"],
         explanations=[
             "Round to nearest maps 10.789654 to 11: it is 0.21 from 11 and 0.79 from 10.",
             "Right: dropping the fraction gives 123 and 10. Its worst-case error is 1 step; "
             "round to nearest halves that, which is why quantizers round.",
             "Ceiling gives 124 and 11.",
             "Half to even only changes exact ties (x.5); 10.789654 would still become 11."]),
    dict(id="comp_absmax_scale", part="compression", kind="number", answer=0.02,
         prompt="Symmetric absmax int8 quantization of $x = [0.9, -2.54, 0.3]$: the scale is "
                "$s = \\max|x| / 127$. What is $s$? (3 significant figures)",
         explanation="s = max|x| / 127. 2.54 / 127 = 0.0200."),
    dict(id="comp_absmax_code", part="compression", kind="number", answer=45,
         prompt="With that scale ($s = 2.54/127$), what is the int8 code of 0.9?",
         explanation="q = round(x / s), clamped to [-127, 127]. 0.9 / 0.02 = 45."),
    dict(id="comp_prune", part="compression", kind="number", answer=22,
         prompt="Magnitude pruning with amount 0.25 of a weight with 90 entries (torch.nn.utils."
                "prune semantics): how many entries are zeroed?",
         explanation="The count is round(amount x n), with Python's round (half to even). "
                     "round(0.25 x 90) = round(22.5) = 22."),
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
    dict(id="comp_kl_T1", part="compression", kind="number", answer=0.170,
         prompt="Teacher logits $[3, 0]$, student logits $[1, 0]$, temperature $T = 1$. What is "
                "the distillation term $T^2\\,\\mathrm{KL}(p_t \\| p_s)$? (3 significant figures)",
         explanation="KL(p_t || p_s) = sum p_t log(p_t / p_s) with p = softmax(z / T), times T^2. "
                     "p_t = [0.953, 0.047], p_s = [0.731, 0.269]: 0.170."),
    dict(id="comp_kl_T2", part="compression", kind="number", answer=0.361,
         prompt="Same logits at $T = 2$: what is $T^2\\,\\mathrm{KL}(p_t \\| p_s)$? "
                "(3 significant figures)",
         explanation="Soften both with z / 2, then multiply the KL by T^2 = 4 so its gradients "
                     "keep their size. p_t = [0.818, 0.182], p_s = [0.622, 0.378]: 4 x 0.0902 = "
                     "0.361."),
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
             "Right: 6 layers, 66M parameters against 110M, inference 410 s against 668 s, and "
             "77.0 against 79.5 on GLUE (the lecture's tables): 97% of the score.",
             "It keeps 97% of the score (77.0 vs 79.5 in the lecture's table).",
             "Then it would not be smaller."]),
    # --------------------------------------------------------------------------------- KV cache
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
    dict(id="kv_positions", part="kv_cache", kind="formula", answer="cache length",
         prompt="When generating with a KV cache, the position id of the new token is the "
                "______ (two words).",
         explanation="The new token sits after every cached token: its position is the cache "
                     "length, not 0."),
    dict(id="kv_batch_bytes", part="kv_cache", kind="number", answer=4.39,
         prompt="KV cache of Llama-2-7B (32 layers, 32 KV heads, head size 128, fp16) for a "
                "batch of 3 sequences of 3,000 tokens, in GiB? (3 significant figures)",
         explanation="2 (K and V) x layers x heads x head_dim x tokens x batch x bytes. "
                     "2 x 32 x 32 x 128 x 3000 x 3 x 2 bytes = 4.72e9 bytes = 4.39 GiB."),
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
]
