"""`confine()`: the first call of every worker process that runs model-written code or loads a policy.

The reward language (server/rewards) already lets a program do nothing but array arithmetic; this is the
second wall, for the case where that one fails. In order, before the worker imports JAX or starts a
thread (several steps bind only the calling thread and what it creates afterwards):

1. stop signals ignored (the parent stops its workers), and SIGKILL when the parent dies
   (PR_SET_PDEATHSIG): no orphan keeps running after a crash of the server;
2. every inherited file descriptor beyond stdin/stdout/stderr (and those asked for) closed;
3. no core files; a bounded address space on the CPU (a GPU runtime reserves far more);
4. the environment reduced to the allow-list (environment.py); a private TMPDIR;
5. a new, empty network namespace (as root directly; otherwise inside a new user namespace), so no
   socket can reach any interface, loopback included;
6. Landlock: files only under the paths the worker's job needs (read-only: Python, the code, the scene
   cache; read-write: the job folder, the compile cache, the private TMPDIR), no TCP bind or connect, no
   signals or abstract unix sockets to processes outside; and no ptrace or /proc/<pid>/environ of the
   server or any other process outside the sandbox;
7. all Linux capabilities dropped (a root worker keeps uid 0 but not its privileges).

What the kernel cannot do is logged and reported (`Confinement`), never silently skipped: docs/SECURITY.md
says what is enforced where.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import resource
import shutil
import signal
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from server.sandbox import landlock
from server.sandbox.environment import PARENT_ENV, SOURCE_ROOT, scrub_environment

ADDRESS_SPACE_BYTES = 6 * 2**30
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_CLONE_NEWNET = 0x40000000
_CLONE_NEWUSER = 0x10000000
_CAPABILITY_VERSION_3 = 0x20080522
_TMP_PREFIX = "robocoach-worker-"  # + pid + "-" + random: the pid tells whose folder it is
# Read-only system files a Python/JAX process opens after start (locale, time zone, user lookups, CPUs).
_SYSTEM_READ = (
    "/usr", "/lib", "/lib64", "/bin", "/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group",
    "/etc/nsswitch.conf", "/etc/os-release", "/proc/cpuinfo", "/proc/meminfo", "/proc/stat",
    "/sys",
)  # fmt: skip
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_GPU_DEVICES = (
    "/dev/nvidiactl",
    "/dev/nvidia-uvm",
    "/dev/nvidia-uvm-tools",
    "/dev/nvidia-modeset",
    "/dev/dri",
)


@dataclass(frozen=True)
class Confinement:
    """What one worker may touch: `read` and `write` paths for its job."""

    read: tuple[Path, ...] = ()
    write: tuple[Path, ...] = ()
    gpu: bool = False


@dataclass(frozen=True)
class Enforcement:
    """What `confine()` achieved on this kernel, as written to the worker's log."""

    enforced: list[str]
    missing: list[str]


def ignore_stop_signals() -> None:
    """Workers are stopped by their parent (SIGKILL, or EOF on their pipe). A Ctrl+C or SIGTERM sent to
    the whole process group must not kill them mid-task first, where the parent would record it as a
    crash of the scene or program they were working on."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def die_with_parent() -> None:
    """SIGKILL this process when the thread that started it exits; exit now if that already happened."""
    if sys.platform != "linux":
        return
    landlock.libc().prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    parent = os.environ.get(PARENT_ENV)
    if parent and parent.isdigit() and os.getppid() != int(parent):
        os._exit(3)  # the server died before the signal was armed


def protect_server_process() -> None:
    """Make the server non-dumpable: processes of the same user can then no longer read its memory,
    /proc/<pid>/environ (API keys) or file descriptors (the listening socket). Root, or anything with
    CAP_SYS_PTRACE, still could; confined workers cannot either way (Landlock)."""
    if sys.platform == "linux":
        landlock.libc().prctl(_PR_SET_DUMPABLE, 0, 0, 0, 0)


def child_signals() -> None:
    """For worker processes that run no model-written code (scene verification): the signal part."""
    ignore_stop_signals()
    die_with_parent()


def confine(confinement: Confinement) -> Enforcement:
    """Apply steps 1-7 of the module docstring to this process; returns what holds and what this
    kernel could not enforce, already written to stderr."""
    ignore_stop_signals()
    die_with_parent()
    _close_inherited_fds()
    _limit_resources(gpu=confinement.gpu)
    scrub_environment()
    _remove_orphaned_tmp_dirs()
    private_tmp = Path(tempfile.mkdtemp(prefix=f"{_TMP_PREFIX}{os.getpid()}-"))
    # Its contents go at exit; the folder itself cannot (Landlock grants no removal in the TMPDIR's
    # parent), and a killed worker leaves all of it: the next worker removes both (see below).
    atexit.register(_empty_folder, private_tmp)
    os.environ["TMPDIR"] = str(private_tmp)
    enforced = ["parent-death signal", "inherited descriptors closed", "environment allow-list"]
    missing: list[str] = []
    _enter_network_namespace(enforced, missing)
    _restrict_files_and_network(confinement, private_tmp, enforced, missing)
    _drop_capabilities(enforced, missing)
    print(
        f"sandbox: enforced {', '.join(enforced)}"
        + (f"; NOT enforced: {', '.join(missing)}" if missing else ""),
        file=sys.stderr,
        flush=True,
    )
    return Enforcement(enforced, missing)


def _remove_orphaned_tmp_dirs() -> None:
    """Remove the private TMPDIRs of workers that are gone: each folder carries its worker's pid in its
    name, and only this user's folders of dead processes are removed. A worker empties its own at exit
    but cannot remove it, and a cancelled worker, or one that dies with the server, is killed (SIGKILL)
    and leaves everything."""
    root = Path(tempfile.gettempdir())
    try:
        entries = list(root.glob(f"{_TMP_PREFIX}*-*"))
    except OSError:
        return
    for entry in entries:
        pid_text = entry.name.removeprefix(_TMP_PREFIX).split("-", 1)[0]
        if not pid_text.isdigit() or _process_exists(int(pid_text)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink() and entry.stat().st_uid == os.getuid():
                shutil.rmtree(entry, ignore_errors=True)


def _empty_folder(folder: Path) -> None:
    with contextlib.suppress(OSError):
        for entry in folder.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process holds that pid now
    return True


def _close_inherited_fds() -> None:
    """A worker needs its pipes and nothing else the server had open (its listening socket above all)."""
    try:
        fds = [int(entry.name) for entry in Path("/proc/self/fd").iterdir()]
    except OSError:
        fds = list(range(3, 1024))
    for fd in fds:
        if fd > 2:
            with contextlib.suppress(OSError):
                os.close(fd)


def _limit_resources(*, gpu: bool) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if gpu:
        return  # CUDA reserves far more address space than any sensible RLIMIT_AS
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > ADDRESS_SPACE_BYTES:
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_BYTES, ADDRESS_SPACE_BYTES))


def _enter_network_namespace(enforced: list[str], missing: list[str]) -> None:
    if sys.platform != "linux":
        missing.append("network namespace (not Linux)")
        return
    libc = landlock.libc()
    uid, gid = os.getuid(), os.getgid()
    if uid == 0:
        ok = libc.unshare(_CLONE_NEWNET) == 0
    else:  # an unprivileged user may create a network namespace inside a user namespace of its own
        ok = libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0
        if ok:
            with contextlib.suppress(OSError):  # map our own ids so files keep their owner
                Path("/proc/self/setgroups").write_text("deny")
                Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
                Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    if ok:
        enforced.append("empty network namespace")
    else:
        missing.append(f"network namespace ({os.strerror(ctypes.get_errno())})")


def _rules(confinement: Confinement, private_tmp: Path) -> list[tuple[Path, int]]:
    read = [Path(p) for p in _SYSTEM_READ]
    read += [Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix)]
    read.append(Path(os.path.realpath(sys.executable)).parent)
    read += [SOURCE_ROOT / "server", SOURCE_ROOT / "scenes"]
    bundle = getattr(sys, "_MEIPASS", None)  # a frozen app's own folder
    if bundle:
        read.append(Path(bundle))
    read.append(Path(f"/proc/{os.getpid()}"))  # itself, through /proc/self; never another process
    read += list(confinement.read)
    write = [private_tmp, *confinement.write]
    warp_cache = Path(os.environ.get("HOME", "/nonexistent")) / ".cache" / "warp"  # warp's kernel cache
    write.append(warp_cache)
    devices = [Path(p) for p in _DEVICES]
    if confinement.gpu:
        devices += [Path(p) for p in _GPU_DEVICES] + sorted(Path("/dev").glob("nvidia[0-9]*"))
        write.append(Path(os.environ.get("HOME", "/nonexistent")) / ".nv")  # CUDA's compute cache
        read.append(Path("/proc/driver/nvidia"))
    return (
        [(p, landlock.READ) for p in read]
        + [(p, landlock.WRITE) for p in write]
        + [(p, landlock.DEVICE) for p in devices]
    )


def _restrict_files_and_network(
    confinement: Confinement, private_tmp: Path, enforced: list[str], missing: list[str]
) -> None:
    try:
        result = landlock.restrict(_rules(confinement, private_tmp))
    except OSError as exc:
        missing.append(f"Landlock file and TCP rules ({exc})")
        return
    enforced.append(f"Landlock ABI {result.abi} file rules")
    (enforced if result.tcp else missing).append("Landlock TCP rules")
    (enforced if result.signals_and_abstract_sockets else missing).append(
        "Landlock signal and abstract-socket scope"
    )


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _drop_capabilities(enforced: list[str], missing: list[str]) -> None:
    if sys.platform != "linux":
        return
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()  # all zero: no capability in any set
    if landlock.libc().capset(ctypes.byref(header), data) == 0:
        enforced.append("capabilities dropped")
    else:
        missing.append(f"capability drop ({os.strerror(ctypes.get_errno())})")
