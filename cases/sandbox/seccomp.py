"""The worker's seccomp filter, built here in the grader (libseccomp through pyseccomp) as a
BPF program that the worker installs on itself before it imports student code.

System calls that honest layer code never makes kill the worker (SIGSYS), which the parent
sees as the worker's exit status: evidence from the kernel, not from the worker. Sockets
other than AF_UNIX fail with EPERM (there is no network in the sandbox anyway).
"""

from __future__ import annotations

import errno
import functools
import tempfile

# Never made by layer code: reading or writing other processes, devices, namespaces and
# mounts, kernel keyrings and BPF, io_uring (its operations bypass seccomp), new programs
# and new processes (threads stay allowed: see the clone rule below).
KILLED = (
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "kcmp",
    "mknod", "mknodat", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    "mount", "umount2", "unshare", "setns", "pivot_root", "chroot", "move_mount",
    "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "bpf", "keyctl", "add_key", "request_key", "perf_event_open", "userfaultfd",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "execve", "execveat", "fork", "vfork",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "syslog", "vhangup",
    "open_by_handle_at", "name_to_handle_at", "fanotify_init", "lookup_dcookie",
    "iopl", "ioperm", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
)
AF_UNIX = 1
CLONE_THREAD = 0x00010000
TIOCSTI = 0x5412  # types characters into a terminal's input queue
TIOCLINUX = 0x541C  # the same, through the Linux console


class SeccompUnavailable(Exception):
    """libseccomp (or pyseccomp) cannot be loaded on this machine."""


@functools.cache
def worker_filter() -> bytes:
    """The filter as raw BPF (struct sock_filter records, 8 bytes each)."""
    try:
        import pyseccomp as sc
    except (ImportError, OSError, AttributeError) as e:
        raise SeccompUnavailable(f"pyseccomp/libseccomp cannot be loaded: {e}") from e
    f = sc.SyscallFilter(sc.ALLOW)
    for name in KILLED:
        try:
            f.add_rule(sc.KILL_PROCESS, name)
        except (OSError, ValueError):  # a call this kernel/libseccomp does not know
            continue
    # A new process is a clone without CLONE_THREAD; clone3 hides its flags from seccomp,
    # so it fails with ENOSYS and the C library falls back to clone.
    f.add_rule(sc.KILL_PROCESS, "clone", sc.Arg(0, sc.MASKED_EQ, CLONE_THREAD, 0))
    f.add_rule(sc.ERRNO(errno.ENOSYS), "clone3")
    for request in (TIOCSTI, TIOCLINUX):
        f.add_rule(sc.KILL_PROCESS, "ioctl", sc.Arg(1, sc.MASKED_EQ, 0xFFFFFFFF, request))
    f.add_rule(sc.ERRNO(errno.EPERM), "socket", sc.Arg(0, sc.NE, AF_UNIX))
    with tempfile.TemporaryFile() as tmp:
        f.export_bpf(tmp)
        tmp.seek(0)
        return tmp.read()
