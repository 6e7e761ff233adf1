"""pyproject.toml and environment.yml describe one environment; constraints pin a CPU torch."""

import re

import tomllib
import yaml

from autograde.config import ROOT


def _name(req: str) -> str:
    return re.split(r"[<>=!~ ;\[]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_pyproject_and_environment_yml_agree():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    conda_reqs = [r for r in pip_section if not r.startswith("-")]
    assert sorted(map(str.strip, pip_reqs)) == sorted(map(str.strip, conda_reqs))
    assert "-e ." in pip_section


def test_constraints_pin_every_dependency_and_a_cpu_torch():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    pinned = {_name(line) for line in (ROOT / "constraints.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#")}
    assert names <= pinned, f"not pinned in constraints.txt: {sorted(names - pinned)}"
    assert "torch==2.13.0" in (ROOT / "constraints.txt").read_text().split()
