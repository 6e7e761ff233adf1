# %% [markdown]
# # Part 3b: Quantization
#
# **Lecture 11, Model Efficiency: model compression.** A model trained in fp32 stores every
# weight in 32 bits. Quantization stores it in fewer (fp16, int8, int4) and pays with rounding
# error. You will write the quantizer from scratch (round to nearest, symmetric absmax and
# asymmetric zero-point, per-tensor and per-channel, int8 and int4), then quantize a fine-tuned
# encoder and measure storage and accuracy in a table shaped like the lecture's.
#
# | | |
# |---|---|
# | You will write | `quantize`, `dequantize`, `absmax_params`, `zeropoint_params`, `fake_quantize` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 40 minutes; every cell runs in seconds on a laptop CPU |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("you round half up with floor(x + 0.5)"). When
# your notebook is graded, hidden tests run your code on random inputs (with exact ties and
# values outside the range) and compare the integer codes exactly. Do not rename the functions.

# %% [setup]
import copy

import torch
import torch.nn as nn

from course_lib import measure, plotting, widgets
from course_lib.checks.quantization import (check_absmax_params, check_fake_quantize,
                                            check_quantize, check_zeropoint_params)
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, train_classifier

EPS = torch.finfo(torch.float32).eps        # smallest scale we allow (torch's observers do this)

# %% [markdown]
# ## 1. Lower precision: round to nearest
#
# The lecture's first picture: a weight $123.45$ stored as the integer $123$. Its second example,
# $10.789654 \rightarrow 10$, **truncates** (drops the fraction). Rounding to the *nearest*
# integer gives $11$, and halves the worst-case error: truncation can be off by almost 1, rounding
# by at most $\frac{1}{2}$. Every quantizer below rounds to nearest.
#
# One detail matters for exact answers: what happens at a tie such as $2.5$? `torch.round` (like
# NumPy and IEEE 754) rounds **half to even**: $2.5 \to 2$, $3.5 \to 4$, $-2.5 \to -2$. The
# school rule `floor(x + 0.5)` rounds half up ($2.5 \to 3$). On real weights ties are rare, but
# the grader tests them, and we follow torch.

# %%
values = torch.tensor([123.45, 10.789654])
print("value      truncate  round")
for v, t, r in zip(values.tolist(), torch.trunc(values).tolist(), torch.round(values).tolist()):
    print(f"{v:<10} {t:<9.0f} {r:.0f}")
grid = torch.linspace(0, 20, 100_001)                                     # many real values
for name, f in [("truncate", torch.trunc), ("round to nearest", torch.round)]:
    err = (f(grid) - grid).abs()                                          # (100001,)
    print(f"{name:<17} worst error {err.max():.3f}, mean error {err.mean():.3f}")
print("ties, half to even:", torch.round(torch.tensor([0.5, 1.5, 2.5, -2.5])).tolist(),
      " floor(x + 0.5):", torch.floor(torch.tensor([0.5, 1.5, 2.5, -2.5]) + 0.5).tolist())

# %% [markdown]
# ## 2. The affine quantizer
#
# A $b$-bit integer code $q \in [q_{min}, q_{max}]$ stands for the real number $(q - z)\,s$: a
# **scale** $s > 0$ (the step between two codes) and an integer **zero point** $z$ (the code that
# stands for $0.0$). Quantizing and dequantizing are
#
# $$q = \operatorname{clamp}\big(\operatorname{round}(x / s) + z,\; q_{min},\; q_{max}\big),
# \qquad \hat{x} = (q - z)\, s .$$
#
# Three conventions, stated once, used by every exercise (they are those of
# `torch.fake_quantize_per_tensor_affine`):
#
# * `round` is `torch.round` (half to even), applied to $x / s$;
# * $z$ is added **after** rounding. Since $z$ is an integer this only matters at ties:
#   $\operatorname{round}(2.5) + 1 = 3$ but $\operatorname{round}(2.5 + 1) = 4$. (Careful:
#   `torch.quantize_per_tensor` does not promise either order. With torch 2.13 on a laptop CPU it
#   adds $z$ *before* rounding, with torch 2.11 on a GPU server's CPU after: at ties with an odd $z$
#   the same call gives different codes on different machines. A stated convention avoids that.)
# * values outside the range are **clamped** to $q_{min}$ or $q_{max}$.
#
# Within the range the error is at most half a step, $|x - \hat{x}| \le s/2$; outside it grows.
#
# ### Exercise 1 ({{points}} points): `quantize` and `dequantize`
#
# `s` and `z` are numbers or tensors that broadcast against `x` (per-channel: shape `(rows, 1)`).
# `quantize` returns the codes as an integer tensor (`torch.int32`, whatever the bit width: the
# storage we count later is the bit width, not this dtype); `dequantize` returns float32.

# %% [solution] id=quantize
def quantize(x: torch.Tensor, s, z, qmin: int, qmax: int) -> torch.Tensor:
    """q = clamp(round(x / s) + z, qmin, qmax), rounding half to even; int32 codes."""
    ### BEGIN SOLUTION
    q = torch.round(x / s) + z                                  # (..., n): z after rounding
    return torch.clamp(q, qmin, qmax).to(torch.int32)           # (..., n) codes
    ### END SOLUTION


# %% [solution] id=dequantize
def dequantize(q: torch.Tensor, s, z) -> torch.Tensor:
    """x_hat = (q - z) s, as float32."""
    ### BEGIN SOLUTION
    return (q.to(torch.float32) - z) * s                        # (..., n)
    ### END SOLUTION


# %% [tests] id=test_quantize points=3
check_quantize(quantize, dequantize)

# %% [markdown]
# ## 3. Choosing s and z: symmetric absmax and asymmetric zero-point
#
# **Symmetric absmax** (LLM.int8() style): map the largest magnitude to the largest code and
# keep $z = 0$, so $0.0$ is the code $0$ and the range is symmetric:
#
# $$s = \frac{\max |x|}{2^{b-1} - 1}, \qquad z = 0, \qquad q \in [-(2^{b-1}-1),\; 2^{b-1}-1]$$
#
# that is $s = \max|x| / 127$ and $q \in [-127, 127]$ for int8, $s = \max|x|/7$ and
# $q \in [-7, 7]$ for int4. We do **not** use the code $-128$ (or $-8$): the range stays
# symmetric, as in LLM.int8(). (torch's symmetric `qint8` observer instead divides by 127.5 and
# uses $[-128, 127]$; a different, equally valid convention, not ours.)
#
# **Asymmetric zero-point** (affine, unsigned codes $[0, 2^b - 1]$): use the whole range
# $[x_{min}, x_{max}]$, which we first widen to contain $0$ (so that zero, e.g. padding or a ReLU
# output, is represented exactly):
#
# $$x_{min} = \min(\min x, 0),\quad x_{max} = \max(\max x, 0),\quad
# s = \frac{x_{max} - x_{min}}{q_{max} - q_{min}},\quad
# z = \operatorname{clamp}\big(q_{min} - \operatorname{round}(x_{min}/s),\,
# q_{min},\, q_{max}\big).$$
#
# This is what torch's `MinMaxObserver` computes (`quint8`, `per_tensor_affine`). If $s$ would be
# 0 (an all-zero tensor or row) use $s = \varepsilon$ = `EPS` instead, like torch.
#
# **Per-tensor or per-channel.** One $(s, z)$ for the whole weight matrix, or one per **output
# row** (`axis 0` of an `nn.Linear` weight of shape `(out, in)`): then $s$ and $z$ have shape
# `(out, 1)` and broadcast against $W$.
#
# ### Exercise 2 ({{points}} points): `absmax_params`
#
# Return `(s, z)`: `s` a float32 tensor (shape `()` per-tensor, `(rows, 1)` per-channel) and `z`
# an int32 tensor of zeros of the same shape. Use `s = max(s, EPS)` for all-zero rows.

# %% [solution] id=absmax_params
def absmax_params(x: torch.Tensor, bits: int = 8, per_channel: bool = False):
    ### BEGIN SOLUTION
    qmax = 2 ** (bits - 1) - 1                                  # 127 for int8, 7 for int4
    if per_channel:
        amax = x.abs().amax(dim=1, keepdim=True)                # (rows, 1): max |W_i.|
    else:
        amax = x.abs().amax()                                   # (): max |W|
    s = torch.clamp(amax / qmax, min=EPS).to(torch.float32)
    return s, torch.zeros_like(s, dtype=torch.int32)            # z = 0
    ### END SOLUTION


# %% [tests] points=2 case=absmax
check_absmax_params(absmax_params)

# %% [markdown]
# ### Exercise 3 ({{points}} points): `zeropoint_params`
#
# Return `(s, z)` for the asymmetric quantizer with codes in $[0, 2^b - 1]$ (uint8: $[0, 255]$),
# shapes as in Exercise 2, `z` an int32 tensor.

# %% [solution] id=zeropoint_params
def zeropoint_params(x: torch.Tensor, bits: int = 8, per_channel: bool = False):
    ### BEGIN SOLUTION
    qmin, qmax = 0, 2 ** bits - 1
    if per_channel:
        x_min, x_max = x.amin(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)   # (rows, 1)
    else:
        x_min, x_max = x.amin(), x.amax()                                         # ()
    x_min = torch.clamp(x_min, max=0.0)                         # the range must contain 0
    x_max = torch.clamp(x_max, min=0.0)
    s = torch.clamp((x_max - x_min) / (qmax - qmin), min=EPS).to(torch.float32)
    z = torch.clamp(qmin - torch.round(x_min / s), qmin, qmax).to(torch.int32)
    return s, z
    ### END SOLUTION


# %% [tests] points=3 case=zeropoint
check_zeropoint_params(zeropoint_params)

# %% [markdown]
# Symmetric or asymmetric? For weights, which are roughly symmetric around 0, absmax wastes
# almost nothing and needs no zero point. For a one-sided tensor (the output of a GELU or a
# ReLU) absmax leaves half of its codes unused, and zero-point quantization can use them all:

# %%
torch.manual_seed(0)
h = torch.nn.functional.gelu(torch.randn(1000) * 2)                       # (1000,) mostly >= 0
onesided = {}
for name, params, lo, hi in [("symmetric absmax", absmax_params, -127, 127),
                             ("asymmetric zero-point", zeropoint_params, 0, 255)]:
    s, z = params(h, bits=8)
    err = (dequantize(quantize(h, s, z, lo, hi), s, z) - h).abs()         # (1000,)
    onesided[name] = (s.item(), err.mean().item())
    print(f"{name:<22} s = {s.item():.4f}, z = {z.item():>3}, "
          f"mean |error| = {err.mean():.5f}, max |error| = {err.max():.5f}")

# %% [markdown]
# On this one-sided tensor the zero-point quantizer's step is close to half the absmax step, and
# its mean error smaller. <!-- claim: quantization.zeropoint_onesided -->
#
# ### Exercise 4 ({{points}} points): `fake_quantize` a weight matrix
#
# Put the pieces together: `fake_quantize(W, bits, per_channel, symmetric=True)` returns
# $\hat{W}$ = dequantize(quantize($W$)) with absmax parameters and codes in
# $[-(2^{b-1}-1), 2^{b-1}-1]$ when `symmetric`, zero-point parameters and codes in $[0, 2^b-1]$
# otherwise. ("Fake" because the result is float again: it simulates the rounding error, which is
# how accuracy after quantization is measured.)

# %% [solution] id=fake_quantize
def fake_quantize(W: torch.Tensor, bits: int = 8, per_channel: bool = False,
                  symmetric: bool = True) -> torch.Tensor:
    ### BEGIN SOLUTION
    if symmetric:
        s, z = absmax_params(W, bits, per_channel)
        qmin, qmax = -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
    else:
        s, z = zeropoint_params(W, bits, per_channel)
        qmin, qmax = 0, 2 ** bits - 1
    return dequantize(quantize(W, s, z, qmin, qmax), s, z)    # (out, in) W_hat
    ### END SOLUTION


# %% [tests] points=2
check_fake_quantize(fake_quantize)

# %% [markdown]
# ## 4. Outliers, and why per-channel helps
#
# One scale for a whole matrix is set by its single largest entry. Large language models have a
# few **outlier** features whose weights (and activations) are far larger than the rest: one
# outlier stretches the per-tensor step for everyone, and most weights round to a handful of
# codes. Per-channel scales confine the damage to the outlier's own row. Below, one row of a
# weight matrix of the pre-trained encoder is multiplied by 20.

# %%
W = load_encoder().blocks[0].ffn.W_1.weight.detach().clone()             # (256, 64)
W_out = W.clone()
W_out[7] *= 20                                                            # one outlier row
outlier_errors = {}                                           # (matrix, bits) -> [tensor, channel]
others = torch.arange(W.shape[0]) != 7                                    # the ordinary rows
rows = []
for name, M in [("no outlier", W), ("row 7 x 20", W_out)]:
    for bits in (8, 4):
        errs = []
        for per_channel in (False, True):
            W_hat = fake_quantize(M, bits, per_channel)                  # (256, 64)
            errs.append(((W_hat - M)[others].norm() / M[others].norm()).item())
        rows.append((name, f"INT{bits}", f"{errs[0]:.2%}", f"{errs[1]:.2%}"))
        outlier_errors[name, bits] = errs
plotting.show_table(["W_1 of layer 0", "bits", "per-tensor error", "per-channel error"], rows,
                    title="Relative error ||W_hat - W|| / ||W|| on the 255 ordinary rows")

# %% [markdown]
# With the outlier the per-tensor error of the ordinary rows grows several times over, while the
# per-channel error stays what it was without it. <!-- claim: quantization.per_channel_outlier -->
#
# ## 5. Quantize a fine-tuned encoder
#
# We fine-tune the [CLS] classifier once (about 10 s), then replace every linear weight of its
# blocks and its head by the quantized one. Embeddings, LayerNorms and biases stay in fp32 (as
# in most weight-only schemes); activations stay in fp32, so the **W/A** column reads
# "8 / 32": weight-only quantization, like GPTQ and AWQ in the lecture's table ("4 / 16").
#
# Storage counts $b$ bits per quantized weight plus one fp32 scale per tensor or per row (and, for
# zero-point, one code per scale).

# %% [skip-grading]
set_seed(0)
tok = load_tokenizer()
train, test = load_topic("train"), load_topic("test")
fp32_model = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
run = train_classifier(fp32_model, tok, train, epochs=3, lr=1e-3, seed=0, progress=False)
fp32_acc = evaluate(fp32_model, tok, test)
print(f"fine-tuned fp32 classifier: test accuracy {fp32_acc:.1%} ({run['seconds']:.1f} s)")


def linear_layers(model):
    """The nn.Linear layers we quantize: W_q, W_k, W_v, W_o, W_1, W_2 of each block, the head."""
    return [m for m in list(model.encoder.blocks.modules()) + [model.head]
            if isinstance(m, nn.Linear)]


def quantized_copy(model, bits, per_channel, symmetric=True):
    q_model = copy.deepcopy(model)
    with torch.no_grad():
        for m in linear_layers(q_model):
            if bits == 16:
                m.weight.copy_(m.weight.half().float())                # fp16 round trip
            elif bits < 32:
                m.weight.copy_(fake_quantize(m.weight, bits, per_channel, symmetric))
    return q_model


def storage_bytes(model, bits, per_channel):
    """Bytes of the whole classifier when its linear weights take `bits` bits each."""
    lin = linear_layers(model)
    n_lin = sum(m.weight.numel() for m in lin)
    n_scales = sum(m.weight.shape[0] if per_channel else 1 for m in lin) if bits < 16 else 0
    rest = measure.model_size_bytes(model) - 4 * n_lin                # fp32 everything else
    return rest + n_lin * bits / 8 + 4 * n_scales


lin_params = sum(m.weight.numel() for m in linear_layers(fp32_model))
print(f"{lin_params:,} of {measure.count_parameters(fp32_model):,} parameters are linear weights")

configs = [("FP32", 32, False), ("FP16", 16, False), ("INT8 per-tensor", 8, False),
           ("INT8 per-channel", 8, True), ("INT4 per-tensor", 4, False),
           ("INT4 per-channel", 4, True)]
fp32_bytes = storage_bytes(fp32_model, 32, False)
table, accuracy = [], {}
for name, bits, per_channel in configs:
    acc = accuracy[name] = evaluate(quantized_copy(fp32_model, bits, per_channel), tok, test)
    size = storage_bytes(fp32_model, bits, per_channel)
    lin_size = lin_params * bits / 8
    table.append((name, f"{bits} / 32", measure.format_bytes(lin_size),
                  f"{measure.format_bytes(size)} ({size / fp32_bytes:.0%})",
                  f"{acc:.1%} ({100 * (acc - fp32_acc):+.1f})"))
plotting.show_table(["Method", "W/A bits", "Linear weights", "Storage (whole model)",
                     "Test accuracy (change)"], table,
                    title="Fine-tuned encoder, weight-only quantization")

# %% [markdown]
# Read the table like the lecture's: halving the bits halves the linear weights' storage. Down to
# 8 bits the accuracy does not move (within half a point). <!-- claim: quantization.int8_free -->
# At 4 bits a per-tensor scale costs accuracy, and per-channel scales win it back.
# <!-- claim: quantization.int4_per_channel -->
# The whole model shrinks less than the linear weights, because in a tiny model the fp32
# embedding table (1939 x 64) is a big share; in an LLM the linear layers are almost everything,
# and 4-bit weights give the lecture's 16 GB -> 4 GB.
#
# ## 6. How many bits? (precomputed, move the slider)

# %% [skip-grading]
BITS = [2, 3, 4, 5, 6, 8]
sweep = {}
for bits in BITS:
    for per_channel in (False, True):
        q_model = quantized_copy(fp32_model, bits, per_channel)
        err = sum((q.weight - m.weight).norm() ** 2 for q, m in
                  zip(linear_layers(q_model), linear_layers(fp32_model)))
        err = (err / sum(m.weight.norm() ** 2 for m in linear_layers(fp32_model))).sqrt().item()
        sweep[bits, per_channel] = (err, evaluate(q_model, tok, test))
fig = plotting.line_plot(
    BITS, {"per-tensor: error": [sweep[b, False][0] for b in BITS],
           "per-channel: error": [sweep[b, True][0] for b in BITS]},
    "bits per weight", "relative error ||W_hat - W|| / ||W||",
    "Reconstruction error against bits per weight", logy=True)
fig2 = plotting.line_plot(
    BITS, {"per-tensor": [100 * sweep[b, False][1] for b in BITS],
           "per-channel": [100 * sweep[b, True][1] for b in BITS],
           "fp32": [100 * fp32_acc] * len(BITS)},
    "bits per weight", "test accuracy (%)", "Accuracy after quantization")
widgets.table_slider(
    BITS, {b: (sweep[b, False], sweep[b, True]) for b in BITS}, "bits",
    lambda b, r: (f"<b>INT{b}</b>: per-tensor error {r[0][0]:.2%}, accuracy {r[0][1]:.1%}; "
                  f"per-channel error {r[1][0]:.2%}, accuracy {r[1][1]:.1%} "
                  f"(fp32 {fp32_acc:.1%}); linear weights {lin_params * b / 8 / 1024:.0f} KiB "
                  f"instead of {lin_params * 4 / 1024:.0f} KiB"))

# %% [markdown]
# Each extra bit roughly halves the reconstruction error, as one more bit halves the step.
# <!-- claim: quantization.error_halves_per_bit -->
#
# ## 7. Beyond round-to-nearest: the methods of the lecture's table
#
# The lecture's table (Llama-3.1 8B, 70B, 405B) compares weight/activation bit widths:
# FP16 (16/16, 16 GB for 8B), FP8 (8/8, 8 GB), GPTQ (4/16 or 8/16), SmoothQuant (8/8) and AWQ
# (4/16, 4 GB). In the lecture's table, on average over the six tasks, the 8-bit methods keep the
# 8B model within 0.19 points of FP16, while 4-bit weights cost it 1.26 to 2.32 points (GPTQ,
# AWQ). At 70B every method stays within 0.61 points. At 405B all but one stay within 0.31, but
# SmoothQuant 8/8 loses 2.44
# points on average, 10.70 of them on MMLU alone (83.98 -> 73.28): quantizing the activations too
# can fail badly on one task even for the largest model. Each method improves on the plain
# rounding you wrote:
#
# **GPTQ** (Frantar et al. 2023; weights, 4/16 or 8/16). Quantize the columns of $W$ one at a
# time, and after each column **compensate the error**: update the not-yet-quantized columns so
# that the layer's *output* $W X$ on calibration inputs changes as little as possible. The update
# uses the inverse Hessian of that least-squares problem, $H = 2 X X^\top$ (Optimal Brain
# Surgeon's idea, made fast enough for 175B parameters). Rounding errors cancel instead of adding
# up; no retraining.
#
# **AWQ** (Lin et al. 2024; weights, 4/16). Not all weights matter equally: the input channels
# that meet large *activations* (about 1%) are **salient**. Instead of keeping them in fp16
# (mixed precision is slow), AWQ multiplies those weight columns by a per-channel factor
# $s_j > 1$ before quantization and divides the activations by $s_j$: the product is unchanged,
# and the salient weights get relatively finer steps. The factors are searched on calibration
# data from the activation magnitudes.
#
# **SmoothQuant** (Xiao et al. 2023; weights *and* activations, 8/8). Activations are hard to
# quantize because a few channels carry outliers 100x larger than the rest; weights are easy.
# SmoothQuant **moves the difficulty from activations to weights** with a per-input-channel
# factor, $Y = (X \operatorname{diag}(s)^{-1})(\operatorname{diag}(s) W)$, chosen as
#
# $$s_j = \frac{\max |X_j|^{\alpha}}{\max |W_j|^{1-\alpha}}, \qquad \alpha \approx 0.5,$$
#
# so both the smoothed activations and the scaled weights fit int8 well. Then both run as int8
# matrix multiplications (the "8 / 8" row): faster, not only smaller.
#
# ## Summary
#
# * Quantization maps $x$ to integer codes $q = \operatorname{clamp}(\operatorname{round}(x/s) +
#   z, q_{min}, q_{max})$ and back, $\hat{x} = (q - z)s$; rounding to nearest keeps the error
#   within $s/2$, half of what truncation costs.
# * Symmetric absmax: $s = \max|x|/127$, $z = 0$. Asymmetric: the range $[x_{min}, x_{max}]$
#   (containing 0) onto $[0, 255]$, with an integer zero point.
# * One outlier ruins a per-tensor scale; per-channel scales (one per output row) isolate it.
#   <!-- claim: quantization.per_channel_outlier -->
# * 8-bit weights cost almost nothing here; at 4 bits per-channel scales are needed (or GPTQ
#   and AWQ at scale). <!-- claim: quantization.int8_free -->
#   <!-- claim: quantization.int4_per_channel -->
#
# **Check yourself.** (1) With absmax int8, what is the largest error for weights in
# $[-0.5, 0.5]$? (2) Why must 0 be exactly representable? (3) How many bytes does a 70B model
# take at 4 bits, ignoring scales? (4) Why does SmoothQuant help activations but not hurt
# weights much?
#
# <details><summary>Answers</summary>
#
# (1) $s/2 = 0.5/254 \approx 0.002$. (2) Padding and ReLU zeros are everywhere and must stay
# exactly 0 (zero-padding must not add error). (3) 35 GB, the table's number. (4) Weights have no
# large outliers, so absorbing a moderate per-channel factor keeps them easy to quantize, while
# the activations lose their outliers.
#
# </details>
#
# ## Exercises
#
# 1. **Group-wise scales.** GPTQ and AWQ use one scale per group of 128 weights of a row. Write
#    `fake_quantize_groups(W, bits, group)` (reshape each row into groups, absmax per group) and
#    compare its error on `W_out` with per-channel scales at 4 bits. How many extra bytes do the
#    scales cost for a $4096 \times 4096$ matrix with fp16 scales?
# 2. **Where the bits matter.** Quantize only the attention weights ($W_q, W_k, W_v, W_o$) to 4
#    bits, then only the FFN ($W_1, W_2$). Which costs the fine-tuned encoder more accuracy?
#    Predict first from the parameter counts.
# 3. **Activations too.** Fake-quantize the input of every `nn.Linear` (a forward pre-hook)
#    to int8 per tensor, with its scale taken from a calibration batch. What happens to accuracy,
#    and to the error if one input channel is multiplied by 50?
# 4. **SmoothQuant by hand.** For $X$ with an outlier channel and $W$ well-behaved, compute
#    $s_j = \max|X_j|^{\alpha} / \max|W_j|^{1-\alpha}$ with $\alpha = 0.5$, quantize
#    $X\operatorname{diag}(s)^{-1}$ and $\operatorname{diag}(s)W$ to int8, and compare the error of
#    $XW$ with and without smoothing.
#
# <details><summary>Answers</summary>
#
# 1. Expect the error to drop below per-channel's, since an outlier then spoils 128 weights
#    instead of a row. Scales: $4096 \cdot 4096 / 128 = 131{,}072$ of them, 2 bytes each: 256 KiB on top of
#    8 MiB of 4-bit weights, about 0.125 extra bits per weight.
# 2. The FFN holds two thirds of each block's linear weights, so more rounding error goes
#    there; measure both, since which layers are sensitive is an empirical question.
# 3. Expect int8 activations per tensor to cost little on this small model; one channel 50 times
#    larger stretches the activation scale 50-fold, so every other channel is rounded to a few
#    codes: the error grows sharply. That is the problem SmoothQuant solves.
# 4. Smoothing divides the outlier channel by $s_j$ and multiplies the matching row of $W$ by it:
#    the product $XW$ is unchanged before quantization, and after it the error is much smaller,
#    because neither factor now has a range set by one channel.
#
# </details>
