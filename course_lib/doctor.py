"""Environment checker: `python -m course_lib.doctor`, or check_environment() in a notebook.

Prints OK / FAIL per dependency with the version found and how to fix a failure, and says
which device (CPU or GPU) the course will use.
"""

from __future__ import annotations

import importlib
import platform
import sys

REQUIRED = [  # (import name, minimum version, what it is for)
    ("torch", "2.2", "the models"),
    ("numpy", "1.24", "arrays"),
    ("matplotlib", "3.7", "plots"),
    ("ipywidgets", "8.0", "sliders"),
    ("tqdm", "4.60", "progress bars"),
]
FIX = "pip install -e . -c constraints.txt   (or, in Colab: the first cell installs it)"


def _version_tuple(v: str):
    out = []
    for part in v.split("+")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        out.append(int(digits) if digits else 0)
    return tuple(out)


def environment_ok(verbose: bool = True) -> bool:
    """True when every dependency imports with at least the minimum version."""
    good = sys.version_info >= (3, 10)
    lines = [f"{'OK' if good else 'FAIL':4} python {platform.python_version()}"
             + ("" if good else "  (need 3.10 or newer)")]
    for name, minimum, purpose in REQUIRED:
        try:
            version = getattr(importlib.import_module(name), "__version__", "0")
            fine = _version_tuple(version) >= _version_tuple(minimum)
            lines.append(f"{'OK' if fine else 'FAIL':4} {name} {version} ({purpose})"
                         + ("" if fine else f"  need >= {minimum}: {FIX}"))
        except ImportError:
            fine = False
            lines.append(f"FAIL {name} missing ({purpose}): {FIX}")
        good &= fine
    try:
        from .pretrained import load_encoder, load_tokenizer
        load_tokenizer()
        load_encoder(device="cpu")
        lines.append("OK   course_lib data and pre-trained weights")
    except Exception as e:  # a broken checkout or a missing file: say which
        good = False
        lines.append(f"FAIL course_lib data: {type(e).__name__}: {e}")
    try:
        from .runtime import get_device
        import torch
        dev = get_device()
        gpu = torch.cuda.get_device_name(0) if dev.type == "cuda" else "none (CPU is enough)"
        lines.append(f"OK   device: {dev} (GPU: {gpu})")
    except ImportError:
        pass
    if verbose:
        print("\n".join(lines))
        print("Environment OK." if good else "Fix the FAIL lines above, then restart the kernel.")
    return good


def check_environment() -> None:
    """Print the OK / FAIL report (a notebook's first cell calls this)."""
    environment_ok(verbose=True)


if __name__ == "__main__":
    sys.exit(0 if environment_ok() else 1)
