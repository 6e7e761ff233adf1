"""Where the course package comes from in Colab: the one place the instructor edits.

Every notebook's first cell is FIRST_CELL (below). When `course_lib` is not importable (Colab, a
fresh kernel elsewhere) the cell pip-installs the course package from PACKAGE_URL, then runs the
environment check. The cell cannot import this module (it runs before the package exists), so the
URL is written into the cell's text: edit PACKAGE_URL here once, then rebuild the notebooks
(`make notebooks`). Two environment variables override it without editing anything:

* COURSE_PACKAGE_URL: what pip installs (a git URL, a wheel, a local folder);
* COURSE_PIP_ARGS:    extra pip arguments, e.g. "--no-deps" where the dependencies are there.

Badges for the README and the course page: colab_badge() and binder_badge().
"""

from __future__ import annotations

REPOSITORY = "<your-org>/model-efficiency"   # GitHub owner/name: edit once
BRANCH = "main"
PACKAGE_URL = f"git+https://github.com/{REPOSITORY}"

FIRST_CELL = f"""\
# Run this first: it checks your environment (in Colab it first installs the course package).
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("course_lib") is None:  # not installed (Colab): pip-install it
    url = os.environ.get("COURSE_PACKAGE_URL",
                         "{PACKAGE_URL}")
    args = os.environ.get("COURSE_PIP_ARGS", "").split()
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", *args, url], check=True)
    importlib.invalidate_caches()
from course_lib.doctor import check_environment
check_environment()"""

OLD_FIRST_CELL = """\
# Run this first: it checks your environment (and says how to fix it).
from course_lib.doctor import check_environment
check_environment()"""


def colab_url(notebook: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """Open a notebook of the repository in Colab, e.g. colab_url('notebooks/lora.ipynb')."""
    return f"https://colab.research.google.com/github/{repository}/blob/{branch}/{notebook}"


def colab_badge(notebook: str, repository: str = REPOSITORY, branch: str = BRANCH) -> str:
    """Markdown for the "Open in Colab" badge of one notebook."""
    return ("[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(notebook, repository, branch)})")


def binder_url(notebook: str | None = None, repository: str = REPOSITORY,
               branch: str = BRANCH) -> str:
    """mybinder.org builds environment.yml (repo2docker) and opens JupyterLab (at a notebook)."""
    url = f"https://mybinder.org/v2/gh/{repository}/{branch}"
    return url + (f"?urlpath=lab/tree/{notebook}" if notebook else "?urlpath=lab")


def binder_badge(notebook: str | None = None, repository: str = REPOSITORY,
                 branch: str = BRANCH) -> str:
    """Markdown for the "launch binder" badge."""
    return (f"[![Binder](https://mybinder.org/badge_logo.svg)]"
            f"({binder_url(notebook, repository, branch)})")
