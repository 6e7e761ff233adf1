"""Visible checks: instant, specific feedback while a student works through a notebook.

Each check runs the student's code on small inputs and tests *properties* the lecture states
(shapes, "training starts at the pre-trained function", "only the adapter trains", linearity,
invariances). None of them holds a reference answer: the graded verdict comes from the hidden
tests (autograde/grade/verdict.py), which compare against the reference outside the student's kernel.

A failed property raises `CheckFailed` whose message names the likely mistake, e.g.
"your update is not scaled by alpha/r". One module per notebook: `course_lib.checks.lora`, ...

What the student sees of a failure is the message and their own lines, never the check's source
(which would show the later properties it tests): IPython asks an exception for its traceback
through `_render_traceback_`, and `CheckFailed` answers with its message and the frames of the
student's code (notebook cells and imported notebooks), leaving out course_lib, torch and the
standard library. Every public `check_*` is wrapped by `visible_check`, which turns what else
escapes it (an exercise that still raises NotImplementedError, an exception in the student's code)
into a `CheckFailed` rendered the same way. A check prints a tick (`ok`) only for a property it
has just tested on the student's code.
"""

from __future__ import annotations

import contextlib
import functools
import linecache
import sysconfig
from pathlib import Path

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


_LIBRARY = Path(__file__).resolve().parent.parent          # course_lib/
_PYTHON = {Path(p).resolve() for k, p in sysconfig.get_paths().items()
           if k in ("stdlib", "platstdlib", "purelib", "platlib")}


def _is_students(filename: str) -> bool:
    """A frame of the student's code: a notebook cell or an imported notebook (`<...>` names),
    not the course library, an installed package or the standard library."""
    if filename.startswith("<"):
        return not filename.startswith(("<frozen", "<string>"))
    path = Path(filename).resolve()
    return not any(path.is_relative_to(root) for root in (_LIBRARY, *_PYTHON))


def _where(filename: str, lineno: int) -> str:
    """'Cell In[5], line 3' for a notebook cell (as IPython names it), else 'file, line 3'."""
    try:
        from IPython import get_ipython
        cell = getattr(get_ipython(), "compile", None)
        number = getattr(cell, "_filename_map", {}).get(filename)
    except ImportError:
        number = None
    return f"Cell In[{number}], line {lineno}" if number else f"{filename}, line {lineno}"


def student_frames(error: BaseException, limit: int = 3) -> list[str]:
    """The last `limit` frames of the student's code in `error`'s traceback and in the errors
    that caused it, outermost first: 'Cell In[5], line 3, in forward:  return x @ W'."""
    frames, seen, e = [], set(), error
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        tb, found = e.__traceback__, []
        while tb is not None:
            code = tb.tb_frame.f_code
            if _is_students(code.co_filename):
                line = linecache.getline(code.co_filename, tb.tb_lineno).strip()
                name = "" if code.co_name == "<module>" else f", in {code.co_name}"
                found.append(f"{_where(code.co_filename, tb.tb_lineno)}{name}:  {line}")
            tb = tb.tb_next
        frames = [f for f in frames if f not in found] + found
        e = e.__cause__ or e.__context__
    return frames[-limit:]


class CheckFailed(AssertionError):
    """A visible check failed; the message says what to fix.

    In a notebook it shows as its message and the lines of the student's code it went through,
    not as a traceback through the check (IPython calls `_render_traceback_`)."""

    def _render_traceback_(self) -> list[str]:
        red, bold, reset = "\x1b[0;31m", "\x1b[1m", "\x1b[0m"
        lines = [f"{red}{bold}{type(self).__name__}{reset}: {self}"]
        frames = student_frames(self)
        if frames:
            lines += ["", "Your code:"] + [f"  {f}" for f in frames]
        return lines


class ExerciseNotDone(CheckFailed, NotImplementedError):
    """The exercise a check runs still raises NotImplementedError (its stub)."""


def visible_check(check):
    """Wrap a public check: a NotImplementedError becomes ExerciseNotDone, any other exception
    that escapes it (the student's code failing in a way the check did not name) a CheckFailed;
    both show as a message and the student's lines. CheckFailed passes through unchanged."""
    @functools.wraps(check)
    def run(*args, **kwargs):
        try:
            return check(*args, **kwargs)
        except CheckFailed:
            raise
        except NotImplementedError as e:
            raise ExerciseNotDone(f"{check.__name__}: an exercise it runs is not written yet "
                                  f"(NotImplementedError{': ' + str(e) if str(e) else ''}). "
                                  "Write it, run its cell, then run this check again.") from e
        except Exception as e:
            raise CheckFailed(f"{check.__name__}: your code raised {type(e).__name__}: {e}") from e
    return run


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
