"""Inside the worker, before student code: the seccomp filter (the kernel's refusal) and an
audit hook that refuses Python-level attempts early with a clear message.

The hook is a hint, not the boundary (PEP 578: audit hooks are not a sandbox): each refusal
is written to the grader at once, so later tampering cannot take it back, but code that
switches the hook off meets the operating system's limits instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2

# Audit events refused whatever their arguments: new processes, the network, native code,
# and the ways to reach or bypass the guard itself.
REFUSED_EVENTS = frozenset({
    "subprocess.Popen", "os.system", "os.exec", "os.fork", "os.forkpty", "os.posix_spawn",
    "os.spawn", "os.startfile", "pty.spawn", "socket.connect", "socket.bind",
    "socket.sendto", "socket.sendmsg", "ctypes.dlopen", "ctypes.dlsym", "ctypes.dlsym/handle",
    "ctypes.call_function", "ctypes.cdata", "ctypes.PyObj_FromPtr", "os.symlink", "os.link",
    "os.chdir", "sys.settrace", "sys.setprofile", "gc.get_objects", "gc.get_referrers",
    "gc.get_referents", "sys.remote_exec", "os.setxattr", "os.removexattr"})
# Events whose path arguments must lie inside the worker's folder: (path, dir_fd) indexes.
PATH_EVENTS = {"os.remove": ((0, 1),), "os.rmdir": ((0, 1),), "shutil.rmtree": ((0, 1),),
               "os.rename": ((0, 2), (1, 3)), "os.mkdir": ((0, 2),), "os.chmod": ((0, 2),),
               "os.chown": ((0, 3),), "os.utime": ((0, 3),), "os.truncate": ((0, None),),
               "os.chflags": ((0, None),), "os.mkfifo": ((0, 2),), "os.mknod": ((0, 3),),
               "shutil.copyfile": ((1, None),), "shutil.copytree": ((1, None),),
               "shutil.chown": ((0, None),)}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def install_seccomp(bpf: bytes) -> None:
    """no_new_privs, then the BPF program from the grader, on this (single) thread."""
    import ctypes

    if len(os.listdir("/proc/self/task")) != 1:
        raise OSError("the worker must be single-threaded when its seccomp filter loads")

    class SockFprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(bpf, len(bpf))
    prog = SockFprog(len(bpf) // 8, ctypes.addressof(buf))
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")


def install_guard(report: Callable[[str], None], native_dirs: tuple[str, ...] = ()) -> None:
    """Install the audit hook; `report(message)` is called for each refused attempt.

    Refused (PermissionError): writing, creating, removing or renaming anything outside
    the current (temporary) folder, new processes, network connections, native code
    through ctypes (except `ctypes.dlopen` of a library inside `native_dirs`), and signals
    or resource limits aimed at other processes. Everything the hook uses is bound here.
    """
    import posix
    import stat as stat_mod

    root = posix.getcwd()
    own_pid = posix.getpid()
    readlink, stat, s_isdir = posix.readlink, posix.stat, stat_mod.S_ISDIR
    fspath, refused, path_events = posix.fspath, REFUSED_EVENTS, dict(PATH_EVENTS)
    write_flags, str_, bytes_, int_ = WRITE_FLAGS, str, bytes, int
    type_, len_, any_, repr_, perm = type, len, any, repr, PermissionError

    def absolute(path: Any, dir_fd: Any = None) -> str | None:
        """The path made absolute and normalised without touching the disk; None: unknown."""
        if type_(path) is int_:
            try:
                return readlink(f"/proc/self/fd/{path}")
            except OSError:
                return None
        if type_(path) not in (str_, bytes_):
            try:
                path = fspath(path)
            except Exception:
                return None
        if type_(path) is bytes_:
            path = path.decode("utf-8", "surrogateescape")
        if type_(path) is not str_:
            return None
        if not path.startswith("/"):
            base = root
            if type_(dir_fd) is int_ and dir_fd >= 0:
                base = absolute(dir_fd)
                if base is None:
                    return None
            path = base + "/" + path
        parts: list[str] = []
        for part in path.split("/"):
            if part == "..":
                if parts:
                    parts.pop()
            elif part and part != ".":
                parts.append(part)
        return "/" + "/".join(parts)

    def inside(path: Any, dir_fd: Any = None) -> bool:
        p = absolute(path, dir_fd)
        return p is not None and (p == root or p.startswith(root + "/"))

    def refuse(what: str) -> None:
        msg = (f"sandbox: {what} refused (student code may not write outside its temporary "
               f"folder, start processes, use the network or load native code)")
        try:
            report(msg)
        finally:
            raise perm(msg)

    def hook(event: str, args: tuple) -> None:
        if event == "ctypes.dlopen" and type_(args[0]) is str_ and any_(
                (absolute(args[0]) or "").startswith(d + "/") for d in native_dirs):
            return
        if event == "open":
            path, mode, flags = args
            if type_(path) is int_ or type_(flags) is not int_:
                return
            if flags & write_flags:
                if not inside(path):
                    refuse(f"opening {absolute(path) or path!r} for writing")
            elif mode is None and not inside(path):  # os.open: no folder fds for dir_fd
                try:
                    is_dir = s_isdir(stat(path).st_mode)
                except Exception:
                    is_dir = False
                if is_dir:
                    refuse(f"os.open on the folder {path!r}")
        elif event in refused:
            shown = ", ".join(repr_(a)[:80] for a in args[:2])
            refuse(f"{event}({shown})")
        elif event in path_events:
            for i, j in path_events[event]:
                dir_fd = args[j] if j is not None and j < len_(args) else None
                if i < len_(args) and not inside(args[i], dir_fd):
                    refuse(f"{event} on {absolute(args[i], dir_fd) or args[i]!r}")
        elif event in ("os.kill", "os.killpg", "resource.prlimit"):
            ok = (0, own_pid) if event == "resource.prlimit" else (own_pid,)
            if args[0] not in ok:
                refuse(f"{event}{args[:2]!r} on another process")

    sys.addaudithook(hook)
