"""A real class on a real JupyterHub, end to end (`make test-hub`; .ci/run runs it after `make test`).

On 127.0.0.1: JupyterHub (pip) with its configurable-http-proxy (npm), PAM logins and
LocalProcessSpawner for three throw-away local users (an instructor, two students), nbgrader's
exchange in a temporary folder. Through the hub, as each person would through their browser:

1. the instructor generates and releases lora in the formgrader (its HTTP API);
2. each student logs in, fetches lora from the Assignments tab's API, saves their notebook (one
   correct, one with the assignment's known mistake, both built by autograde.build.samples) and submits;
3. the instructor collects in the formgrader, grades with `python -m autograde grade submitted -a
   lora` in a terminal (as that user), sees both submissions scored in the formgrader, changes a
   score there, exports, writes feedback (`python -m autograde feedback`) and releases it;
4. each student fetches their feedback and reads their own score; neither sees the other's page.

Everything is torn down afterwards (servers, hub, proxy, users, their homes, the exchange).

Needs root (LocalProcessSpawner switches to each user; useradd), `configurable-http-proxy` on
PATH, and a system Python of this minor version (the users cannot run an interpreter under /root,
so the servers run /usr/bin/python3.X with this environment's site-packages added). Without them
the test is skipped, saying why; COURSE_REQUIRE_HUB=1 (set by `make test-hub`) makes it fail instead.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import nbformat
import pytest

from autograde.build import samples
from autograde.build.release import release_notebook
from autograde.config import ROOT, Course

pytestmark = [pytest.mark.hub, pytest.mark.slow]
COURSE_ID = "model-efficiency"
ASSIGNMENT = "lora"
SYSTEM_PYTHON = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
LOG = ROOT / ".grading" / "hub"


def missing() -> str | None:
    """Why the round trip cannot run here, or None."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return ("needs root: LocalProcessSpawner runs each user's server as that user, and the "
                "test creates local users (without root, a hub can only spawn its own user)")
    for tool in ("useradd", "userdel", "chpasswd", "runuser", "configurable-http-proxy"):
        if not shutil.which(tool):
            return f"{tool} not on PATH (configurable-http-proxy: npm install -g configurable-http-proxy)"
    try:
        import jupyterhub  # noqa: F401
        import requests  # noqa: F401
    except ImportError as err:
        return f"{err.name} is not installed (pip install -e '.[dev]')"
    if not SYSTEM_PYTHON.exists():
        return f"no {SYSTEM_PYTHON} for the users' servers (apt-get install python3)"
    return None


def traversable(path: Path) -> bool:
    """Can a user who is not root reach path (every folder above it searchable by others)?"""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents] if p.is_dir())


def skip_or_fail(why: str):
    if os.environ.get("COURSE_REQUIRE_HUB"):
        pytest.fail(f"the hub round trip cannot run: {why}")
    pytest.skip(why)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert done.returncode == 0, f"{cmd}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


# ----------------------------------------------------------------------------- the machine
class Machine:
    """Throw-away users, the users' interpreter, shared nbgrader config, the exchange."""

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="hub-", dir="/tmp"))
        self.base.chmod(0o755)
        tag = secrets.token_hex(3)
        self.instructor, self.students = f"agi{tag}", [f"aga{tag}", f"agb{tag}"]
        self.passwords = {u: secrets.token_urlsafe(12) for u in self.users}
        self.python = self.base / "py" / "bin" / "python"
        self.bin = self.base / "bin"
        self.exchange = self.base / "exchange"
        self.config = self.base / "etc" / "jupyter"
        self.created: list[str] = []

    @property
    def users(self) -> list[str]:
        return [self.instructor, *self.students]

    def home(self, user: str) -> Path:
        return Path(pwd.getpwnam(user).pw_dir)

    def setup(self) -> None:
        # an interpreter every user can run: the system Python with this venv's packages
        run([str(SYSTEM_PYTHON), "-m", "venv", "--without-pip", str(self.base / "py")])
        site = Path(run([str(self.python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                                                  "['purelib'])"]).stdout.strip())
        packages, first = Path(sysconfig.get_paths()["purelib"]), []
        if os.environ.get("COURSE_HUB_COPY") or not (traversable(packages) and traversable(ROOT)):
            # a checkout under /root, say: hard-linked copies (instant on one filesystem) in reach
            copy = self.base / "site-packages"
            if subprocess.run(["cp", "-al", str(packages), str(copy)]).returncode != 0:
                shutil.copytree(packages, copy, symlinks=True)
            packages = copy
            for name in ("autograde", "course_lib"):   # ahead of the editable install's finder
                shutil.copytree(ROOT / name, self.base / "src" / name,
                                ignore=shutil.ignore_patterns("__pycache__"))
            shutil.copy(ROOT / "nbgrader_config.py", self.base / "src" / "nbgrader_config.py")
            first = [str(self.base / "src")]
        (site / "course.pth").write_text(
            f"import site, sys; site.addsitedir({str(packages)!r}); sys.path[:0] = {first!r}\n")
        self.bin.mkdir()
        for tool, module in (("alembic", "alembic"), ("nbgrader", "nbgrader"), ("jupyter", "jupyter")):
            (self.bin / tool).write_text(f'#!/bin/sh\nexec {self.python} -m {module} "$@"\n')
            (self.bin / tool).chmod(0o755)
        # what /etc/jupyter/nbgrader_config.py holds on a real hub: the course and the exchange
        self.exchange.mkdir()
        self.exchange.chmod(0o777)
        self.config.mkdir(parents=True)
        (self.config / "nbgrader_config.py").write_text(
            "c = get_config()\n"
            f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
            f"c.Exchange.root = {str(self.exchange)!r}\n")
        for user in self.users:
            run(["useradd", "-m", "-d", str(self.base / "home" / user), "-s", "/bin/bash", user])
            self.created.append(user)
            run(["chpasswd"], input=f"{user}:{self.passwords[user]}\n")
        for user in self.users:
            assert self.as_user(user, [str(self.python), "-c", "import nbgrader, jupyterhub, torch, "
                                       "autograde, course_lib"]).returncode == 0, (
                f"{user} cannot import the course's packages with {self.python}: is "
                f"{sysconfig.get_paths()['purelib']} readable by every user?")
        self._instructor_course()

    def _instructor_course(self) -> None:
        """The instructor's copy of the course: nbgrader_config.py, solutions/lora, notebooks/lora."""
        course = self.home(self.instructor) / COURSE_ID
        course.mkdir()
        shutil.copy(ROOT / "nbgrader_config.py", course / "nbgrader_config.py")
        shutil.copytree(ROOT / "solutions" / ASSIGNMENT, course / "solutions" / ASSIGNMENT,
                        ignore=shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints"))
        shutil.copytree(ROOT / "notebooks" / ASSIGNMENT, course / "notebooks" / ASSIGNMENT)
        jupyter = self.home(self.instructor) / ".jupyter"
        jupyter.mkdir()
        (jupyter / "nbgrader_config.py").write_text(
            f"c = get_config()\nc.CourseDirectory.root = {str(course)!r}\n")
        run(["chown", "-R", f"{self.instructor}:{self.instructor}", str(course), str(jupyter)])
        self.course = course

    def shared_env(self) -> dict:
        """What every user's processes get: our tools first, the shared Jupyter config."""
        venv = Path(sys.executable).parent.parent
        return {"PATH": f"{self.bin}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
                "JUPYTER_CONFIG_PATH": f"{self.config}:{venv / 'etc' / 'jupyter'}",
                "JUPYTER_PATH": str(venv / "share" / "jupyter")}

    def env(self, user: str) -> dict:
        return {**self.shared_env(), "HOME": str(self.home(user)), "USER": user}

    def as_user(self, user: str, cmd: list, cwd: Path | None = None, timeout: int = 900):
        """A terminal command as `user` (runuser keeps no root environment: ours is given)."""
        env = [f"{k}={v}" for k, v in self.env(user).items()]
        return subprocess.run(["runuser", "-u", user, "--", "env", "-i", *env, *cmd],
                              cwd=cwd or self.home(user), capture_output=True, text=True,
                              timeout=timeout)

    def teardown(self) -> None:
        import psutil
        for user in self.created:
            uid = pwd.getpwnam(user).pw_uid
            for proc in psutil.process_iter(["uids"]):        # only processes of the users we made
                if proc.info["uids"] and proc.info["uids"].real == uid:
                    try:
                        proc.kill()
                    except psutil.Error:
                        pass
        time.sleep(0.5)
        for user in self.created:
            subprocess.run(["userdel", "-r", "-f", user], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


# ----------------------------------------------------------------------------- the hub
class Hub:
    def __init__(self, machine: Machine):
        self.m = machine
        self.port, self.hub_port, self.proxy_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(32)
        self.folder = machine.base / "hub"
        self.proc = None

    def config(self) -> str:
        m = self.m
        return f"""
c = get_config()
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {self.port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {self.hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{self.proxy_port}"
c.JupyterHub.db_url = "sqlite:///{self.folder / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = "{self.folder / 'cookie_secret'}"
c.JupyterHub.authenticator_class = "pam"
c.Authenticator.allowed_users = {set(m.users)!r}
c.Authenticator.admin_users = set()
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = ["{m.python}", "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
c.Spawner.environment = {json.dumps(m.shared_env())}
c.JupyterHub.services = [{{"name": "roundtrip", "api_token": "{self.token}"}}]
c.JupyterHub.load_roles = [{{"name": "roundtrip", "services": ["roundtrip"],
    "scopes": ["admin:users", "admin:servers", "tokens", "read:users"]}}]
"""

    def start(self) -> None:
        import requests
        self.folder.mkdir()
        (self.folder / "jupyterhub_config.py").write_text(self.config())
        LOG.mkdir(parents=True, exist_ok=True)
        self.log = open(LOG / "hub.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f",
                                      str(self.folder / "jupyterhub_config.py")],
                                     cwd=self.folder, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=5).ok:
                    return
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"JupyterHub did not start; see {LOG / 'hub.log'}")
            time.sleep(0.5)

    def api(self, method: str, path: str, **kw):
        import requests
        r = requests.request(method, f"{self.url}/hub/api{path}", timeout=120,
                             headers={"Authorization": f"token {self.token}"}, **kw)
        assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text[:500]}"
        return r.json() if r.text else {}

    def login(self, user: str):
        """A browser's login through the hub's PAM form; returns the logged-in session."""
        import requests
        s = requests.Session()
        s.get(f"{self.url}/hub/login", timeout=30)
        r = s.post(f"{self.url}/hub/login?next=", timeout=60, allow_redirects=False,
                   data={"username": user, "password": self.m.passwords[user],
                         "_xsrf": s.cookies.get("_xsrf", "")})
        assert r.status_code == 302, f"login of {user}: {r.status_code} {r.text[:300]}"
        return s

    def server(self, user: str) -> "Server":
        """Start the user's server (as the spawn button does) and a token to talk to it."""
        if not self.api("GET", f"/users/{user}").get("servers", {}).get(""):
            self.api("POST", f"/users/{user}/server")
        deadline = time.monotonic() + 180
        while not self.api("GET", f"/users/{user}").get("servers", {}).get("", {}).get("ready"):
            assert time.monotonic() < deadline, f"the server of {user} did not start; {LOG}"
            time.sleep(1)
        token = self.api("POST", f"/users/{user}/tokens", json={"note": "round trip",
                                                                "expires_in": 3600})["token"]
        return Server(self.url, user, token)

    def stop(self) -> None:
        if self.proc is None:
            return
        for user in self.m.users:
            try:
                self.api("DELETE", f"/users/{user}/server")
            except Exception:  # not running
                pass
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()


class Server:
    """One user's single-user server, through the hub's proxy, with that user's token."""

    def __init__(self, hub_url: str, user: str, token: str):
        self.base, self.user = f"{hub_url}/user/{user}", user
        self.headers = {"Authorization": f"token {token}"}

    def call(self, method: str, path: str, **kw):
        import requests
        r = requests.request(method, self.base + path, headers=self.headers, timeout=300, **kw)
        assert r.status_code < 400, f"{self.user}: {method} {path}: {r.status_code} {r.text[:800]}"
        return r.json() if r.text else {}

    def nbgrader(self, action: str) -> dict:
        """The Assignments tab's buttons: fetch, submit, fetch_feedback."""
        out = self.call("POST", f"/assignments/{action}",
                        data={"course_id": COURSE_ID, "assignment_id": ASSIGNMENT})
        assert out.get("success"), f"{self.user}: {action}: {out}"
        return out

    def formgrader(self, method: str, path: str, **kw):
        out = self.call(method, f"/formgrader/api{path}", **kw)
        if isinstance(out, dict) and "success" in out:
            assert out["success"], f"formgrader {path}: {out.get('error') or out.get('log')}"
        return out

    def read(self, path: str) -> dict:
        return self.call("GET", f"/api/contents/{path}", params={"content": "1"})

    def save_notebook(self, path: str, nb) -> None:
        self.call("PUT", f"/api/contents/{path}", json={"type": "notebook", "content": nb})


def formgrader_in_a_browser(hub, user: str, scores: dict) -> str | None:
    """Log in through the hub's login page in headless Chromium, open the formgrader's Manage
    Submissions page of lora and read each student's score as shown; a screenshot is left in
    .grading/hub/. Returns why it could not run (no Playwright or no Chromium), or None."""
    try:
        from playwright.sync_api import sync_playwright
        from test_browser import CHROMIUM_FLAGS, find_or_install_chromium
    except ImportError as err:
        return f"no browser test: {err}"
    browser, why = find_or_install_chromium()
    if browser is None:
        return why
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=browser, headless=True, args=CHROMIUM_FLAGS)
        page = b.new_page(viewport={"width": 1300, "height": 900})
        page.set_default_timeout(90_000)
        page.goto(f"{hub.url}/hub/login")
        page.fill("#username_input", user)
        page.fill("#password_input", hub.m.passwords[user])
        page.click("#login_submit")
        page.wait_for_url(re.compile(r".*/(hub/spawn-pending|user)/.*"))
        page.goto(f"{hub.url}/user/{user}/formgrader/manage_submissions/{ASSIGNMENT}")
        for student, score in scores.items():
            row = page.locator("tr", has_text=student)
            row.locator(".score", has_text=re.compile(r"\d")).wait_for()
            shown = row.locator(".score").inner_text().strip()
            assert shown == score, (student, shown, score)
        page.screenshot(path=str(LOG / "formgrader_manage_submissions.png"), full_page=True)
        b.close()
    return None


# ----------------------------------------------------------------------------- the test
@pytest.fixture(scope="module")
def hub():
    why = missing()
    if why:
        skip_or_fail(why)
    machine = Machine()
    h = Hub(machine)
    try:
        machine.setup()
        h.start()
        yield h
    finally:
        h.stop()
        machine.teardown()


def test_release_submit_grade_and_feedback_round_trip(hub):
    m, start = hub.m, time.monotonic()
    course = Course()
    source = nbformat.read(course.source(ASSIGNMENT), as_version=4)
    release = release_notebook(source)
    answers = {m.students[0]: samples.correct(source, release),
               m.students[1]: samples.partly_wrong(source, release, ASSIGNMENT, course)}

    # 1. the instructor generates and releases the assignment in the formgrader
    instructor = hub.server(m.instructor)
    instructor.formgrader("POST", f"/assignment/{ASSIGNMENT}/assign")
    instructor.formgrader("POST", f"/assignment/{ASSIGNMENT}/release")
    assert (m.exchange / COURSE_ID / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()
    released = json.loads((m.exchange / COURSE_ID / "outbound" / ASSIGNMENT /
                           f"{ASSIGNMENT}.ipynb").read_text())
    assert "Exercise lora_linear: write LoRALinear" in json.dumps(released)   # our stubs

    # 2. each student logs in (PAM), fetches, works, submits
    for student, nb in answers.items():
        assert hub.login(student).get(f"{hub.url}/hub/home", timeout=30).ok
        server = hub.server(student)
        server.nbgrader("fetch")
        fetched = server.read(f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb")
        assert fetched["type"] == "notebook"
        server.save_notebook(f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb", nb)
        server.nbgrader("submit")

    # 3. the instructor collects, grades in a terminal, sees the scores in the formgrader
    instructor.formgrader("POST", f"/assignment/{ASSIGNMENT}/collect")
    for student in m.students:
        assert (m.course / "submitted" / student / ASSIGNMENT / "timestamp.txt").exists()
    graded = m.as_user(m.instructor, [str(m.python), "-m", "autograde", "--course", str(m.course),
                                      "grade", "submitted", "-a", ASSIGNMENT, "--workers", "2"],
                       cwd=m.course)
    (LOG / "grade.log").write_text(graded.stdout + graded.stderr)
    assert graded.returncode == 0, graded.stdout[-3000:] + graded.stderr[-3000:]
    assert "graded 2 new, 0 already graded" in graded.stdout
    shown = {s["student"]: s for s in instructor.formgrader("GET", f"/submissions/{ASSIGNMENT}")}
    right, wrong = m.students
    assert shown[right]["autograded"] and shown[wrong]["autograded"], shown
    assert shown[right]["score"] == shown[right]["max_score"] == 8.0, shown[right]
    assert 0 < shown[wrong]["score"] < 8.0, shown[wrong]
    expected_wrong = shown[wrong]["score"]
    # ... and so does the formgrader's page, as the instructor sees it after logging in
    def as_shown(x):
        return f"{round(x, 2):g} / 8"
    why = formgrader_in_a_browser(hub, m.instructor, {right: as_shown(8.0),
                                                      wrong: as_shown(expected_wrong)})
    if why:
        print(f"formgrader page not opened in a browser: {why}")

    # a score changed by hand in the formgrader is what the export gives
    notebook = instructor.formgrader("GET", f"/submitted_notebooks/{ASSIGNMENT}/{ASSIGNMENT}")
    sub_id = next(n["id"] for n in notebook if n["student"] == wrong)
    grades = instructor.formgrader("GET", "/grades", params={"submission_id": sub_id})
    lost = next(g for g in grades if g["auto_score"] is not None and g["auto_score"] < g["max_score"])
    instructor.formgrader("PUT", f"/grade/{lost['id']}",
                          data=json.dumps({"manual_score": lost["max_score"]}))
    exported = m.as_user(m.instructor, [str(m.python), "-m", "autograde", "--course", str(m.course),
                                        "export", "--out", str(m.course / "grades.csv")], cwd=m.course)
    assert exported.returncode == 0, exported.stderr
    rows = {r.split(",")[0]: r.split(",") for r in (m.course / "grades.csv").read_text().splitlines()}
    fixed = expected_wrong - lost["auto_score"] + lost["max_score"]
    assert rows[wrong][5] == f"{fixed:.2f}" and rows[right][5] == "8.00", rows

    # ... then feedback, released from the formgrader
    fb = m.as_user(m.instructor, [str(m.python), "-m", "autograde", "--course", str(m.course),
                                  "feedback", "-a", ASSIGNMENT], cwd=m.course)
    assert fb.returncode == 0, fb.stderr
    instructor.formgrader("POST", f"/assignment/{ASSIGNMENT}/release_feedback")

    # 4. each student fetches their own feedback and reads their score
    for student, total in ((right, 8.0), (wrong, fixed)):
        server = hub.server(student)
        server.nbgrader("fetch_feedback")
        [stamp] = server.read(f"{ASSIGNMENT}/feedback")["content"]
        page = server.read(f"{stamp['path']}/{ASSIGNMENT}.html")["content"]
        assert f"Score: {total:.2f} / 8" in page, student
        other = wrong if student == right else right
        assert other not in page
        assert "BEGIN HIDDEN TESTS" not in page and "hidden_check(" not in page
        if student == wrong:
            assert "set by your instructor" in page
    print(f"hub round trip: {time.monotonic() - start:.0f} s")
