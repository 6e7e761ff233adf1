"""Visible checks for the quantization notebook (notebooks/quantization/quantization.ipynb). Properties only.

Interface (see the notebook):
    quantize(x, s, z, qmin, qmax) -> int codes, q = clamp(round(x / s) + z, qmin, qmax)
    dequantize(q, s, z) -> float32, x_hat = (q - z) s
    absmax_params(x, bits=8, per_channel=False) -> (s, z)     symmetric, z = 0
    zeropoint_params(x, bits=8, per_channel=False) -> (s, z)  asymmetric, codes [0, 2^b - 1]
    fake_quantize(W, bits=8, per_channel=False, symmetric=True) -> W_hat
The small examples below are worked out by hand in the comments; no reference answer is computed.
Each exercise is checked on its own: the checks of absmax_params and zeropoint_params read the
scale and zero point they return directly, never through the student's quantize or dequantize.
"""

from __future__ import annotations

import torch

from . import call, expect, expect_close, expect_shape, ok, visible_check


def _call(fn, *args, **kwargs):
    return call(f"{fn.__name__}(...)", fn, *args, **kwargs)


def _codes(q, what="quantize(...)"):
    expect(isinstance(q, torch.Tensor), f"{what} should return a torch.Tensor")
    expect(not q.is_floating_point(),
           f"{what} should return integer codes (e.g. .to(torch.int32)), got {q.dtype}")
    return q.to(torch.int64)


@visible_check
def check_quantize(quantize, dequantize) -> None:
    # 123.45 -> 123 and 10.789654 -> 11 (nearest, not truncated), s = 1, z = 0
    q = _codes(_call(quantize, torch.tensor([123.45, 10.789654]), 1.0, 0, -128, 127))
    expect(q.tolist() != [123, 10], "10.789654 became 10: you truncate; round to the nearest "
                                    "integer (torch.round)")
    expect(q.tolist() == [123, 11], f"quantize([123.45, 10.789654], s=1, z=0) gave {q.tolist()}; "
                                    "round(x / s) + z gives [123, 11]")
    ok("123.45 -> 123 and 10.789654 -> 11: round to nearest")

    # ties: 0.5 -> 0, 1.5 -> 2, 2.5 -> 2, -2.5 -> -2, -3.5 -> -4 (half to even, like torch.round)
    x = torch.tensor([0.5, 1.5, 2.5, -2.5, -3.5])
    q = _codes(_call(quantize, x, 1.0, 0, -128, 127)).tolist()
    expect(q != [1, 2, 3, -2, -3], "ties round half up: you use floor(x + 0.5); use torch.round, "
                                   "which rounds half to even (2.5 -> 2)")
    expect(q == [0, 2, 2, -2, -4], f"ties {x.tolist()} gave {q}; torch.round rounds half to even: "
                                   "[0, 2, 2, -2, -4]")
    ok("ties round half to even, like torch.round")

    # scale: x / s, 0.75 / 0.25 = 3; zero point after rounding: round(2.5) + 1 = 3, not 4
    q = _codes(_call(quantize, torch.tensor([0.75]), 0.25, 0, -128, 127)).tolist()
    expect(q == [3], f"quantize(0.75, s=0.25) gave {q}; the code is round(x / s) = 3")
    q = _codes(_call(quantize, torch.tensor([2.5, 0.0]), 1.0, 1, 0, 255)).tolist()
    expect(q[1] == 1, f"0.0 with z = 1 gave code {q[1]}: 0.0 must map to the zero point z")
    expect(q[0] != 4, "round(2.5 + 1) = 4: you add the zero point before rounding; the formula "
                      "is round(x / s) + z = 2 + 1 = 3")
    expect(q[0] == 3, f"quantize(2.5, s=1, z=1) gave {q[0]}; round(2.5) + 1 = 3")
    ok("q = round(x / s) + z, the zero point added after rounding")

    # clamping
    q = _codes(_call(quantize, torch.tensor([1000.0, -1000.0]), 1.0, 0, -127, 127)).tolist()
    expect(q == [127, -127], f"out-of-range values gave {q}: clamp the codes to [qmin, qmax] "
                             "(no clamping lets an int8 code overflow)")
    q = _codes(_call(quantize, torch.tensor([-3.0, 300.0]), 1.0, 2, 0, 255)).tolist()
    expect(q == [0, 255], f"with z = 2 and range [0, 255], -3 and 300 gave {q}: clamp after "
                          "adding z")
    ok("codes are clamped to [qmin, qmax]")

    # dequantize and the s/2 bound, with per-row (broadcast) scales and zero points
    torch.manual_seed(0)
    x = torch.randn(4, 50)
    s = torch.tensor([[0.05], [0.1], [0.02], [0.08]])                          # (4, 1)
    z = torch.tensor([[3], [-2], [0], [7]], dtype=torch.int32)
    q = _call(quantize, x, s, z, -1000, 1000)
    expect_shape(q, x.shape, "quantize with per-row s, z of shape (4, 1)")
    x_hat = _call(dequantize, q, s, z)
    expect(isinstance(x_hat, torch.Tensor) and x_hat.dtype == torch.float32,
           "dequantize should return a float32 tensor")
    expect_close(_call(dequantize, torch.tensor([[5]]), 0.5, 3), torch.tensor([[1.0]]),
                 "dequantize(5, s=0.5, z=3)", hint="x_hat = (q - z) s = (5 - 3) * 0.5 = 1.0")
    err = (x_hat - x).abs()
    expect(bool((err <= s / 2 + 1e-6).all()),
           f"|x_hat - x| reaches {err.max():.3g}, more than s/2 within the range: dequantize "
           "should be (q - z) s")
    ok("dequantize(quantize(x)) is within s/2 of x, with per-row s and z")
    print("All visible quantize/dequantize checks passed.")


def _params(fn, x, bits, per_channel):
    out = _call(fn, x, bits=bits, per_channel=per_channel)
    expect(isinstance(out, tuple) and len(out) == 2, f"{fn.__name__} should return (s, z)")
    s, z = out
    s = torch.as_tensor(s, dtype=torch.float32)
    z = torch.as_tensor(z)
    expect(not z.is_floating_point(), f"the zero point z should be an integer tensor, got "
                                      f"{z.dtype}: round it")
    return s, z.to(torch.int64)


@visible_check
def check_absmax_params(absmax_params) -> None:
    x = torch.tensor([[0.5, -2.54, 1.0], [0.1, 0.2, -0.3]])                     # max|x| = 2.54
    s, z = _params(absmax_params, x, 8, False)
    expect(s.numel() == 1, "per-tensor: one scale for the whole tensor")
    expect(not torch.isclose(s, torch.tensor(1.0 / 127)).all(),
           "s = max(x) / 127 = 1/127: use the largest magnitude max|x| (here a negative value)")
    expect(not torch.isclose(s, torch.tensor(2.54 / 127.5)).all(),
           "s = max|x| / 127.5 is torch's qint8 observer; this notebook uses s = max|x| / 127 and "
           "codes in [-127, 127]")
    expect(torch.isclose(s * 127, torch.tensor(2.54)).all(),
           f"s = {s.item():.5f}; symmetric int8 uses s = max|x| / 127 = 2.54 / 127")
    expect(bool((z == 0).all()), "symmetric quantization has zero point z = 0")
    ok("per-tensor int8: s = max|x| / 127, z = 0")

    s4, _ = _params(absmax_params, x, 4, False)
    expect(torch.isclose(s4 * 7, torch.tensor(2.54)).all(),
           f"int4: s = {s4.item():.5f}; the symmetric int4 range is [-7, 7], so s = max|x| / 7")
    ok("int4: s = max|x| / 7")

    s, z = _params(absmax_params, x, 8, True)
    expect(s.shape == (2, 1), f"per-channel s has shape {tuple(s.shape)}; expected (rows, 1) = "
                              "(2, 1): one scale per output row, keepdim=True")
    expect(not torch.isclose(s[0], s[1]).all(), "both rows got the same scale: you computed a "
                                                "per-tensor scale where per-channel was asked")
    expect(torch.allclose(s.squeeze(1) * 127, torch.tensor([2.54, 0.3])),
           f"per-channel scales {s.squeeze(1).tolist()}; each row uses its own max|x| / 127")
    expect(tuple(z.shape) in ((2, 1), ()) and bool((z == 0).all()), "z should be zeros")
    top = torch.round(x.abs().amax(dim=1, keepdim=True) / s)                  # (2, 1)
    expect(top.squeeze(1).tolist() == [127, 127],
           "each row's largest magnitude should map to the code +-127: s = max|x_i.| / 127")
    ok("per-channel: one scale per output row; each row's max|x| maps to +-127")

    s, _ = _params(absmax_params, torch.zeros(2, 3), 8, True)
    expect(bool(torch.isfinite(s).all() & (s > 0).all()),
           "an all-zero row needs a positive scale (use max(s, EPS)) so that x / s is not NaN")
    ok("all-zero rows get a positive scale")
    print("All visible absmax checks passed.")


@visible_check
def check_zeropoint_params(zeropoint_params) -> None:
    x = torch.tensor([[-1.0, 0.5, 2.0], [0.0, 0.25, 3.0]])
    s, z = _params(zeropoint_params, x, 8, False)
    expect(s.numel() == 1, "per-tensor: one scale for the whole tensor")
    expect(torch.isclose(s * 255, torch.tensor(4.0)).all(),
           f"s = {s.item():.5f}; with x_min = -1 and x_max = 3, s = (x_max - x_min) / 255")
    expect(0 <= int(z) <= 255, f"z = {int(z)} is outside [0, 255]")
    q = (torch.round(torch.tensor([-1.0, 3.0]) / s) + z).tolist()           # round(x / s) + z
    expect(q == [0, 255], f"x_min and x_max get the codes {q}; they should use the ends of the "
                          "range, 0 and 255: z = qmin - round(x_min / s)")
    ok("x_min and x_max map to the codes 0 and 255 (q = round(x / s) + z)")
    expect(float(z) == round(float(z)), f"z = {float(z)} is not a whole number: the zero point "
                                        "is an integer code, so that 0.0 is exactly a code")
    ok("asymmetric int8: [x_min, x_max] onto [0, 255], 0.0 exactly representable (z is an "
       "integer)")

    pos = torch.tensor([[1.0, 2.0, 3.0]])                       # all positive
    s, z = _params(zeropoint_params, pos, 8, False)
    expect(int(z) == 0, f"for an all-positive tensor z = {int(z)}: the range must contain 0 "
                        "(x_min = min(min x, 0)), so z = 0 here")
    expect(torch.isclose(s * 255, torch.tensor(3.0)).all(),
           "all-positive: the range is [0, max x], so s = max x / 255; the range must contain 0")
    ok("the range [x_min, x_max] is widened to contain 0")

    s4, _ = _params(zeropoint_params, x, 4, False)
    expect(torch.isclose(s4 * 15, torch.tensor(4.0)).all(),
           "int4 zero-point codes are [0, 15], so s = (x_max - x_min) / 15")
    ok("4 bits: codes [0, 15]")

    x2 = torch.tensor([[-1.0, 0.5, 2.0], [0.0, 0.25, 5.0]])
    s, z = _params(zeropoint_params, x2, 8, True)
    expect(s.shape == (2, 1), f"per-channel s has shape {tuple(s.shape)}; expected (rows, 1)")
    expect(not torch.isclose(s[0], s[1]).all(), "both rows got the same scale: you computed a "
                                                "per-tensor scale where per-channel was asked")
    expect(torch.allclose(s.squeeze(1) * 255, torch.tensor([3.0, 5.0])) and int(z[1]) == 0,
           "per-channel: row 0 spans [-1, 2] (s = 3/255), row 1 spans [0, 5] (s = 5/255, z = 0)")
    ok("per-channel: one (s, z) per output row")
    print("All visible zero-point checks passed.")


@visible_check
def check_fake_quantize(fake_quantize) -> None:
    torch.manual_seed(0)
    W = torch.randn(16, 32) * 0.05
    W[3] *= 30                                                   # an outlier row
    for bits in (8, 4):
        for per_channel in (False, True):
            W_hat = _call(fake_quantize, W, bits=bits, per_channel=per_channel)
            expect_shape(W_hat, W.shape, f"fake_quantize(W, bits={bits}, per_channel="
                                         f"{per_channel})")
            expect(W_hat.is_floating_point(), "fake_quantize returns the dequantized float "
                                              "weights, not the integer codes")
            n_levels = max(len(torch.unique(r)) for r in W_hat)
            expect(n_levels <= 2 ** bits - 1,
                   f"a row of the {bits}-bit result takes {n_levels} distinct values; symmetric "
                   f"{bits}-bit codes allow at most {2 ** bits - 1}")
    ok("float output of W's shape, at most 2^b - 1 distinct values a row")

    err = {}
    for per_channel in (False, True):
        W_hat = fake_quantize(W, bits=4, per_channel=per_channel)
        err[per_channel] = (W_hat - W).abs()
        amax = W.abs().amax(dim=1, keepdim=True) if per_channel else W.abs().amax()
        expect(bool((err[per_channel] <= amax / 7 / 2 + 1e-6).all()),
               "the error exceeds half a step (max|x| / 7 / 2 for int4): check the scale")
    others = torch.arange(16) != 3
    expect(err[True][others].mean() < 0.5 * err[False][others].mean(),
           "with an outlier row, per-channel scales should quantize the other rows much better: "
           "did you compute a per-tensor scale where per-channel was asked?")
    ok("error within half a step; per-channel isolates the outlier row")

    W_hat = fake_quantize(W, bits=8, per_channel=True)
    expect_close(fake_quantize(W_hat, bits=8, per_channel=True), W_hat,
                 "fake_quantize applied twice", atol=1e-6,
                 hint="quantizing already-quantized weights should change nothing")
    W_asym = fake_quantize(W.abs(), bits=4, per_channel=True, symmetric=False)
    n_levels = max(len(torch.unique(r)) for r in W_asym)
    expect(n_levels <= 16, "asymmetric 4-bit codes are [0, 15]: at most 16 values a row")
    expect(bool(((W_asym - W.abs()).abs() <= W.abs().amax(1, keepdim=True) / 15 / 2 + 1e-6)
                .all()), "symmetric=False should use zero-point parameters and codes [0, 2^b - 1]")
    ok("idempotent; symmetric=False uses the zero-point quantizer")
    print("All visible fake_quantize checks passed.")
