"""course_lib.doctor: OK / FAIL per dependency with the version found and the fix; the device."""

import importlib
import subprocess
import sys
import types

import pytest

from course_lib import doctor

REAL_IMPORT = importlib.import_module


def fake_imports(monkeypatch, missing=(), versions=None, broken=()):
    """importlib.import_module as doctor sees it: some packages missing, old or broken."""
    versions = versions or {}

    def fake(name, package=None):
        if name in missing:
            raise ModuleNotFoundError(f"No module named '{name}'")
        if name in broken:
            raise OSError("libtorch_cpu.so: cannot open shared object file")
        if name in versions:
            return types.SimpleNamespace(__version__=versions[name])
        return REAL_IMPORT(name, package)

    monkeypatch.setattr(doctor.importlib, "import_module", fake)


def report(capsys):
    ok = doctor.environment_ok(verbose=True)
    return ok, capsys.readouterr().out.splitlines()


def line_for(lines, name):
    return next(line for line in lines if line[5:].startswith(f"{name} "))


def test_everything_installed_is_ok(capsys):
    ok, lines = report(capsys)
    assert ok, lines
    for name, _, _, _ in doctor.REQUIRED:
        line = line_for(lines, name)
        assert line.startswith("OK   "), line
        version = line.split()[2]
        assert version[0].isdigit(), f"no version in {line!r}"
    assert lines[-1] == "Environment OK."


def test_missing_package_is_a_fail_with_the_fix(monkeypatch, capsys):
    fake_imports(monkeypatch, missing={"tqdm"})
    ok, lines = report(capsys)
    assert not ok
    line = line_for(lines, "tqdm")
    assert line.startswith("FAIL tqdm missing"), line
    assert 'pip install "tqdm>=4.60"' in line, line
    assert line_for(lines, "torch").startswith("OK")            # the others are still checked
    assert "Fix the FAIL lines above" in lines[-1] and "restart the kernel" in lines[-1]


def test_too_old_version_is_a_fail_with_version_and_fix(monkeypatch, capsys):
    fake_imports(monkeypatch, versions={"numpy": "1.21.6", "ipywidgets": "7.8.1"})
    ok, lines = report(capsys)
    assert not ok
    numpy_line, widgets_line = line_for(lines, "numpy"), line_for(lines, "ipywidgets")
    assert numpy_line.startswith("FAIL numpy 1.21.6") and "need >= 1.24" in numpy_line
    assert 'pip install "numpy>=1.24"' in numpy_line
    assert widgets_line.startswith("FAIL ipywidgets 7.8.1") and "need >= 8.0" in widgets_line


def test_new_enough_prerelease_and_local_versions_are_ok(monkeypatch, capsys):
    fake_imports(monkeypatch, versions={"torch": "2.13.0+cu126", "matplotlib": "3.10.0rc1"})
    ok, lines = report(capsys)
    assert ok, lines
    assert line_for(lines, "torch") == "OK   torch 2.13.0+cu126 (the models)"


def test_broken_install_is_a_fail_not_a_crash(monkeypatch, capsys):
    fake_imports(monkeypatch, broken={"torch"})
    ok, lines = report(capsys)
    assert not ok
    line = line_for(lines, "torch")
    assert line.startswith("FAIL torch does not import (OSError") and "--force-reinstall" in line


def test_old_python_is_a_fail(monkeypatch, capsys):
    monkeypatch.setattr(doctor, "MIN_PYTHON", (sys.version_info.major, sys.version_info.minor + 1))
    ok, lines = report(capsys)
    assert not ok and lines[0].startswith("FAIL python") and "or newer" in lines[0]


@pytest.mark.parametrize("version, expected", [
    ("2.13.0+cpu", (2, 13, 0)), ("1.24", (1, 24)), ("3.10.0rc1", (3, 10, 0)), ("8", (8,))])
def test_version_tuple(version, expected):
    assert doctor._version_tuple(version) == expected


def test_device_line_says_whether_a_gpu_is_available():
    line = doctor.device_line()
    assert line.startswith("OK   device: ")
    assert "GPU available" in line or "no GPU available" in line


@pytest.mark.slow
def test_command_line_exit_status_and_report():
    done = subprocess.run([sys.executable, "-m", "course_lib.doctor"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip().endswith("Environment OK.")
    assert "device:" in done.stdout
