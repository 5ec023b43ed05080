"""Building, caching and loading trainlab's C kernels (``cpu_kernels.c``) safely.

- **Compiler**: ``$CC`` (may carry arguments, e.g. ``ccache gcc``), else gcc, cc or clang.
  Flags: ``-O3 -march=native -fno-math-errno -ffp-contract=off -fPIC``, plus
  ``-mprefer-vector-width=512`` only when the compiler targets x86 (``cc -dumpmachine``).
- **One OpenMP runtime**: the kernels are compiled with ``-fopenmp`` but linked against the
  OpenMP runtime torch has already mapped into the process (found in ``/proc/self/maps``,
  else in torch's ``lib`` folder), by path, never the compiler's own ``-lgomp``; so the
  process holds one runtime and one thread pool. Without one, they are built without
  OpenMP (``-fopenmp-simd``: vectorised, one thread).
- **Cache**: ``$TRAINLAB_CACHE_DIR/kernels`` (default ``~/.cache/trainlab/kernels``), created
  0700, under a hash of the source, the flags, the compiler (its ``--version``), the target
  ``-march=native`` resolves to (the compiler's own ``-###`` expansion, which works on x86,
  ARM and macOS alike) and the OpenMP runtime's path. A build that fails leaves
  ``<name>_<key>.failed`` (the compiler's message): later processes do not retry it (delete
  the file to retry; a new compiler or source is a new key). Builds take a lock file, so
  processes starting together build once and the others load that build.
- **Trust**: a library is loaded only from a directory and a file owned by the user (or
  root, for the directories above) that no other user can write (no group/other write bit,
  unless the sticky bit guards the directory, as on ``/tmp``); anything else is refused
  with a warning, and the optimizers use their other paths.
"""

from __future__ import annotations

import ctypes
import glob
import hashlib
import logging
import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("trainlab.optim")

BASE_FLAGS = ("-O3", "-march=native", "-fno-math-errno", "-ffp-contract=off", "-fPIC")
X86_FLAGS = ("-mprefer-vector-width=512",)
#: a mapped OpenMP runtime: GNU libgomp, LLVM libomp, Intel libiomp5 (any suffix or hash)
_OPENMP = re.compile(r"^lib(gomp|omp|iomp5)([-.][^/]*)?\.(so|dylib)(\.[0-9.]+)?$")
_TIMEOUT_S = 300


def cache_dir() -> Path:
    """``$TRAINLAB_CACHE_DIR/kernels``, default ``~/.cache/trainlab/kernels``."""
    root = os.environ.get("TRAINLAB_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "trainlab"
    )
    return Path(root) / "kernels"


def compiler() -> list[str] | None:
    """The C compiler's command (``$CC`` first), or None when there is none."""
    for name in (os.environ.get("CC"), "gcc", "cc", "clang"):
        argv = shlex.split(name) if name else []
        if argv and shutil.which(argv[0]):
            return argv
    return None


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=_TIMEOUT_S)


def _targets_x86(cc: list[str]) -> bool:
    machine = _run([*cc, "-dumpmachine"]).stdout.strip().lower()
    return machine.startswith(("x86_64", "amd64", "i386", "i486", "i586", "i686"))


def native_target(cc: list[str]) -> str:
    """What ``-march=native`` means to this compiler on this machine: its driver's expansion
    (``-###``) into the CPU name and feature flags, without file paths."""
    err = _run([*cc, "-march=native", "-###", "-c", "-x", "c", os.devnull, "-o", os.devnull])
    return " ".join(t for t in err.stderr.split() if "/" not in t and "\\" not in t)


def openmp_runtime() -> str | None:
    """The OpenMP runtime torch loaded (its real path), or None."""
    import torch  # torch maps its runtime on import

    found = []
    try:
        with open("/proc/self/maps") as maps:
            found = [ln.split(None, 5)[-1].strip() for ln in maps if ".so" in ln]
    except OSError:  # not Linux: look in torch's lib folder
        torch_lib = os.path.join(os.path.dirname(torch.__file__), "lib")
        found = glob.glob(os.path.join(torch_lib, "lib*omp*"))
    runtimes = sorted({os.path.realpath(f) for f in found if _OPENMP.match(os.path.basename(f))})
    return runtimes[0] if runtimes else None


def toolchain(cc: list[str]) -> tuple[tuple[str, ...], str | None, str]:
    """``(compile flags, OpenMP runtime or None, what the cache key adds)``."""
    flags = BASE_FLAGS + (X86_FLAGS if _targets_x86(cc) else ())
    omp = openmp_runtime()
    flags += ("-fopenmp",) if omp else ("-fopenmp-simd",)
    version = _run([*cc, "--version"]).stdout
    return flags, omp, "\0".join([" ".join(cc), version, native_target(cc), omp or ""])


def untrusted(path: Path) -> str | None:
    """Why ``path`` (a file or directory) could be replaced by another user, or None: it is
    not the user's, a directory above it is neither the user's nor root's, or one of them is
    group/other-writable (a directory above it may be, with the sticky bit, as ``/tmp``)."""
    if not hasattr(os, "getuid"):  # (Windows: no POSIX owners to check)
        return "file ownership cannot be checked on this platform"
    uid = os.getuid()
    for i, p in enumerate([path, *path.parents]):
        st = os.lstat(p)
        if st.st_uid not in ((uid,) if i == 0 else (uid, 0)):
            return f"{p} is owned by uid {st.st_uid}, not {uid}"
        sticky = i > 0 and stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
        if st.st_mode & 0o022 and not sticky:
            return f"{p} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o})"
        if i == 0 and stat.S_ISLNK(st.st_mode):
            return f"{p} is a symbolic link"
    return None


def _private_dir(d: Path) -> None:
    """Create ``d`` (and missing parents) with mode 0700."""
    missing = [p for p in [d, *d.parents] if not p.exists()]
    for p in reversed(missing):
        try:
            p.mkdir(mode=0o700)
        except FileExistsError:  # created meanwhile by another process
            continue
        os.chmod(p, 0o700)  # mkdir's mode is masked by the umask


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def _build(cc: list[str], flags: tuple[str, ...], omp: str | None, src: Path, out: Path) -> None:
    """Compile ``src`` once per scalar type, link the objects into ``out`` (atomically)."""
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        objs = []
        for suffix, ctype in (("_f32", "float"), ("_f64", "double")):
            obj = os.path.join(tmp, f"k{suffix}.o")
            cmd = [*cc, *flags, f"-DSCALAR={ctype}", f"-DSUFFIX={suffix}", "-c", str(src),
                   "-o", obj]  # fmt: skip
            subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=_TIMEOUT_S)
            objs.append(obj)
        so = os.path.join(tmp, out.name)
        subprocess.run(link_command(cc, objs, omp, so), check=True, capture_output=True,
                       text=True, timeout=_TIMEOUT_S)  # fmt: skip
        os.chmod(so, 0o755)
        os.replace(so, out)  # atomic: a concurrent reader sees no file or the whole file


def link_command(cc: list[str], objs: list[str], omp: str | None, out: str) -> list[str]:
    """Link against torch's OpenMP runtime by path (no ``-fopenmp``, which would add the
    compiler's own ``-lgomp``)."""
    runtime = [omp, f"-Wl,-rpath,{os.path.dirname(omp)}"] if omp else []
    return [*cc, "-shared", *objs, *runtime, "-o", out]


class _Lock:
    """An exclusive ``flock`` on ``path`` (a no-op where fcntl does not exist)."""

    def __init__(self, path: Path) -> None:
        self.path, self.fd = path, -1

    def __enter__(self) -> _Lock:
        try:
            import fcntl
        except ImportError:
            return self
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # releases the lock


def load(src: Path, name: str, info: dict[str, Any]) -> ctypes.CDLL | None:
    """The library built from ``src`` (built on first use, then loaded from the cache), or
    None (logged) where it cannot be built or trusted. Fills ``info``: ``seconds`` spent
    building here (0.0 when loaded), ``path``, ``openmp`` (the runtime linked) and
    ``error``."""
    info.update(seconds=0.0, path=None, openmp=None, error=None)
    cc = compiler()
    if cc is None:
        log.info("no C compiler found: trainlab's C kernels (%s) are off", name)
        return None
    try:
        flags, omp, ident = toolchain(cc)
        key = hashlib.sha256("\0".join([src.read_text(), *flags, ident]).encode()).hexdigest()
        d = cache_dir()
        _private_dir(d)
        out, failed = d / f"{name}_{key[:20]}.so", d / f"{name}_{key[:20]}.failed"
        info.update(path=str(out), openmp=omp)
        with _Lock(d / f"{name}_{key[:20]}.lock"):
            if why := untrusted(d):
                raise PermissionError(why)
            if failed.exists():
                info["error"] = failed.read_text()
                log.info("trainlab's C kernels (%s) failed to build before (%s; delete it to "
                         "retry): using the other paths", name, failed)  # fmt: skip
                return None
            if not out.exists():
                t0 = time.perf_counter()
                try:
                    _build(cc, flags, omp, src, out)
                except (OSError, subprocess.SubprocessError) as err:
                    detail = str(getattr(err, "stderr", "") or err).strip()[:2000]
                    _write_atomic(failed, detail)
                    raise
                info["seconds"] = time.perf_counter() - t0
                log.info("built trainlab's C kernels in %.1f s (%s)", info["seconds"], out)
            if why := untrusted(out):
                raise PermissionError(why)
        return ctypes.CDLL(str(out))
    except PermissionError as err:
        info["error"] = str(err)
        log.warning("refusing to load trainlab's C kernels (%s): %s; using the compiled or "
                    "eager paths", name, err)  # fmt: skip
    except (OSError, subprocess.SubprocessError) as err:
        info["error"] = detail = str(getattr(err, "stderr", "") or err).strip()[:500]
        log.warning("could not build trainlab's C kernels (%s: %s); using the compiled or "
                    "eager paths", name, detail)  # fmt: skip
    return None
