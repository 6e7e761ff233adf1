"""The submission's folder: made, handed to the grading uid, cleared and removed by root without
ever acting on a path the student can write.

Once student code has run, everything inside the folder is the student's: any name in it can be
swapped for a symbolic link, a hard link or a FIFO at any moment, by a process that is still
running. So the grader never resolves a path inside it. Every operation starts from a directory
file descriptor opened with `O_DIRECTORY | O_NOFOLLOW` and works one name at a time relative to it
(`openat`, `mkdirat`, `unlinkat`, `fstatat` without following links); root changes the owner of an
object only through a descriptor of that very object (`fchown`), and only of an object root itself
made (owner 0, one link, checked on the descriptor). What the student left in the way (a link where
the record folder was, a record folder that is not a folder) is removed, never followed, and said:
each such finding is returned as a line for the result's "tampering" list.

The folder itself is made by root, with a random name, in a folder no student can write (a
`/tmp` entry owned by root in the sticky `/tmp` cannot be renamed or replaced by anyone else).
"""

from __future__ import annotations

import os
import secrets
import stat
from contextlib import contextmanager
from pathlib import Path

O_PATH = getattr(os, "O_PATH", 0o10000000)
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_DEPTH = 64          # deeper trees are moved up a level at a time while they are removed


@contextmanager
def opened(path, dir_fd: int | None = None):
    """A descriptor of the directory `path` (never through a link), closed afterwards."""
    fd = os.open(path, DIR_FLAGS, dir_fd=dir_fd)
    try:
        yield fd
    finally:
        os.close(fd)


def make_private_dir(parent: Path, prefix: str, mode: int = 0o700) -> Path:
    """A new directory with a random name that did not exist before (mkdir fails on any name,
    link or not, already there), owned by the caller."""
    for _ in range(100):
        path = Path(parent) / f"{prefix}{secrets.token_hex(4)}"
        try:
            os.mkdir(path, mode)
        except FileExistsError:
            continue
        os.chmod(path, mode)                    # not the umask's idea of it
        return path
    raise RuntimeError(f"could not make a fresh folder in {parent}")


def owned_dir(path: Path, uid: int | None = None) -> bool:
    """Is `path` a real directory (not a link) owned by `uid` (default: us)?"""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == (os.geteuid() if uid is None else uid)


def give(folder_fd: int, name: str | None, uid: int, gid: int) -> str | None:
    """Hand one object that the grader made to the grading uid: `name` in the folder (None: the
    folder itself). Opened without following a link, then checked on its descriptor (a plain file
    or a folder, one link, owned by us) before fchown: a student who swapped it in the meantime gets
    a line saying so, and nothing of theirs changes owner."""
    if name is None:
        os.fchown(folder_fd, uid, gid)
        return None
    try:
        fd = os.open(name, O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=folder_fd)
    except OSError as err:
        return f"{name!r} was removed or replaced before the grader handed it over ({err.strerror})"
    try:
        st = os.fstat(fd)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)) or st.st_uid != os.geteuid() \
                or (stat.S_ISREG(st.st_mode) and st.st_nlink != 1):
            return f"{name!r} was replaced (by a link or a file not made by the grader) and left alone"
        os.chown(f"/proc/self/fd/{fd}", uid, gid)   # the object behind this descriptor, no path
    finally:
        os.close(fd)
    return None


def write_file(folder_fd: int, name: str, data: bytes, mode: int = 0o600) -> None:
    """Create `name` in the folder (it must not exist: O_EXCL, no link followed) and write it."""
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                 dir_fd=folder_fd)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def fresh_subfolder(folder: Path, name: str, uid: int | None, gid: int | None) -> list[str]:
    """Empty the subfolder `name` of `folder` (whatever the student put there: a link, a file, a
    tree) and make it again, owned by `uid` where given. Returns what was found in the way."""
    found = []
    with opened(folder) as folder_fd:
        st = _lstat_at(folder_fd, name)
        if st is not None:
            if stat.S_ISDIR(st.st_mode):
                remove_entry(folder_fd, name)
            else:
                kind = "a symbolic link" if stat.S_ISLNK(st.st_mode) else "a file that is not a folder"
                found.append(f"the {name} folder had been replaced by {kind}: removed, not followed")
                os.unlink(name, dir_fd=folder_fd)
        os.mkdir(name, 0o700, dir_fd=folder_fd)
        if uid is not None:
            why = give(folder_fd, name, uid, gid)
            if why:
                found.append(why)
    return found


# ---------------------------------------------------------------- removing a tree
def _writable_dir(parent_fd: int, name: str) -> int:
    """Open a subfolder for removal. Root needs no permission; a grader that is not root (the
    student's files are then its own) first gives itself back the rights a student took away."""
    if os.geteuid() != 0:
        handle = os.open(name, O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent_fd)
        try:
            os.chmod(f"/proc/self/fd/{handle}", 0o700)
        except OSError:
            pass
        finally:
            os.close(handle)
    return os.open(name, DIR_FLAGS, dir_fd=parent_fd)


def _empty(top_fd: int) -> None:
    """Remove everything inside the folder `top_fd`, depth first and without recursion: a tree
    deeper than MAX_DEPTH has its deep part moved up into the top folder (renameat) and removed
    from there, so no tree exhausts the stack or the descriptors."""
    stack = [(top_fd, "")]                      # (descriptor, its name in the folder above)
    try:
        while stack:
            fd = stack[-1][0]
            with os.scandir(fd) as entries:
                names = [e.name for e in entries]
            deeper = None
            for name in names:
                st = _lstat_at(fd, name)
                if st is None:
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    _unlink(fd, name)
                elif len(stack) >= MAX_DEPTH:        # emptied later, from the top folder
                    os.rename(name, f".deep-{secrets.token_hex(6)}", src_dir_fd=fd, dst_dir_fd=top_fd)
                else:
                    deeper = name
                    break
            if deeper is not None:
                stack.append((_writable_dir(fd, deeper), deeper))
                continue
            fd, name = stack.pop()
            if stack:                            # now empty: remove it from its parent
                os.close(fd)
                try:
                    os.rmdir(name, dir_fd=stack[-1][0])
                except FileNotFoundError:
                    pass
    finally:
        for fd, _ in stack[1:]:
            os.close(fd)


def _lstat_at(fd: int, name: str) -> os.stat_result | None:
    """`name` in the folder `fd`, the link itself if it is one; None when it is gone."""
    try:
        return os.stat(name, dir_fd=fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _unlink(fd: int, name: str) -> None:
    try:
        os.unlink(name, dir_fd=fd)
    except FileNotFoundError:
        pass


def remove_entry(parent_fd: int, name: str) -> None:
    """Remove `name` in the folder `parent_fd`, a tree or not, never following a link."""
    st = _lstat_at(parent_fd, name)
    if st is None:
        return
    if not stat.S_ISDIR(st.st_mode):
        _unlink(parent_fd, name)
        return
    fd = _writable_dir(parent_fd, name)
    try:
        _empty(fd)
    finally:
        os.close(fd)
    try:
        os.rmdir(name, dir_fd=parent_fd)
    except FileNotFoundError:
        pass


def remove(path: Path) -> None:
    """Remove a folder of the grader's and everything in it (the student's files included)."""
    path = Path(path)
    try:
        with opened(path.parent) as parent_fd:
            remove_entry(parent_fd, path.name)
    except FileNotFoundError:
        pass


def remove_owned_by(uid: int, places=("/tmp", "/var/tmp", "/dev/shm")) -> list[str]:
    """Remove what `uid` left in the machine's shared writable folders (the unprivileged-user
    mode, where the student's code sees them): each entry owned by `uid`, at the top of each
    folder, removed through the folder's descriptor. Returns the names removed."""
    removed = []
    for place in places:
        try:
            with opened(place) as fd:
                with os.scandir(fd) as entries:
                    names = [e.name for e in entries]
                for name in names:
                    st = _lstat_at(fd, name)
                    if st is not None and st.st_uid == uid:
                        remove_entry(fd, name)
                        removed.append(f"{place}/{name}")
        except OSError:
            continue
    return removed
