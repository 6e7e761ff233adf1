"""Hidden cases of the quantization notebook (solutions/quantization/quantization.py): seeded
inputs, no answers.

Codes are compared exactly (integers). Every case mixes random values with exact ties
(x / s = k + 0.5 with a power-of-two s, so x / s is exact) and values outside the range.
fake_quantize is graded with torch's own quantizer and observers standing in for the student's
quantize, dequantize, absmax_params and zeropoint_params, so its points depend on it alone.
"""

import warnings

import torch

from autograde.spec import Case
from course_lib.checks import stand_ins


def _gen(seed, offset):
    return torch.Generator().manual_seed(1000 * offset + seed)


def _ties(s, ks):
    """Values whose x / s is exactly k + 0.5 (s a power of two)."""
    return torch.tensor([(k + 0.5) * s for k in ks], dtype=torch.float32)


def _codes(q):
    if isinstance(q, torch.Tensor) and not q.is_floating_point():
        return q.to(torch.int64)             # any integer dtype is fine; values compare exactly
    return q


# (scale, zero point, qmin, qmax, per-row?)
QUANTIZE = {
    0: (0.25, 0, -127, 127, False),          # symmetric int8
    1: (0.5, 3, 0, 255, False),              # asymmetric uint8, odd zero point
    2: (None, None, -128, 127, True),        # per-row s and z (odd and even z)
    3: (0.125, 0, -7, 7, False),             # symmetric int4
    4: (0.0625, 5, 0, 15, False),            # asymmetric 4-bit, odd zero point
}


def _quantize(objects, seed):
    s, z, qmin, qmax, per_row = QUANTIZE[seed]
    g = _gen(seed, 1)
    if per_row:
        s = torch.tensor([[0.25], [0.5], [0.125]])                       # (3, 1)
        z = torch.tensor([[1], [-4], [7]], dtype=torch.int32)
        ties = torch.stack([_ties(float(si), range(-6, 6)) for si in s.squeeze(1)])
        x = torch.cat([torch.randn(3, 20, generator=g) * 20, ties,
                       torch.tensor([[100.0, -100.0]] * 3)], dim=1)      # (3, 34)
    else:
        span = (qmax - qmin) * s
        ties = _ties(s, range(-12, 12))
        x = torch.cat([torch.randn(30, generator=g) * span / 3, ties,
                       torch.tensor([2 * span, -2 * span, 0.0])])       # (57,)
    q = objects["quantize"](x, s, z, qmin, qmax)
    out = {"q": _codes(q)}
    out["x_hat"] = objects["dequantize"](q, s, z)
    return out


def _params_case(name, fn_key, rows, cols, bits_list):
    def run(objects, seed):
        g = _gen(seed, 2 if fn_key == "absmax_params" else 3)
        x = torch.randn(rows + seed, cols, generator=g) * (0.1 + seed)
        if seed == 1:
            x[0] = 0.0                                   # an all-zero row
        if seed == 2:
            x = x.abs() + 0.5                            # all positive: 0 must be in the range
        if seed == 3:
            x[1] *= 40                                   # an outlier row
        out = {}
        for bits in bits_list:
            for per_channel in (False, True):
                s, z = objects[fn_key](x, bits=bits, per_channel=per_channel)
                s = torch.as_tensor(s)
                z = torch.as_tensor(z)
                key = f"{bits}bit_{'channel' if per_channel else 'tensor'}"
                out[f"s_{key}"] = s.to(torch.float32) if s.is_floating_point() else s
                out[f"z_{key}"] = torch.broadcast_to(_codes(z), s.shape).clone()
        return out
    return run


# ---------------------------------------------------------------- torch's pieces, for fake_quantize
def _torch_quantize(x, s, z, qmin, qmax):
    """Codes from torch.fake_quantize_per_{tensor,channel}_affine (half to even, z after)."""
    s_t, z_t = torch.as_tensor(s, dtype=torch.float32), torch.as_tensor(z)
    if s_t.numel() == 1:
        fq = torch.fake_quantize_per_tensor_affine(x, float(s_t), int(z_t), qmin, qmax)
    else:                                                     # one scale per row: (rows, 1)
        fq = torch.fake_quantize_per_channel_affine(
            x, s_t.reshape(-1), z_t.reshape(-1).to(torch.int32), 0, qmin, qmax)
    return (torch.round(fq / s_t) + z_t).to(torch.int32)


def _torch_dequantize(q, s, z):
    return (q.to(torch.float32) - torch.as_tensor(z)) * torch.as_tensor(s, dtype=torch.float32)


def _observed(x, bits, per_channel, symmetric):
    """(s, z) of torch's MinMax observers with the notebook's code ranges."""
    from torch.ao.quantization import MinMaxObserver, PerChannelMinMaxObserver
    qmin, qmax = (-(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1) if symmetric else (0, 2 ** bits - 1)
    kind = (torch.per_channel_symmetric if per_channel else torch.per_tensor_symmetric) \
        if symmetric else (torch.per_channel_affine if per_channel else torch.per_tensor_affine)
    dtype = torch.qint8 if symmetric else torch.quint8
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        obs = (PerChannelMinMaxObserver(ch_axis=0, dtype=dtype, qscheme=kind, quant_min=qmin,
                                        quant_max=qmax) if per_channel else
               MinMaxObserver(dtype=dtype, qscheme=kind, quant_min=qmin, quant_max=qmax))
        obs(x.detach())
        s, z = obs.calculate_qparams()
    shape = (x.shape[0], 1) if per_channel else ()
    return s.float().reshape(shape), z.to(torch.int32).reshape(shape)


TORCH_PIECES = dict(
    quantize=_torch_quantize, dequantize=_torch_dequantize,
    absmax_params=lambda x, bits=8, per_channel=False: _observed(x, bits, per_channel, True),
    zeropoint_params=lambda x, bits=8, per_channel=False: _observed(x, bits, per_channel, False))


def _fake_quantize(objects, seed):
    g = _gen(seed, 4)
    W = torch.randn(8 + 2 * seed, 24, generator=g) * 0.05                   # (out, in)
    W[seed] *= 25                                                            # an outlier row
    if seed == 2:
        W = W.abs()                                                          # one-sided
    out = {}
    for bits in (8, 4):
        for per_channel in (False, True):
            for symmetric in (True, False):
                key = (f"W_hat_{bits}bit_{'channel' if per_channel else 'tensor'}_"
                       f"{'sym' if symmetric else 'asym'}")
                f = objects["fake_quantize"]
                with stand_ins(f, **TORCH_PIECES):
                    out[key] = f(W, bits=bits, per_channel=per_channel, symmetric=symmetric)
    return out


def _params_requires(kind):
    rule = {"absmax": ("s = max|x| / (2^(b-1) - 1)", "z = 0"),
            "zeropoint": ("s = (x_max - x_min) / (2^b - 1), the range widened to contain 0",
                          "z = clamp(0 - round(x_min / s), 0, 2^b - 1), an integer")}[kind]
    out = {}
    for bits in (8, 4):
        for per_channel in (False, True):
            key = f"{bits}bit_{'channel' if per_channel else 'tensor'}"
            where = "per output row, shape (rows, 1)" if per_channel else "per tensor, shape ()"
            out[f"s_{key}"] = f"{bits} bits, {where}: {rule[0]}; s >= EPS for an all-zero row"
            out[f"z_{key}"] = f"{bits} bits, {where}: {rule[1]}"
    return out


CASES = {
    "quantize": Case(_quantize, seeds=(0, 1, 2, 3, 4), atol=0.0, rtol=0.0, requires={
        "q": "integer codes q = clamp(round(x / s) + z, qmin, qmax), torch.round (half to even), "
             "z added after rounding, s and z broadcast per row (seed 2); exact match",
        "x_hat": "x_hat = (q - z) s, as float32"}),
    "absmax": Case(_params_case("absmax", "absmax_params", 5, 12, (8, 4)), seeds=(0, 1, 2, 3),
                   requires=_params_requires("absmax")),
    "zeropoint": Case(_params_case("zeropoint", "zeropoint_params", 5, 12, (8, 4)),
                      seeds=(0, 1, 2, 3), requires=_params_requires("zeropoint")),
    "fake_quantize": Case(_fake_quantize, seeds=(0, 1, 2), requires={
        f"W_hat_{bits}bit_{'channel' if pc else 'tensor'}_{'sym' if sym else 'asym'}":
            f"{bits} bits, {'per output row' if pc else 'per tensor'}: W_hat = "
            f"dequantize(quantize(W, s, z, qmin, qmax), s, z) with "
            + ("absmax_params and codes [-(2^(b-1)-1), 2^(b-1)-1]" if sym else
               "zeropoint_params and codes [0, 2^b - 1]")
            + " (this case supplies correct quantize, dequantize and parameter functions)"
        for bits in (8, 4) for pc in (False, True) for sym in (True, False)}),
}
