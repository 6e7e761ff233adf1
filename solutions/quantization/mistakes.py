"""Named mistakes of the quantization notebook (grader only): wrong variants of the reference.

The common mistakes: floor(x + 0.5); zero point added before rounding; no clamping;
per-tensor where per-channel was asked; range not containing 0. Plus truncation (the slide's
10.789654 -> 10) and torch's symmetric observer scale (amax / 127.5).
"""

import torch

from autograde.spec import Mistake

EPS = torch.finfo(torch.float32).eps


# ---------------------------------------------------------------- quantize
def _quantize_with(rounding, z_before=False, clamp=True):
    def quantize(x, s, z, qmin, qmax):
        q = rounding(x / s + z) if z_before else rounding(x / s) + z
        if clamp:
            q = torch.clamp(q, qmin, qmax)
        return q.to(torch.int32)
    return quantize


def _floor_half(objects):
    return dict(objects, quantize=_quantize_with(lambda v: torch.floor(v + 0.5)))


def _z_before(objects):
    return dict(objects, quantize=_quantize_with(torch.round, z_before=True))


def _no_clamp(objects):
    return dict(objects, quantize=_quantize_with(torch.round, clamp=False))


def _truncate(objects):
    return dict(objects, quantize=_quantize_with(torch.trunc))


# ---------------------------------------------------------------- absmax / zeropoint
def _absmax_per_tensor(objects):
    ref = objects["absmax_params"]
    def absmax_params(x, bits=8, per_channel=False):
        s, z = ref(x, bits, False)
        if per_channel:
            s = s.expand(x.shape[0], 1).clone()
            z = torch.zeros_like(s, dtype=torch.int32)
        return s, z
    return dict(objects, absmax_params=absmax_params)


def _absmax_127_5(objects):
    ref = objects["absmax_params"]
    def absmax_params(x, bits=8, per_channel=False):
        s, z = ref(x, bits, per_channel)
        qmax = 2 ** (bits - 1) - 1
        return s * qmax / (qmax + 0.5), z
    return dict(objects, absmax_params=absmax_params)


def _absmax_no_abs(objects):
    def absmax_params(x, bits=8, per_channel=False):
        amax = x.amax(dim=1, keepdim=True) if per_channel else x.amax()
        s = torch.clamp(amax / (2 ** (bits - 1) - 1), min=EPS)
        return s, torch.zeros_like(s, dtype=torch.int32)
    return dict(objects, absmax_params=absmax_params)


def _zeropoint_variant(contain_zero=True, per_channel_ok=True, round_z=True):
    def zeropoint_params(x, bits=8, per_channel=False):
        qmin, qmax = 0, 2 ** bits - 1
        per_channel = per_channel and per_channel_ok
        if per_channel:
            x_min, x_max = x.amin(dim=1, keepdim=True), x.amax(dim=1, keepdim=True)
        else:
            x_min, x_max = x.amin(), x.amax()
        if contain_zero:
            x_min, x_max = torch.clamp(x_min, max=0.0), torch.clamp(x_max, min=0.0)
        s = torch.clamp((x_max - x_min) / (qmax - qmin), min=EPS)
        z = qmin - x_min / s
        z = torch.clamp(torch.round(z) if round_z else z, qmin, qmax)
        return s, (z.to(torch.int32) if round_z else z)
    return zeropoint_params


def _zp_range_without_zero(objects):
    return dict(objects, zeropoint_params=_zeropoint_variant(contain_zero=False))


def _zp_per_tensor(objects):
    wrong = _zeropoint_variant(per_channel_ok=False)
    def zeropoint_params(x, bits=8, per_channel=False):
        s, z = wrong(x, bits, per_channel)
        if per_channel:
            s, z = s.expand(x.shape[0], 1).clone(), z.expand(x.shape[0], 1).clone()
        return s, z
    return dict(objects, zeropoint_params=zeropoint_params)


def _zp_not_rounded(objects):
    return dict(objects, zeropoint_params=_zeropoint_variant(round_z=False))


# ---------------------------------------------------------------- fake_quantize
def _fq_per_tensor(objects):
    ref = objects["fake_quantize"]
    def fake_quantize(W, bits=8, per_channel=False, symmetric=True):
        return ref(W, bits, False, symmetric)
    return dict(objects, fake_quantize=fake_quantize)


def _fq_int4_minus8(objects):
    """Symmetric scale max|W| / 2^(b-1) with codes [-2^(b-1), 2^(b-1) - 1]."""
    ref = objects["fake_quantize"]
    def fake_quantize(W, bits=8, per_channel=False, symmetric=True):
        if not symmetric:
            return ref(W, bits, per_channel, symmetric)
        amax = W.abs().amax(dim=1, keepdim=True) if per_channel else W.abs().amax()
        s = torch.clamp(amax / 2 ** (bits - 1), min=EPS)
        q = torch.clamp(torch.round(W / s), -2 ** (bits - 1), 2 ** (bits - 1) - 1)
        return q * s
    return dict(objects, fake_quantize=fake_quantize)


def _fq_codes(objects):
    ref = objects["fake_quantize"]
    def fake_quantize(W, bits=8, per_channel=False, symmetric=True):
        W_hat = ref(W, bits, per_channel, symmetric)
        amax = W.abs().amax(dim=1, keepdim=True) if per_channel else W.abs().amax()
        return torch.round(W_hat / torch.clamp(amax / (2 ** (bits - 1) - 1), min=EPS))
    return dict(objects, fake_quantize=fake_quantize)


PER_TENSOR = "per-tensor where per-channel was asked"
MISTAKES = {
    "quantize": [
        Mistake("floor(x + 0.5)", "you round half up with floor(x + 0.5); torch.round rounds "
                "half to even (2.5 -> 2)", _floor_half),
        Mistake("zero point added before rounding", "add z after rounding: round(x / s) + z, "
                "not round(x / s + z) (they differ at ties)", _z_before),
        Mistake("no clamping", "clamp the codes to [qmin, qmax]", _no_clamp),
        Mistake("truncation", "you truncate (10.789654 -> 10); round to nearest", _truncate),
    ],
    "absmax": [
        Mistake(PER_TENSOR, "per_channel=True needs one scale per output row (dim 1 reduced, "
                "keepdim=True)", _absmax_per_tensor),
        Mistake("amax / 127.5", "this notebook uses s = max|x| / 127 (codes [-127, 127]), not "
                "torch's observer's max|x| / 127.5", _absmax_127_5),
        Mistake("max instead of max|x|", "the scale uses the largest magnitude, max|x|, not "
                "max x", _absmax_no_abs),
    ],
    "zeropoint": [
        Mistake("range not containing 0", "widen the range to contain 0: x_min = min(min x, 0), "
                "x_max = max(max x, 0)", _zp_range_without_zero),
        Mistake(PER_TENSOR, "per_channel=True needs one (s, z) per output row", _zp_per_tensor),
        Mistake("zero point not rounded", "z must be an integer code: z = qmin - round(x_min / s)",
                _zp_not_rounded),
    ],
    "fake_quantize": [
        Mistake(PER_TENSOR, "pass per_channel on to the scale computation", _fq_per_tensor),
        Mistake("scale max|W| / 2^(b-1)", "symmetric codes are [-(2^(b-1)-1), 2^(b-1)-1] and "
                "s = max|W| / (2^(b-1) - 1)", _fq_int4_minus8),
        Mistake("codes instead of weights", "return the dequantized weights (q - z) s, not the "
                "codes", _fq_codes),
    ],
}

# the grader's 'partly wrong' sample submission: the floor(x + 0.5) rounding
WRONG_SUBMISSION = ("quantize",
                    "q = torch.round(x / s) + z",
                    "q = torch.floor(x / s + 0.5) + z")

# What the demo's partly wrong submission scores per test cell (tests/test_grading_notebooks.py):
# {test cell: (score, words its feedback must contain)}; a test cell not listed keeps its points.
EXPECTED_WRONG = {
    "test_quantize": (0, "ties round half up"),
}
