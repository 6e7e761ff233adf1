"""The graded practice quiz's questions with their plain answer key (instructor only).

`python -m autograde.quiz_authoring` writes solutions/practice_quiz/practice_quiz.py from it (the
answers go into nbgrader solution cells, the rubrics into mark schemes, both cleared from the
release) and the question kinds, not the answers, into cases.py. The questions follow the lecture's
order. They are not the review's self-check questions (solutions/review/self_check_key.py) and use
other numbers; tests/test_quiz.py checks both directions and recomputes every numeric answer.

Kinds: "number" (3 significant figures), "choice" (the option's number), "formula" (a short text),
all autograded through hidden cases; "written" (a paragraph, graded by hand against `rubric`:
(points, what earns them) pairs that add up to `points`; `answer` is the model answer).
"""

QUESTIONS = [
    # ------------------------------------------------------------------------------------ PEFT
    dict(id="cls_head_params", part="peft", kind="number", answer=3_076,
         title="Size of a [CLS] classifier head",
         prompt="A linear classifier (weights and a bias) on the 768-dimensional [CLS] embedding "
                "of BERT-base, for the lecture's four topics (Sports, Finance, Technology, "
                "Health). How many new parameters does it add?",
         explanation="768 x 4 weights + 4 biases"),
    dict(id="cls_vs_mask", part="peft", kind="written", points=2,
         title="Classifying with [CLS] or with [MASK]",
         prompt="The lecture classifies a sentence's topic in two ways: a new classifier on the "
                "[CLS] embedding, or a pattern such as \"... What is the topic? [MASK]\" whose "
                "mask the pre-trained MLM head fills, read at the label words (a verbalizer). "
                "Explain why the [MASK] recipe can predict with no labelled example while the "
                "[CLS] recipe cannot, and give one advantage of the [CLS] recipe.",
         rubric=[(1, "The [MASK] recipe re-uses the pre-trained MLM head: the logits of the "
                     "label words at the mask mean something before any training (label "
                     "semantics, pre-trained knowledge). The [CLS] classifier is new and "
                     "randomly initialised, so it predicts nothing useful until it is trained "
                     "on labelled examples."),
                 (1, "One real advantage of [CLS], explained: no pattern or verbalizer to "
                     "design (so no sensitivity to their wording); labels need not be single "
                     "words of the vocabulary; any number of classes with one linear layer.")],
         answer="The [MASK] recipe asks the model the question it was pre-trained on: fill in the "
                "mask. Its MLM head already scores words like \"Sports\" or \"Finance\" in "
                "context, so reading those logits at the mask gives a prediction before any "
                "training (zero-shot). The [CLS] recipe adds a new, randomly initialised "
                "classifier whose weights mean nothing until they are trained on labelled "
                "examples. In exchange, [CLS] needs no hand-designed pattern or verbalizer, so "
                "its accuracy does not depend on how a prompt is worded, and its labels need not "
                "be words of the vocabulary."),
    dict(id="zero_few_shot", part="peft", kind="written", points=2,
         title="Zero-shot and few-shot prompting",
         prompt="What do *zero-shot* and *few-shot* mean for [MASK] classification with a prompt "
                "and a verbalizer? Why does this recipe need fewer training examples than a new "
                "classifier head, and what limits it?",
         rubric=[(1, "Zero-shot: predictions from the pattern and the verbalizer alone, with no "
                     "labelled example and no training. Few-shot: only a handful of labelled "
                     "examples, used to fine-tune (or to choose the prompt)."),
                 (1, "Fewer examples because the task is posed as the pre-training task (fill "
                     "in the mask) and starts from what the model knows about the label words: "
                     "nothing is learned from scratch. A limit, explained: accuracy depends on "
                     "the wording of the pattern and the choice of label words; every label "
                     "needs a word the model knows.")],
         answer="Zero-shot: the model classifies with the pattern and the label words only, no "
                "labelled example is used and nothing is trained. Few-shot: a handful of "
                "labelled examples (say 16 per class) is used to fine-tune the model through the "
                "same pattern. Because the task is posed as filling in the mask, the pre-trained "
                "head already knows how the label words relate to the sentence, so the few "
                "examples only adjust a model that is already close; a new head must learn the "
                "whole mapping from scratch. The recipe is limited by its prompt: a different "
                "wording or a different label word can change the accuracy a lot, and each "
                "label needs a word the model knows."),
    dict(id="prompt_sensitivity", part="peft", kind="written", points=2,
         title="Why hand-written prompts are fragile, and what soft prompts change",
         prompt="In the lecture's table, four wordings of the same question (\"[X] is "
                "located in [Y].\") score from 19.78 to 51.08 P@1. Why is a frozen masked "
                "language model so sensitive to the wording? How does soft prompt tuning "
                "(P-tuning) avoid choosing a wording by hand, and what does it cost?",
         rubric=[(1, "Sensitivity: the model predicts the mask only from the context it is "
                     "given; each wording is a different context, and nothing trained the "
                     "model to treat paraphrases alike, so small changes move the prediction. "
                     "The best wording can only be found by trying many."),
                 (1, "Soft prompts: the prompt is a sequence of continuous vectors learned by "
                     "gradient descent on labelled examples while the model stays frozen (the "
                     "lecture's [PRE]/[HYP] table: P-tuning 76.45 against 70.15 for the best of "
                     "four hand-written prompts). A cost, explained: labelled data and "
                     "back-propagation through the whole model; vectors that are not words, "
                     "tied to one model.")],
         answer="A masked LM fills the mask from the context it sees. Two wordings of one "
                "question are two different contexts, and pre-training never taught the model "
                "that they ask the same thing, so the prediction moves with the wording; the "
                "only way to find a good wording by hand is to try many. Soft prompt tuning "
                "replaces the words of the prompt by trainable vectors and learns them by "
                "gradient descent on labelled examples, with the model frozen, so the prompt "
                "is chosen by the loss instead of by hand (the lecture's table: P-tuning 76.45 "
                "against 70.15 for the best hand-written prompt). It costs labelled data and "
                "training through the whole model, and the learned vectors are not readable "
                "and only work with the model they were trained for."),
    dict(id="soft_prompt_params", part="peft", kind="number", answer=102_400,
         title="Parameters of a soft prompt",
         prompt="Soft prompt tuning of RoBERTa-large ($d = 1024$) with $n = 100$ prompt vectors. "
                "How many trainable parameters?",
         explanation="n d = 100 x 1024"),
    dict(id="prefix_params", part="peft", kind="number", answer=491_520,
         title="Parameters of a prefix at every layer",
         prompt="P-tuning v2 on RoBERTa-large (24 layers, $d = 1024$) with $n = 10$ prefix "
                "vectors for the keys and for the values of every layer (no "
                "reparameterisation). How many trainable parameters?",
         explanation="layers x 2 n d = 24 x 2 x 10 x 1024"),
    dict(id="adapter_placement", part="peft", kind="written", points=2,
         title="Where adapters sit, and what they cost",
         prompt="Houlsby et al. insert two adapters $h \\leftarrow h + W_{up}\\, f(W_{down} h)$ "
                "in every transformer block. Where in the block do they sit, why does an adapter "
                "have a residual connection and start close to the identity, and what does this "
                "design cost at inference compared with merged LoRA?",
         rubric=[(1, "Placement: one after the attention sublayer (its output projection) and "
                     "one after the feed-forward sublayer, each before the residual addition "
                     "and LayerNorm; the pre-trained weights stay frozen."),
                 (1, "Residual + near-zero start: the block first computes what the "
                     "pre-trained block computed, so training starts from the pre-trained "
                     "function and the bottleneck m << d keeps 2dm + d + m parameters. Cost: "
                     "two extra matrix products and a nonlinearity in sequence in every layer, "
                     "extra latency that cannot be merged away (the nonlinearity), while LoRA's "
                     "W_0 + (alpha/r) BA is one matrix again.")],
         answer="In Houlsby's design each block gets two adapters: one right after the attention "
                "sublayer's output projection and one after the feed-forward sublayer, each "
                "before the residual addition and the LayerNorm. The adapter adds its output to "
                "its input, and it starts with a tiny (or zero) up-projection, so at the start "
                "the block computes exactly what the pre-trained block computed: fine-tuning "
                "starts from the pre-trained model instead of disturbing it. The bottleneck "
                "m << d keeps it small, 2dm + d + m parameters. The price is paid at inference: "
                "two more matrix products and a nonlinearity run in sequence in every layer, "
                "and because of the nonlinearity they cannot be folded into the frozen weights, "
                "whereas a trained LoRA update merges into W and costs nothing extra."),
    dict(id="adapter_block_params", part="peft", kind="number", answer=264_320,
         title="Adapter parameters in one block",
         prompt="A Houlsby block holds two adapters, each with $W_{down} \\in \\mathbb{R}^{m "
                "\\times d}$ and $W_{up} \\in \\mathbb{R}^{d \\times m}$ and their biases. With "
                "$d = 1024$ and $m = 64$, how many adapter parameters does one block add?",
         explanation="2 x (2 d m + d + m) = 2 x 132,160"),
    dict(id="lora_params_large", part="peft", kind="number", answer=786_432,
         title="LoRA's trainable parameters on RoBERTa-large",
         prompt="LoRA with rank $r = 8$ on $W_q$ and $W_v$ of every layer of RoBERTa-large (24 "
                "layers, $d = k = 1024$). How many trainable parameters? (The lecture's table "
                "rounds it.)",
         explanation="layers x 2 matrices x r (d + k) = 24 x 2 x 8 x 2048: the 0.8M of the table"),
    dict(id="lora_alpha_over_r", part="peft", kind="choice", answer=1,
         title="What the alpha / r scaling buys",
         prompt="LoRA scales its update by $\\alpha / r$ (Hu et al.). What does this scaling buy "
                "when you try another rank $r$?",
         options=["The size of the update no longer depends on r",
                  "alpha is set once and the learning rate need not be retuned for each r",
                  "The number of trainable parameters no longer depends on r",
                  "The update stays zero until training ends"],
         explanations=[
             "No: with alpha fixed, the update still changes size with r (rsLoRA's argument for "
             "alpha / sqrt(r)).",
             "Right: Hu et al. set alpha to the first r they try and do not tune it; the scaling "
             "reduces the need to retune hyperparameters when r changes.",
             "The count is r (d + k) per matrix, whatever the scaling.",
             "Only B starts at zero; the update moves as soon as B trains."]),
    dict(id="lora_update_rank", part="peft", kind="formula", answer="r",
         title="The rank of LoRA's update",
         prompt="LoRA's update is $\\Delta W = \\frac{\\alpha}{r} B A$ with $B \\in "
                "\\mathbb{R}^{d \\times r}$, $A \\in \\mathbb{R}^{r \\times k}$ and "
                "$r \\ll \\min(d, k)$. Its rank is at most ___ (one symbol; a string such as "
                "`\"x\"`).",
         explanation="rank(BA) <= min(rank B, rank A) <= r"),
    # ------------------------------------------------------------------------------------- MoE
    dict(id="moe_gate_value", part="moe", kind="number", answer=0.613,
         title="A gate value",
         prompt="A router gives $h(x) = [0.2, 1.5, -0.5, 0]$ for $N = 4$ experts. What is the "
                "largest gate value $p_i(x)$? (3 significant figures)",
         explanation="e^1.5 / (e^0.2 + e^1.5 + e^-0.5 + e^0) = 4.482 / 7.310"),
    dict(id="moe_top2_renormalized", part="moe", kind="number", answer=0.786,
         title="Top-2 weights, renormalised",
         prompt="Same $h(x) = [0.2, 1.5, -0.5, 0]$, top-2 routing, and the two chosen weights "
                "renormalised to sum to 1 (Mixtral). What weight does the top expert get? "
                "(3 significant figures)",
         explanation="e^1.5 / (e^1.5 + e^0.2) = 1 / (1 + e^-1.3)"),
    dict(id="moe_balance_value", part="moe", kind="number", answer=1.10,
         title="A load-balancing loss",
         prompt="Switch Transformer's load-balancing loss $N \\sum_i f_i P_i$ with $N = 2$ "
                "experts and top-1 routing over four tokens whose router probabilities are "
                "$(0.9, 0.1)$, $(0.7, 0.3)$, $(0.6, 0.4)$ and $(0.2, 0.8)$. What is its value? "
                "(3 significant figures)",
         explanation="f = (3/4, 1/4), P = (0.6, 0.4): 2 x (0.45 + 0.10)"),
    dict(id="moe_serving_memory", part="moe", kind="choice", answer=0,
         title="What sparse experts do not save",
         prompt="Compared with a dense model whose feed-forward block is one expert, an MoE "
                "with $N = 8$ such experts and top-2 routing ...",
         options=["holds about 8x the feed-forward weights in memory and computes about 2x per "
                  "token",
                  "holds about 2x the weights and computes about 2x per token",
                  "holds about 8x the weights and computes about 8x per token",
                  "holds the same weights, since only 2 experts are loaded per token"],
         explanations=[
             "Right: every expert must be in memory, since any token may pick any expert; only "
             "the chosen two run.",
             "All 8 experts are held, not only the 2 that run.",
             "Only the 2 chosen experts run for a token.",
             "Any token may pick any expert, so all must be loaded."]),
    # ----------------------------------------------------------------------------- compression
    dict(id="prune_twice_remaining", part="compression", kind="number", answer=250,
         title="Pruning twice",
         prompt="`prune.l1_unstructured(layer, \"weight\", amount=0.5)` is applied twice to a "
                "weight with 1,000 nonzero entries. How many nonzero entries remain?",
         explanation="the second call prunes half of what is left: 1000 -> 500 -> 250"),
    dict(id="pruning_granularity", part="compression", kind="written", points=2,
         title="Pruning weights, neurons, heads or layers",
         prompt="The lecture prunes a transformer at four granularities: weights, neurons, "
                "attention heads and layers. Compare pruning single weights (unstructured) with "
                "removing neurons, heads or layers (structured): which keeps more accuracy at "
                "the same sparsity, which makes an ordinary dense model faster, and why?",
         rubric=[(1, "Unstructured keeps more accuracy at the same sparsity (it chooses each "
                     "weight: the finest choice), but does not speed up a dense matrix "
                     "multiplication: the zeros are still stored and multiplied unless sparse "
                     "formats, kernels or hardware are used."),
                 (1, "Structured removes whole rows, heads or layers, so the matrices (or the "
                     "depth) shrink and ordinary dense hardware runs faster with less memory; "
                     "the choice is coarser, so it costs more accuracy and usually needs a "
                     "short fine-tune (the lecture's table: dropping 6 of BERT's 12 layers "
                     "loses 2.18 points on SST-2 and 7.84 on MRPC).")],
         answer="Pruning single weights is the finest choice: it can remove exactly the least "
                "important weights anywhere, so at a given sparsity it keeps the most accuracy. "
                "But the pruned matrix has the same shape, and a dense matrix multiplication "
                "multiplies the zeros like any other number: no speed-up, and no memory saved, "
                "unless sparse formats and kernels (or hardware) exploit them. Removing whole "
                "neurons, heads or layers makes the matrices smaller or the model shallower, so "
                "the same dense hardware really does less work and stores less. The choice is "
                "coarse, whole units go at once, so it costs more accuracy and is usually "
                "followed by a short fine-tune: in the lecture's table, dropping 6 of BERT's 12 "
                "layers loses 2.18 points on SST-2 and 7.84 on MRPC."),
    dict(id="absmax_code", part="compression", kind="number", answer=63,
         title="An int8 code",
         prompt="Symmetric absmax int8 quantization of $x = [0.42, -3.81, 1.9]$ with "
                "$s = \\max|x| / 127$: what is the int8 code of 1.9?",
         explanation="s = 3.81 / 127 = 0.03; round(1.9 / 0.03) = round(63.3)"),
    dict(id="asymmetric_zero_point", part="compression", kind="number", answer=96,
         title="A zero point",
         prompt="Asymmetric uint8 quantization of values in $[-1.5, 2.5]$: "
                "$s = (\\max - \\min) / 255$ and $z = \\mathrm{round}(-\\min / s)$. What is the "
                "zero point $z$?",
         explanation="s = 4 / 255; -min / s = 1.5 x 255 / 4 = 95.6"),
    dict(id="asymmetric_quantization", part="compression", kind="written", points=2,
         title="Symmetric or asymmetric int8",
         prompt="Symmetric absmax int8 maps $[-\\max|x|, \\max|x|]$ onto $[-127, 127]$ with "
                "$z = 0$. A ReLU output lies in $[0, 6]$. What goes wrong with the symmetric "
                "scheme there, how does an asymmetric (affine) scheme "
                "$q = \\mathrm{clamp}(\\mathrm{round}(x / s) + z, 0, 255)$ fix it, and what does "
                "the asymmetric scheme cost?",
         rubric=[(1, "Symmetric: s = 6/127 (about 0.047) and the 127 negative codes are never "
                     "used, so only half the codes cover the data. Asymmetric: s = 6/255 "
                     "(about 0.024), z = 0 here, all 256 codes cover [0, 6] and the rounding "
                     "error (at most s/2) is halved."),
                 (1, "Cost: a zero point to store per tensor (or per channel), and a matrix "
                     "product with z != 0 needs correction terms (z times row or column sums), "
                     "so the kernels do more work; weights, roughly symmetric around 0, lose "
                     "little with the symmetric scheme.")],
         answer="With absmax the scale is s = 6/127, about 0.047, and the codes -127 ... -1 are "
                "never used because no value is negative: half of the 8 bits' range is wasted. "
                "An asymmetric scheme maps [min, max] = [0, 6] onto all 256 codes: s = 6/255, "
                "about 0.024, with zero point z = round(-min/s) = 0, so the step, and with it "
                "the worst rounding error s/2, is halved. The cost is a zero point to store for "
                "each tensor or channel and more arithmetic: a product of quantized matrices "
                "with z != 0 needs extra correction terms (z times sums of rows or columns). "
                "Weights are roughly symmetric around zero, so for them the simpler symmetric "
                "scheme loses little."),
    dict(id="distillation_term", part="compression", kind="number", answer=0.482,
         title="A distillation loss term",
         prompt="Teacher logits $[2, 1, 0]$, student logits $[0, 1, 0]$, temperature $T = 2$. "
                "What is $T^2\\,\\mathrm{KL}(p_t \\| p_s)$ with $p = \\mathrm{softmax}(z / T)$? "
                "(3 significant figures)",
         explanation="p_t = softmax([1, 0.5, 0]), p_s = softmax([0, 0.5, 0]); 4 x KL"),
    dict(id="sequence_vs_token_distillation", part="compression", kind="written", points=2,
         title="Token-level or sequence-level distillation",
         prompt="To distill a language model, *token-level* distillation trains the student to "
                "match the teacher's next-token distribution at every position (the KL term); "
                "*sequence-level* distillation trains the student on text the teacher "
                "generated (the lecture's \"distillation: copy training data\", as for "
                "DeepSeek-R1-Distill-Llama-70B). Give the main advantage and one limitation of "
                "each.",
         rubric=[(1, "Token-level: a full soft distribution at every position (how likely every "
                     "other token is), far more signal per example than one sampled token. "
                     "Limitation: it needs the teacher's logits during training (white-box "
                     "access, the same vocabulary, a teacher forward pass per batch)."),
                 (1, "Sequence-level: needs only the teacher's outputs (a black-box or API "
                     "teacher, any tokenizer), and is ordinary fine-tuning on a data set "
                     "generated once and reused (DeepSeek-R1-Distill: about 800k samples). "
                     "Limitation: one sampled answer per prompt, not the distribution, so the "
                     "student learns only what the samples show, the teacher's mistakes "
                     "included.")],
         answer="Token-level distillation gives the student the teacher's whole probability "
                "distribution at every position: besides the right token it learns which other "
                "tokens the teacher found likely, a much richer signal than one token. It needs "
                "the teacher's logits while training, so the teacher must be open (white-box), "
                "share the student's vocabulary, and run a forward pass for every batch. "
                "Sequence-level distillation only needs the teacher's generated text: the "
                "teacher can be a black box behind an API with another tokenizer, and the "
                "student is fine-tuned on a fixed data set that is generated once and reused "
                "(DeepSeek-R1-Distill used about 800k samples). But each prompt contributes one "
                "sampled answer, not a distribution, so the student sees less information per "
                "example and copies the teacher's mistakes along with its successes."),
    # --------------------------------------------------------------------------------- KV cache
    dict(id="kv_cache_mib", part="kv_cache", kind="number", answer=384,
         title="Size of a KV cache",
         prompt="A decoder with 24 layers and 16 attention heads of size 64 (every head has its "
                "own keys and values), in fp16. How large is its KV cache, in MiB, for a batch "
                "of 4 sequences of 1,024 tokens?",
         explanation="2 x 24 x 16 x 64 x 1024 x 4 x 2 bytes / 2^20"),
    dict(id="kv_prefill_keys", part="kv_cache", kind="choice", answer=0,
         title="How often a cached key is computed",
         prompt="A 500-token prompt, then 100 generated tokens with a KV cache. In each layer, "
                "how many times is the key of the prompt's first token computed?",
         options=["once", "100 times", "101 times", "600 times"],
         explanations=[
             "Right: the prefill computes it; every later step reads it from the cache.",
             "That would be recomputing it at every generated step, as without a cache.",
             "Without a cache: once in the prefill and once per step.",
             "That is the number of tokens, not of computations of one key."]),
    dict(id="kv_cache_policies", part="kv_cache", kind="written", points=2,
         title="Choosing what a KV cache keeps",
         prompt="At the same cache budget, compare a sliding window, StreamingLLM and H2O: what "
                "does each keep, and when does each fail?",
         rubric=[(1, "Sliding window: the most recent tokens; fixed memory, simple, but quality "
                     "breaks once the first tokens are evicted, since attention puts much of its "
                     "mass on them (attention sinks). StreamingLLM: the first few (about 4) "
                     "tokens plus a recent window; stable on long streams, but the middle is "
                     "gone, so an old fact cannot be recalled."),
                 (1, "H2O: a recent window plus the heavy hitters, the older tokens with the "
                     "largest accumulated attention; keeps important old tokens, but must track "
                     "attention scores (extra work; fused attention kernels do not expose "
                     "them), and eviction is final: a token evicted as unimportant cannot come "
                     "back when a later query needs it.")],
         answer="A sliding window keeps only the most recent tokens. It is simple and its memory "
                "is fixed, but once the first tokens of the sequence are evicted the quality "
                "breaks, because attention puts a large share of its weight on them (attention "
                "sinks). StreamingLLM keeps those first few tokens, about four, plus the recent "
                "window: it stays stable on very long streams, but everything in the middle is "
                "dropped, so it cannot recall a fact from far back. H2O keeps the recent window "
                "plus the heavy hitters, the older tokens that have received the most attention "
                "so far, so important old tokens survive; it must track attention scores, which "
                "costs work and does not fit fused attention kernels that never form the "
                "scores, and its eviction is final: a token that looked unimportant is gone "
                "when a later query needs it."),
]
