"""Building, caching and loading the C kernels (trainlab/optim/kernel_build.py; issue 22,
items 4-6): one OpenMP runtime in the process, a private cache that refuses files other
users could write, x86 flags only for x86 compilers, failed builds cached, the cache keyed
on what ``-march=native`` resolves to, and concurrent builds that build once."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import trainlab
import trainlab.optim as tl
from trainlab.optim import cpu_kernels, kernel_build

pytestmark = pytest.mark.skipif(kernel_build.compiler() is None, reason="no C compiler here")
SRC = str(Path(trainlab.__file__).parents[1])


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """An empty cache root (not created yet) and a fresh :func:`cpu_kernels.library`."""
    root = tmp_path / "cache"
    monkeypatch.setenv("TRAINLAB_CACHE_DIR", str(root))
    cpu_kernels.library.cache_clear()
    yield root
    cpu_kernels.library.cache_clear()


def reload() -> bool:
    cpu_kernels.library.cache_clear()
    return cpu_kernels.available()


def fake_cc(tmp_path: Path, body: str) -> str:
    """A compiler script: ``body`` (bash) runs first, then it hands over to gcc/cc."""
    real = next(c for c in ("gcc", "cc", "clang") if kernel_build.shutil.which(c))
    script = tmp_path / "fake-cc"
    script.write_text(f'#!/bin/bash\n{textwrap.dedent(body)}\nexec {real} "$@"\n')
    script.chmod(0o755)
    return str(script)


def test_cache_is_private_and_loaded_not_rebuilt(cache: Path) -> None:
    assert cpu_kernels.available() and cpu_kernels.BUILD["seconds"] > 0
    for d in (cache, cache / "kernels"):  # 0700 whatever the umask
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d
    [so] = (cache / "kernels").glob("optim_*.so")
    stamp = so.stat().st_mtime_ns
    assert reload() and cpu_kernels.BUILD["seconds"] == 0.0 and so.stat().st_mtime_ns == stamp


@pytest.mark.parametrize("target", ["file", "dir"])
def test_writable_by_others_is_refused(cache: Path, target: str, caplog) -> None:  # type: ignore[no-untyped-def]
    assert cpu_kernels.available()
    [so] = (cache / "kernels").glob("optim_*.so")
    (so if target == "file" else so.parent).chmod(0o666 if target == "file" else 0o777)
    with caplog.at_level(logging.WARNING, "trainlab.optim"):
        assert not reload()
    assert "refusing" in caplog.text and "writable by group or others" in caplog.text
    opt = tl.RMSprop([torch.zeros(3, requires_grad=True)])
    assert opt.path(opt.param_groups[0]) == "chunked"  # the optimizers fall back
    (so if target == "file" else so.parent).chmod(0o755 if target == "file" else 0o700)
    assert reload()


@pytest.mark.skipif(os.getuid() != 0, reason="chown to another user needs root")
def test_file_of_another_user_is_refused(cache: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    assert cpu_kernels.available()
    [so] = (cache / "kernels").glob("optim_*.so")
    os.chown(so, 12345, -1)
    with caplog.at_level(logging.WARNING, "trainlab.optim"):
        assert not reload()
    assert "owned by uid 12345" in caplog.text


def test_a_failing_compiler_is_tried_once(cache: Path, monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("CC", "false")  # exists, fails on everything
    with caplog.at_level(logging.WARNING, "trainlab.optim"):
        assert not cpu_kernels.available()
    assert "could not build" in caplog.text
    [failed] = (cache / "kernels").glob("optim_*.failed")

    def build(*args: object) -> None:
        raise AssertionError("a failed build was retried")

    monkeypatch.setattr(kernel_build, "_build", build)
    assert not reload()  # as another process would: the marker, no second build
    assert cpu_kernels.BUILD["error"] == failed.read_text()


def test_x86_flags_only_for_x86_compilers(cache: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A compiler for another architecture (it says aarch64 and rejects the x86-only flag)
    still builds working kernels."""
    cc = fake_cc(tmp_path, """
        [[ "$1" == -dumpmachine ]] && { echo aarch64-linux-gnu; exit 0; }
        for a in "$@"; do [[ "$a" == -mprefer-vector-width=* ]] && { echo "bad $a" >&2; exit 1; }; done
    """)  # fmt: skip
    monkeypatch.setenv("CC", cc)
    assert cpu_kernels.available(), cpu_kernels.BUILD["error"]


def test_cache_key_is_the_resolved_native_target(cache: Path, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Same compiler, another CPU (what ``-march=native`` expands to): another library."""
    cc = fake_cc(tmp_path, """
        for a in "$@"; do [[ "$a" == "-###" ]] && { echo "cc1 -march=$FAKE_CPU" >&2; exit 0; }; done
    """)  # fmt: skip
    monkeypatch.setenv("CC", cc)
    paths = []
    for cpu in ("cpu-a", "cpu-b", "cpu-a"):
        monkeypatch.setenv("FAKE_CPU", cpu)
        assert reload(), cpu_kernels.BUILD["error"]
        paths.append(cpu_kernels.BUILD["path"])
    assert paths[0] != paths[1] and paths[0] == paths[2]


RACER = """
import os, sys, time
from pathlib import Path
ready = Path(sys.argv[1])
(ready / f"ready{sys.argv[2]}").touch()
while len(list(ready.glob("ready*"))) < 2:  # both processes start building together
    time.sleep(0.01)
from trainlab.optim import cpu_kernels
ok = cpu_kernels.available()
print(ok, cpu_kernels.BUILD["seconds"] > 0)
"""


@pytest.mark.slow
def test_two_processes_building_at_once_build_once(cache: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": SRC, "TRAINLAB_CACHE_DIR": str(cache)}
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(tmp_path), str(i)], env=env,
                              stdout=subprocess.PIPE, text=True) for i in range(2)]  # fmt: skip
    outs = [p.communicate(timeout=300)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert [o[0] for o in outs] == ["True", "True"]  # both end with a working kernel
    assert sorted(o[1] for o in outs) == ["False", "True"]  # one built, the other loaded it
    assert len(list((cache / "kernels").glob("optim_*.so"))) == 1


MAPS = """
import os, re, torch
import trainlab.optim as tl
from trainlab.optim import cpu_kernels
torch.set_num_threads(2)
p = torch.zeros(200_000, requires_grad=True)
p.grad = torch.ones(200_000)
opt = tl.RMSprop([p])
opt.step()
assert opt.path(opt.param_groups[0]) == "cpu_kernel"
omp = re.compile(r"^lib(gomp|omp|iomp5)([-.][^/]*)?[.](so|dylib)")
maps = [ln.split(None, 5)[-1].strip() for ln in open("/proc/self/maps") if ".so" in ln]
print(len({os.path.realpath(m) for m in maps if omp.match(os.path.basename(m))}))
print(os.path.realpath(cpu_kernels.BUILD["openmp"]))
print(cpu_kernels.BUILD["path"])
"""


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux)")
def test_one_openmp_runtime_in_the_process(cache: Path) -> None:
    """After the kernels ran on two threads, one OpenMP runtime file is mapped: torch's."""
    env = {**os.environ, "PYTHONPATH": SRC, "TRAINLAB_CACHE_DIR": str(cache)}
    out = subprocess.run([sys.executable, "-c", MAPS], env=env, capture_output=True, text=True,
                         timeout=300)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    count, runtime, so = out.stdout.split()
    assert count == "1"
    assert Path(runtime).is_relative_to(Path(torch.__file__).resolve().parents[1])  # torch's
    # the library names torch's runtime (by soname), not the compiler's
    needed = subprocess.run(["readelf", "-d", so], capture_output=True, text=True).stdout
    soname = subprocess.run(["readelf", "-d", runtime], capture_output=True, text=True).stdout
    if needed and soname:
        [name] = [ln.split("[")[1].rstrip("]") for ln in soname.splitlines() if "SONAME" in ln]
        assert f"[{name}]" in needed


def test_link_command_uses_torchs_runtime_by_path() -> None:
    cmd = kernel_build.link_command(["cc"], ["a.o"], "/t/lib/libgomp-ab12.so.1", "k.so")
    assert "/t/lib/libgomp-ab12.so.1" in cmd and "-Wl,-rpath,/t/lib" in cmd
    assert "-fopenmp" not in cmd and not any(a.startswith("-l") for a in cmd)


def test_without_an_openmp_runtime_the_kernels_run_on_one_thread(cache: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Built with -fopenmp-simd (no runtime to link), on two torch threads: same result as
    the single-tensor path."""
    monkeypatch.setattr(kernel_build, "openmp_runtime", lambda: None)
    assert cpu_kernels.available() and cpu_kernels.BUILD["openmp"] is None
    g = torch.Generator().manual_seed(0)
    a = torch.randn(100_000, generator=g, dtype=torch.float64).requires_grad_()
    b = a.detach().clone().requires_grad_()
    oa, ob = tl.NAdam([a]), tl.NAdam([b], foreach=False)
    for _ in range(3):
        a.grad = torch.randn(a.shape, generator=g, dtype=torch.float64)
        b.grad = a.grad.clone()
        oa.step(), ob.step()
    assert oa.path(oa.param_groups[0]) == "cpu_kernel"
    assert torch.allclose(a, b, rtol=1e-12, atol=0)  # the bound of test_cpu_kernels.py
