# %% [markdown]
# # Part 3b: Quantization
#
# **Lecture 11, Model Efficiency: model compression.** A model trained in fp32 stores every
# weight in 32 bits. Quantization stores it in fewer (fp16, bf16, fp8, int8, int4) and pays with
# rounding error. After a look at the number formats and what each costs, you will write the
# quantizer from scratch (round to nearest, symmetric absmax and asymmetric zero-point,
# per-tensor and per-channel, int8 and int4), see why outliers break it and how LLM.int8() sets
# them aside, quantize a fine-tuned encoder and measure storage and accuracy in a table shaped
# like the lecture's, and end where LoRA and quantization meet: fine-tuning on a 4-bit base
# (QLoRA).
#
# | | |
# |---|---|
# | You will write | `quantize`, `dequantize`, `absmax_params`, `zeropoint_params`, `fake_quantize` |
# | Points | {{total_points}} (hidden tests re-check your code on random inputs when it is graded) |
# | Time | about 40 minutes of work; run top to bottom, the notebook takes about 25 s on a 2-core laptop CPU (measured; cells that take longer than a few seconds show a progress bar) |
#
# **How feedback works.** After each exercise a test cell runs visible checks and prints a ✓ per
# property, or tells you which mistake it sees ("you round half up with floor(x + 0.5)"). When
# your notebook is graded, hidden tests run your code on random inputs (with exact ties and
# values outside the range) and compare the integer codes exactly. Do not rename the functions.

# %% [setup]
import copy

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from course_lib import measure, plotting, widgets
from course_lib.checks.quantization import (check_absmax_params, check_fake_quantize,
                                            check_quantize, check_zeropoint_params)
from course_lib.datasets import TOPICS, load_topic
from course_lib.model import CLSClassifier
from course_lib.nbimport import ExerciseNotDone, import_notebook
from course_lib.pretrained import load_encoder, load_tokenizer
from course_lib.runtime import set_seed
from course_lib.training import evaluate, train_classifier

EPS = torch.finfo(torch.float32).eps        # smallest scale we allow (torch's observers do this)

# %% [markdown]
# ## 1. Number formats, and what each costs
#
# The lecture's slide: a model trained in fp32 is quantized to lower precision (int8, fp16,
# ...) for inference, to save memory and computation. The formats differ in how they spend
# their bits. A **floating-point** number has a sign bit, $e$ exponent bits (its range: how large
# and how small a number it can hold) and $m$ mantissa bits (its precision: the relative step
# between neighbouring numbers, $2^{-m}$). An **integer** format has evenly spaced values and
# needs a scale to stand for real numbers (Section 3).
#
# * **fp32** (1 + 8 + 23): the training default. 4 bytes a weight.
# * **fp16** (1 + 5 + 10): half the bytes, a fine step, but a narrow range: nothing above
#   65,504, and gradients below $6 \cdot 10^{-8}$ vanish. Training in fp16 needs loss scaling.
# * **bf16** (1 + 8 + 7): fp32's range in 16 bits (no overflow where fp32 has none), paid for
#   with a coarse step: 2 to 3 significant decimal digits. The usual format for training and serving
#   LLMs on recent accelerators.
# * **fp8**, two variants: **e4m3** (1 + 4 + 3, largest 448) for weights and activations,
#   **e5m2** (1 + 5 + 2) for gradients; each tensor also needs a scale to fit its range. The
#   lecture's FP8 row (W/A 8/8) uses it for both weights and activations.
# * **int8** and **int4**: 256 and 16 evenly spaced codes, with a scale (and maybe a zero point)
#   per tensor, row or group. Integer matrix products are fast where the hardware has int8
#   units; int4 weights are usually dequantized to 16 bits before the product (W/A 4/16).
#
# What each costs is its bytes (the memory, and the memory traffic that bounds the speed of
# generating text) against its error. The table reads them from torch:

# %%
FORMATS = [("fp32", torch.float32, (8, 23)), ("fp16", torch.float16, (5, 10)),
           ("bf16", torch.bfloat16, (8, 7)), ("fp8 e4m3", torch.float8_e4m3fn, (4, 3)),
           ("fp8 e5m2", torch.float8_e5m2, (5, 2)), ("int8", torch.int8, None),
           ("int4", None, None)]
format_rows = []
for name, dtype, bits in FORMATS:
    if dtype is not None and dtype.is_floating_point:
        f = torch.finfo(dtype)
        layout, largest, step = f"1 + {bits[0]} + {bits[1]}", f"{f.max:.4g}", f"{f.eps:.3g}"
        size = f.bits
    else:
        size = 8 if dtype is not None else 4
        layout, largest, step = f"{size}-bit integer", f"{2 ** (size - 1) - 1} (x scale)", "scale"
    format_rows.append((name, size, layout, largest, step, f"{8e9 * size / 8 / 1e9:.0f} GB"))
plotting.show_table(["format", "bits", "sign + exponent + mantissa", "largest value",
                     "step at 1.0", "8B-parameter model"], format_rows,
                    title="Number formats (torch.finfo); the last column is the lecture's storage")
x = torch.tensor([0.1, 3.14159, 70000.0, 1e-8])
for name, dtype, _ in FORMATS[1:5]:
    print(f"{name:<9} 0.1 -> {x[0].to(dtype).item():.6g}, 3.14159 -> {x[1].to(dtype).item():.6g}"
          + (f", 70000 -> {x[2].to(dtype).item()}, 1e-8 -> {x[3].to(dtype).item():.3g}"
             if name in ("fp16", "bf16") else ""))
fig = plotting.number_formats([(name, bits) for name, _, bits in FORMATS if bits is not None])

# %% [markdown]
# fp16 overflows at 70,000 (to `inf`) and rounds $10^{-8}$ to 0, where bf16 keeps both,
# coarsely; fp8 keeps barely one significant digit. The 8B row is the lecture's storage column:
# 16 GB in FP16, 8 GB in FP8 or int8, 4 GB at 4 bits. The rest of this notebook is about the
# integer formats, which need a scale.
#
# ## 2. Lower precision: round to nearest
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
# ## 3. The affine quantizer
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
#   $\operatorname{round}(2.5) + 1 = 3$ but $\operatorname{round}(2.5 + 1) = 4$. Libraries do
#   not agree on this detail (even `torch.quantize_per_tensor` has been seen to add $z$ before
#   rounding in one build and after in another), so we state one convention and test it.
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
# ## 4. Choosing s and z: symmetric absmax and asymmetric zero-point
#
# **Symmetric absmax** (the quantizer LLM.int8() builds on, Dettmers et al. 2022): map the
# largest magnitude to the largest code and keep $z = 0$, so $0.0$ is the code $0$ and the range
# is symmetric:
#
# $$s = \frac{\max |x|}{2^{b-1} - 1}, \qquad z = 0, \qquad q \in [-(2^{b-1}-1),\; 2^{b-1}-1]$$
#
# that is $s = \max|x| / 127$ and $q \in [-127, 127]$ for int8, $s = \max|x|/7$ and
# $q \in [-7, 7]$ for int4. We do **not** use the code $-128$ (or $-8$): the range stays
# symmetric, as in LLM.int8(), which applies absmax to each row of the activations and to each
# output's weights (a column of the paper's $W$ in $XW$, a row of ours in $XW^\top$; Section 5).
# (torch's symmetric `qint8` observer instead divides by 127.5 and uses $[-128, 127]$; a
# different, equally valid convention, not ours.)
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
# ## 5. Outliers, and why per-channel helps
#
# One scale for a whole matrix is set by its single largest entry: one outlier stretches the
# per-tensor step for everyone, and most values round to a handful of codes. Per-channel scales
# confine the damage to the outlier's own row. Below, one row of a weight matrix of the
# pre-trained encoder is multiplied by 20. **The outlier is synthetic**: our small encoder has
# none of its own, so we plant one to see what it does.

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
# ### Outliers in the activations: LLM.int8()
#
# In real LLMs the worst outliers are in the **activations**, not the weights. Dettmers et al.
# (2022, "LLM.int8(): 8-bit Matrix Multiplication for Transformers at Scale") found that from
# about 6.7B parameters on, a few **feature dimensions** of the hidden states (columns of the
# activation matrix $X$, tokens $\times$ features) carry values up to 20 times larger than the
# rest, in most tokens and in most layers. Those columns stretch the scale of every token's
# row, and per-row (vector-wise) scales cannot help: each row contains the outlier. Their fix is
# a **mixed-precision decomposition** of the product $X W^\top$: with $O$ the set of outlier
# dimensions (those where some $|X_{tj}| \ge 6$, about 0.1% of them),
#
# $$X W^\top = \underbrace{X_{:,O}\, W_{:,O}^\top}_{\text{fp16}} \;+\;
#   \underbrace{X_{:,\bar O}\, W_{:,\bar O}^\top}_{\text{int8, vector-wise}} ,$$
#
# the few outlier columns multiplied in fp16, everything else in int8, with one absmax scale per
# row of $X$ (per token) and one per row of $W$ (per output). Below, the activations entering
# layer 0's FFN on real sentences, with two **synthetic** outlier dimensions multiplied by 20
# (again: our encoder has none of its own); the int8 parts use your `quantize` and
# `absmax_params` (per-channel: one scale per row).

# %%
tok = load_tokenizer()
enc = load_encoder()
sample = tok.batch([ex.text for ex in load_topic("dev")[:32]])
with torch.no_grad():
    captured = []
    hook = enc.blocks[0].ffn.W_1.register_forward_pre_hook(lambda m, a: captured.append(a[0]))
    enc(**sample)
    hook.remove()
X = captured[0][sample["attention_mask"].bool()]                         # (tokens, d) real tokens
W1 = enc.blocks[0].ffn.W_1.weight.detach()                                 # (d_ff, d)
OUTLIER_DIMS = [5, 40]
X_out = X.clone()
X_out[:, OUTLIER_DIMS] *= 20                                               # synthetic outliers


def int8_rows(M):
    """M quantized to int8 and back, one absmax scale per row."""
    s, z = absmax_params(M, 8, per_channel=True)
    return dequantize(quantize(M, s, z, -127, 127), s, z)


def int8_matmul(X, W, outliers=()):
    """X W^T with vector-wise int8 (per-token, per-output scales); `outliers` columns in float."""
    keep = torch.ones(X.shape[1], dtype=torch.bool)
    keep[list(outliers)] = False
    out = int8_rows(X[:, keep]) @ int8_rows(W[:, keep]).T                # the int8 part
    return out + X[:, ~keep] @ W[:, ~keep].T                              # the fp16 part


exact = X_out @ W1.T                                                      # (tokens, d_ff)
found = (X_out.abs() >= 6).any(dim=0).nonzero().flatten().tolist()       # LLM.int8()'s rule
s_t, _ = absmax_params(X_out, 8)                                          # one scale for all
per_tensor = dequantize(quantize(X_out, s_t, 0, -127, 127), s_t, 0) @ int8_rows(W1).T
int8_errors = {"per-tensor int8": per_tensor, "vector-wise int8": int8_matmul(X_out, W1),
               f"vector-wise int8 + {len(found)} dims in float (LLM.int8())":
                   int8_matmul(X_out, W1, found)}
int8_errors = {k: ((v - exact).norm() / exact.norm()).item() for k, v in int8_errors.items()}
print(f"{X.shape[0]} tokens x {X.shape[1]} features; dimensions with |x| >= 6: {found} "
      f"(the planted ones: {OUTLIER_DIMS})")
plotting.show_table(["X W^T computed with", "relative error"],
                    [(k, f"{v:.3%}") for k, v in int8_errors.items()],
                    title="Layer 0's FFN input with two synthetic outlier dimensions")

# %% [markdown]
# Per-token (vector-wise) scales lower the error (the table shows by how much), but every
# token still carries the outliers, so each token's scale is still set by them; setting the
# outlier dimensions aside cuts the error of the product at least fivefold more, at the price
# of a few columns in 16 bits. <!-- claim: quantization.int8_decomposition --> That is how LLM.int8()
# runs 175B-parameter models in 8 bits without losing accuracy; SmoothQuant (Section 8)
# attacks the same outliers differently.
#
# ## 6. Quantize a fine-tuned encoder
#
# We fine-tune the [CLS] classifier once, then replace every linear weight of its
# blocks and its head by the quantized one. Embeddings, LayerNorms and biases stay in fp32 (as
# in most weight-only schemes); activations stay in fp32, so the **W/A** column reads
# "8 / 32": weight-only quantization, like GPTQ and AWQ in the lecture's table ("4 / 16").
#
# Storage counts $b$ bits per quantized weight plus one fp32 scale per tensor or per row (and, for
# zero-point, one code per scale).

# %% [skip-grading]
set_seed(0)
train, test = load_topic("train"), load_topic("test")
fp32_model = CLSClassifier(load_encoder(), num_labels=len(TOPICS))
run = train_classifier(fp32_model, tok, train, epochs=3, lr=1e-3, seed=0)
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
for name, bits, per_channel in tqdm(configs, desc="quantize and evaluate"):
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
# At 4 bits the accuracy moves by less than a point either way, per-tensor or per-channel: on
# this small, well-behaved model (no outliers of its own) even 4-bit rounding barely matters,
# and differences under a point are of the size another seed makes. The weights' reconstruction
# error, below, is what per-channel scales clearly lower. <!-- claim: quantization.int4_per_channel -->
# The whole model shrinks less than the linear weights, because in a tiny model the fp32
# embedding table (1939 x 64) is a big share; in an LLM the linear layers are almost everything,
# and 4-bit weights give the lecture's 16 GB -> 4 GB.
#
# ## 7. How many bits? (precomputed, move the slider)

# %% [skip-grading]
BITS = [2, 3, 4, 5, 6, 8]
sweep = {}
for bits in tqdm(BITS, desc="bits"):
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
# <!-- claim: quantization.error_halves_per_bit --> At every bit width the per-channel error is
# below the per-tensor one. <!-- claim: quantization.per_channel_lower_error -->
#
# ## 8. Beyond round-to-nearest: the methods of the lecture's table
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
# ## 9. Where LoRA meets quantization: QLoRA
#
# Quantization so far made a *trained* model smaller. QLoRA (Dettmers et al. 2023, "QLoRA:
# Efficient Finetuning of Quantized LLMs") uses it to make **fine-tuning** cheaper: the frozen
# base model is stored in 4 bits, and LoRA's $A$ and $B$ (Part 1d) train in 16 bits on top of
# it. The forward pass dequantizes each weight on the fly, $h = \hat{W}_0 x + \frac{\alpha}{r}
# B A x$; the backward pass goes *through* $\hat W_0$ to reach $A$ and $B$ below, but $\hat W_0$
# itself gets no gradient and no optimizer state. Per frozen weight that is half a byte instead
# of the 16 bytes of full fine-tuning in fp32 with Adam (4 for the weight, 4 for its gradient, 8
# for Adam's two averages). The paper adds a 4-bit format fitted to normally distributed
# weights (NF4), quantizes the scales too (double quantization) and pages optimizer state out of
# GPU memory, and fine-tunes a 65B model on one 48 GB GPU.
#
# Below, the same recipe at our scale: your `add_lora` from Part 1d (imported from your LoRA
# notebook, `lora.ipynb`) on a copy of the pre-trained encoder whose linear weights are your
# 4-bit per-channel `fake_quantize`d ones, against LoRA on the fp32 encoder; same rank ($r =
# 8$, $\alpha = 16$, on $W_q$ and $W_v$), learning rate and steps.

# %% [skip-grading]
try:
    lora_nb = import_notebook("lora.ipynb")            # your LoRALinear and add_lora, Part 1d
except (FileNotFoundError, ExerciseNotDone) as e:
    lora_nb = None
    print(f"QLoRA skipped: {e}")


def lora_on(bits: int) -> CLSClassifier:
    """LoRA (r = 8) on the pre-trained encoder, its linear weights fake-quantized to `bits`."""
    set_seed(0)
    enc = load_encoder()
    if bits < 32:
        with torch.no_grad():
            for m in enc.blocks.modules():
                if isinstance(m, nn.Linear):
                    m.weight.copy_(fake_quantize(m.weight, bits, per_channel=True))
    return CLSClassifier(lora_nb.add_lora(enc, r=8, alpha=16), num_labels=len(TOPICS))


qlora = {}
if lora_nb is not None:
    for name, bits in tqdm([("LoRA on the fp32 base", 32), ("QLoRA: LoRA on a 4-bit base", 4)],
                           desc="LoRA and QLoRA"):
        model = lora_on(bits)
        train_classifier(model, tok, train, epochs=1, lr=5e-3, seed=0, progress=False)
        frozen = measure.count_parameters(model) - measure.count_parameters(model, True)
        qlora[name] = (evaluate(model, tok, test), frozen, measure.count_parameters(model, True))
    plotting.show_table(
        ["Fine-tuning", "Test accuracy", "Frozen base (bytes)", "Trainable (numbers)"],
        [(name, f"{acc:.1%}", measure.format_bytes(n_frozen * (4 if "fp32" in name else 0.5)),
          f"{n_train:,}") for name, (acc, n_frozen, n_train) in qlora.items()],
        title="One epoch each (the frozen base counted as if every weight were stored in 4 bits)")
for P in (8e9, 65e9):                                   # bytes per parameter: 16 vs 0.5 (+ LoRA)
    print(f"{P / 1e9:.0f}B model: full fine-tuning in fp32 with Adam {16 * P / 1e9:,.0f} GB; "
          f"QLoRA's 4-bit frozen base {0.5 * P / 1e9:,.1f} GB, plus LoRA and its optimizer state")

# %% [markdown]
# On the 4-bit base LoRA lands within 2 points of LoRA on the fp32 base, for an eighth of the
# base's bytes. <!-- claim: quantization.qlora_close --> (The table counts our small encoder's
# frozen part, embeddings included, as if it were all stored in 4 bits; we quantized only the
# blocks' linear weights, as QLoRA quantizes the linear layers.)
#
# ## Summary
#
# * Quantization maps $x$ to integer codes $q = \operatorname{clamp}(\operatorname{round}(x/s) +
#   z, q_{min}, q_{max})$ and back, $\hat{x} = (q - z)s$; rounding to nearest keeps the error
#   within $s/2$, half of what truncation costs.
# * Symmetric absmax: $s = \max|x|/127$, $z = 0$. Asymmetric: the range $[x_{min}, x_{max}]$
#   (containing 0) onto $[0, 255]$, with an integer zero point.
# * Formats trade range (exponent bits) against precision (mantissa bits): fp16 overflows above
#   65,504, bf16 keeps fp32's range with 2 to 3 digits, fp8 needs a scale; integers need a scale and
#   maybe a zero point. Storage is the bits: 16, 8 and 4 GB for an 8B model.
# * One outlier ruins a per-tensor scale; per-channel scales (one per output row) isolate it.
#   <!-- claim: quantization.per_channel_outlier --> LLM.int8()'s outliers are feature
#   dimensions of the activations; it multiplies them in 16 bits and the rest in int8.
#   <!-- claim: quantization.int8_decomposition -->
# * 8-bit weights cost almost nothing here, and on this small model even 4-bit weights cost
#   under a point; per-channel scales halve the reconstruction error at 4 bits (GPTQ and AWQ go
#   further at scale). <!-- claim: quantization.int8_free -->
#   <!-- claim: quantization.int4_per_channel -->
# * QLoRA: LoRA trains in 16 bits on a frozen 4-bit base, half a byte per frozen weight instead
#   of 16 bytes for full fine-tuning with Adam. <!-- claim: quantization.qlora_close -->
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
