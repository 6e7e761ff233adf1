"""Environment checker: `python -m course_lib.doctor`, or check_environment() in a notebook.

Prints OK / FAIL per dependency with the version found and the command that fixes a failure, and
says which device (CPU or GPU) the course will use. Exit status 0 when everything is OK.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import platform
import sys
from pathlib import Path

REQUIRED = [  # (import name, pip name, minimum version, what it is for)
    ("torch", "torch", "2.2", "the models"),
    ("numpy", "numpy", "1.24", "arrays"),
    ("matplotlib", "matplotlib", "3.7", "plots"),
    ("ipywidgets", "ipywidgets", "8.0", "sliders"),
    ("tqdm", "tqdm", "4.60", "progress bars"),
]
MIN_PYTHON = (3, 10)
FIX_ALL = ("from the repository: pip install -e . -c constraints.txt; in Colab: run the "
           "notebook's first cell, it installs the course package")


def fix_command(pip_name: str, minimum: str) -> str:
    """The one command that installs or upgrades a package (in a notebook: %pip, then restart)."""
    return f'pip install "{pip_name}>={minimum}"'


def _version_tuple(v: str):
    out = []
    for part in v.split("+")[0].split("."):
        digits = ""
        for ch in part:          # "0rc1" -> 0, "13post" -> 13: the leading digits only
            if not ch.isdigit():
                break
            digits += ch
        out.append(int(digits) if digits else 0)
    return tuple(out)


def _version(module, pip_name: str) -> str:
    version = getattr(module, "__version__", None)
    if version is None:
        try:
            version = importlib.metadata.version(pip_name)
        except importlib.metadata.PackageNotFoundError:
            version = "0"
    return str(version)


def dependency_line(name: str, pip_name: str, minimum: str, purpose: str) -> tuple[bool, str]:
    """(fine, 'OK   name version (purpose)') or (False, 'FAIL ... : the fix')."""
    try:
        module = importlib.import_module(name)
    except ImportError:
        return False, f"FAIL {name} missing ({purpose}): {fix_command(pip_name, minimum)}"
    except Exception as e:  # installed but broken (a half-finished install, a missing DLL)
        return False, (f"FAIL {name} does not import ({type(e).__name__}: {e}): "
                       f"{fix_command(pip_name, minimum)} --force-reinstall")
    version = _version(module, pip_name)
    if _version_tuple(version) >= _version_tuple(minimum):
        return True, f"OK   {name} {version} ({purpose})"
    return False, (f"FAIL {name} {version} ({purpose}) is too old, need >= {minimum}: "
                   f"{fix_command(pip_name, minimum)}")


def device_line() -> str:
    """Which device the course uses, and whether a GPU is available."""
    try:
        import torch

        from .runtime import get_device
    except Exception:  # torch missing or broken: its FAIL line already says how to fix it
        return "--   device: unknown until torch imports"
    dev = get_device()
    if torch.cuda.is_available():
        gpu = f"GPU available: {torch.cuda.get_device_name(0)}"
    elif getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        gpu = "GPU available: Apple MPS (set COURSE_DEVICE=mps to use it)"
    else:
        gpu = "no GPU available; the CPU is enough for every notebook"
    return f"OK   device: {dev} ({gpu})"


def environment_ok(verbose: bool = True) -> bool:
    """True when every dependency imports with at least the minimum version."""
    good = sys.version_info >= MIN_PYTHON
    need = ".".join(map(str, MIN_PYTHON))
    lines = [f"{'OK' if good else 'FAIL':4} python {platform.python_version()}"
             + ("" if good else f"  (need {need} or newer: install a newer Python)")]
    for name, pip_name, minimum, purpose in REQUIRED:
        fine, line = dependency_line(name, pip_name, minimum, purpose)
        lines.append(line)
        good &= fine
    try:
        from .pretrained import load_encoder, load_tokenizer
        load_tokenizer()
        load_encoder(device="cpu")
        lines.append(f"OK   course_lib data and pre-trained weights (in {Path(__file__).parent})")
    except Exception as e:  # a broken checkout or a missing file: say which
        good = False
        lines.append(f"FAIL course_lib data: {type(e).__name__}: {e} "
                     "(reinstall the course package: " + FIX_ALL + ")")
    lines.append(device_line())
    if verbose:
        print("\n".join(lines))
        print("Environment OK." if good else
              f"Fix the FAIL lines above ({FIX_ALL}), then restart the kernel.")
    return bool(good)


def check_environment() -> None:
    """Print the OK / FAIL report (a notebook's first cell calls this)."""
    environment_ok(verbose=True)


if __name__ == "__main__":
    sys.exit(0 if environment_ok() else 1)
