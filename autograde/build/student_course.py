"""The published student course: which repository students get, and the links and first cell that
point at it (never at this private instructor repository).

The repository is set once, in nbgrader_config.py (`c.StudentCourse.repository = "org/name"`),
or given to `python -m autograde publish DIR --repository org/name`. Until one is set nothing links
to it: `publish` refuses to write a student course without it (a README of Colab and Binder
badges and an install line pointing at a placeholder would send every student nowhere), and the
notebooks' first cell, which `make notebooks` writes, installs from COURSE_PACKAGE_URL only;
`publish` writes the student repository's URL into the published copies. Every notebook's first
cell is `first_cell()`: where `course_lib` is not importable (Colab, a fresh kernel elsewhere) it
pip-installs the course library from the student repository, then runs the environment check.
Two environment variables override what it installs without editing anything:

* COURSE_PACKAGE_URL: what pip installs (a git URL, a wheel, a local folder);
* COURSE_PIP_ARGS:    extra pip arguments, e.g. "--no-deps" where the dependencies are there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from autograde.config import ROOT

PLACEHOLDER_OWNERS = {"your-org", "org", "owner", "example", "your-name", "username"}
REPOSITORY = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/[A-Za-z0-9._-]{1,100}")
SETTING = ('set it once in nbgrader_config.py, c.StudentCourse.repository = "owner/name" '
           "(the GitHub repository students clone), or pass --repository owner/name")


class RepositoryNotSet(ValueError):
    """The student course's repository is missing or a placeholder: no link can be written."""


@dataclass(frozen=True)
class StudentCourse:
    repository: str = ""                      # GitHub owner/name of the published student course
    branch: str = "main"

    def check(self) -> "StudentCourse":
        """self, if its repository can be linked to; else RepositoryNotSet saying what to set."""
        if not self.repository:
            raise RepositoryNotSet(f"no student repository is set: {SETTING}")
        if not REPOSITORY.fullmatch(self.repository):
            raise RepositoryNotSet(f"{self.repository!r} is not a GitHub owner/name: {SETTING}")
        if self.repository.split("/")[0].lower() in PLACEHOLDER_OWNERS:
            raise RepositoryNotSet(f"{self.repository!r} is a placeholder, not your student "
                                   f"repository: {SETTING}")
        return self

    @property
    def package_url(self) -> str:
        """What the first cell pip-installs; empty while no repository is set."""
        return f"git+https://github.com/{self.repository}" if self.repository else ""

    def colab_url(self, notebook: str) -> str:
        """Open a notebook of the student repository in Colab, e.g. 'notebooks/lora/lora.ipynb'."""
        return (f"https://colab.research.google.com/github/{self.repository}/blob/{self.branch}/"
                f"{notebook}")

    def colab_badge(self, notebook: str) -> str:
        return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
                f"({self.colab_url(notebook)})")

    def binder_url(self, notebook: str | None = None) -> str:
        """mybinder.org builds the student repository's environment.yml and opens JupyterLab."""
        url = f"https://mybinder.org/v2/gh/{self.repository}/{self.branch}"
        return url + (f"?urlpath=lab/tree/{notebook}" if notebook else "?urlpath=lab")

    def binder_badge(self, notebook: str | None = None) -> str:
        return f"[![Binder](https://mybinder.org/badge_logo.svg)]({self.binder_url(notebook)})"


@lru_cache(maxsize=None)
def configured() -> StudentCourse:
    """The StudentCourse section of nbgrader_config.py (defaults where it says nothing)."""
    from traitlets.config.loader import PyFileConfigLoader
    section = PyFileConfigLoader("nbgrader_config.py", str(ROOT)).load_config().get("StudentCourse", {})
    return StudentCourse(**{k: str(v) for k, v in section.items()})


def first_cell(package_url: str | None = None) -> str:
    """The code of every notebook's first cell."""
    url = package_url or configured().package_url
    return f"""\
# Run this first: it checks your environment (in Colab it first installs the course package).
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("course_lib") is None:  # not installed (Colab): pip-install it
    url = os.environ.get("COURSE_PACKAGE_URL",
                         "{url}")
    args = os.environ.get("COURSE_PIP_ARGS", "").split()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args, url], check=True)
    importlib.invalidate_caches()
from course_lib.doctor import check_environment
check_environment()"""
