"""The published student course: which repository students get, and the links and first cell that
point at it (never at this private instructor repository).

The repository is set once, in nbgrader_config.py (`c.StudentCourse.repository = "org/name"`);
`make notebooks` then writes it into every notebook's first cell, and `python -m autograde publish`
into the student README's Colab and Binder links. Every notebook's first cell is `first_cell()`:
where `course_lib` is not importable (Colab, a fresh kernel elsewhere) it pip-installs the course
library from the student repository, then runs the environment check. Two environment variables
override what it installs without editing anything:

* COURSE_PACKAGE_URL: what pip installs (a git URL, a wheel, a local folder);
* COURSE_PIP_ARGS:    extra pip arguments, e.g. "--no-deps" where the dependencies are there.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from autograde.config import ROOT

DEFAULT_REPOSITORY = "your-org/model-efficiency-course"


@dataclass(frozen=True)
class StudentCourse:
    repository: str = DEFAULT_REPOSITORY      # GitHub owner/name of the published student course
    branch: str = "main"

    @property
    def package_url(self) -> str:
        return f"git+https://github.com/{self.repository}"

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
