"""Hidden cases of the quantization notebook (solutions/quantization.py): seeded inputs, no answers.

Codes are compared exactly (integers). Every case mixes random values with exact ties
(x / s = k + 0.5 with a power-of-two s, so x / s is exact) and values outside the range.
"""

import torch

from autograde.hidden import Case


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
                out[key] = objects["fake_quantize"](W, bits=bits, per_channel=per_channel,
                                                    symmetric=symmetric)
    return out


CASES = {
    "quantize": Case(_quantize, seeds=(0, 1, 2, 3, 4), atol=0.0, rtol=0.0, requires={
        "q": "q = clamp(round(x / s) + z, qmin, qmax) with torch.round (half to even) and z added "
             "after rounding; codes must match exactly",
        "x_hat": "x_hat = (q - z) s, as float32"}),
    "absmax": Case(_params_case("absmax", "absmax_params", 5, 12, (8, 4)), seeds=(0, 1, 2, 3),
                   requires={"s_8bit_tensor": "per-tensor: s = max|x| / 127",
                          "s_8bit_channel": "per-channel: s = max|x_i.| / 127 per row, shape "
                                            "(rows, 1)",
                          "s_4bit_tensor": "int4: s = max|x| / 7",
                          "s_4bit_channel": "int4 per-channel: s = max|x_i.| / 7 per row",
                          "z_8bit_tensor": "symmetric: z = 0"},
                   requirement="symmetric absmax: s = max|x| / (2^(b-1) - 1), z = 0; s >= EPS"),
    "zeropoint": Case(_params_case("zeropoint", "zeropoint_params", 5, 12, (8, 4)),
                      seeds=(0, 1, 2, 3),
                      requirement="x_min = min(min x, 0), x_max = max(max x, 0), "
                           "s = (x_max - x_min) / (2^b - 1), z = clamp(-round(x_min / s), 0, "
                           "2^b - 1); per-channel: per row, shape (rows, 1)"),
    "fake_quantize": Case(_fake_quantize, seeds=(0, 1, 2), requirement=(
        "W_hat = dequantize(quantize(W, s, z, qmin, qmax), s, z) with absmax and [-(2^(b-1)-1), "
        "2^(b-1)-1] when symmetric, zero-point and [0, 2^b - 1] otherwise")),
}
