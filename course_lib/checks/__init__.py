"""Visible checks: instant, specific feedback while a student works through a notebook.

Each check runs the student's code on small inputs and tests *properties* the lecture states
(shapes, "training starts at the pre-trained function", "only the adapter trains", linearity,
invariances). None of them holds a reference answer: the graded verdict comes from the hidden
tests (autograde/grade/verdict.py), which compare against the reference outside the student's kernel.

A failed property raises `CheckFailed` whose message names the likely mistake, e.g.
"your update is not scaled by alpha/r". One module per notebook: `course_lib.checks.lora`, ...
"""

from __future__ import annotations

import contextlib

import torch


def tiny_model(seed=0, causal=False, vocab_size=40, d_model=16, n_heads=2, n_layers=2, d_ff=32,
               max_len=16):
    """A small Encoder (or causal Decoder) for the checks: seeded, no dropout, in eval mode."""
    from ..model import Decoder, Encoder, TransformerConfig
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=vocab_size, d_model=d_model, n_heads=n_heads,
                            n_layers=n_layers, d_ff=d_ff, max_len=max_len, dropout=0.0,
                            causal=causal)
    return (Decoder if causal else Encoder)(cfg).eval()


class CheckFailed(AssertionError):
    """A visible check failed; the message says what to fix."""


def ok(message: str) -> None:
    print(f"\u2713 {message}")


def call(what: str, fn, *args, **kwargs):
    """fn(*args, **kwargs), with an unexpected exception turned into CheckFailed naming `what`.

    NotImplementedError (an exercise not done yet) and CheckFailed pass through unchanged.
    """
    try:
        return fn(*args, **kwargs)
    except (NotImplementedError, CheckFailed):
        raise
    except Exception as e:
        raise CheckFailed(f"{what} failed: {type(e).__name__}: {e}") from e


def expect(condition: bool, mistake: str) -> None:
    """Raise CheckFailed(mistake) unless condition holds."""
    if not condition:
        raise CheckFailed(mistake)


def expect_shape(t, shape, what: str) -> None:
    if not isinstance(t, torch.Tensor):
        raise CheckFailed(f"{what} should be a torch.Tensor, got {type(t).__name__}")
    if tuple(t.shape) != tuple(shape):
        raise CheckFailed(f"{what} has shape {tuple(t.shape)}, expected {tuple(shape)}")


def expect_close(actual, expected, what: str, atol=1e-5, rtol=1e-4, hint: str = "") -> None:
    """Compare two tensors; the message gives shapes, the largest difference and the tolerance."""
    expect_shape(actual, expected.shape, what)
    if not torch.allclose(actual.float(), expected.float(), atol=atol, rtol=rtol):
        diff = (actual.float() - expected.float()).abs().max().item()
        raise CheckFailed(f"{what} differs by up to {diff:.3g} (tolerance atol={atol}, "
                          f"rtol={rtol}). {hint}".strip())


def expect_only_new_train(model, new: str, nothing: str, freeze: str) -> None:
    """After a PEFT method is added: something trains, and only the parameters whose names end
    with `new`; `nothing` and `freeze` say what to fix when not."""
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    expect(trainable, nothing)
    stray = [n for n in trainable if not n.endswith(new)]
    expect(not stray, f"pre-trained parameters still train ({stray[:3]} ...): {freeze}")


def namespace_of(obj) -> dict | None:
    """The module-level names a function (or a class's methods) looks up: its __globals__."""
    import inspect
    funcs = [obj] if not isinstance(obj, type) else [         # the class's own methods first
        v for k in obj.__mro__ if not k.__module__.startswith(("builtins", "torch"))
        for v in vars(k).values()]
    for f in funcs:
        f = inspect.unwrap(f) if callable(f) else f            # through @torch.no_grad() & co.
        if inspect.isfunction(f):
            return f.__globals__
    return None


@contextlib.contextmanager
def stand_ins(obj, **names):
    """Inside the block, the names `obj` looks up at module level (the other exercises it calls,
    e.g. `cached_forward` inside `generate_cached`) are the trusted `names`: a check or hidden case
    of f then never depends on the student's g. Everything is put back afterwards.

    A stand-in is a trusted implementation that is no exercise's answer: torch's own function, or
    a slow recomputation the exercise replaces. A name `obj` does not use changes nothing."""
    ns = namespace_of(obj)
    if ns is None:
        yield
        return
    missing = object()
    saved = {k: ns.get(k, missing) for k in names}
    ns.update(names)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is missing:
                ns.pop(k, None)
            else:
                ns[k] = v
