"""Checkpoints that survive crashes and never execute code when loaded.

Saving writes to a temporary file in the same folder, flushes and fsyncs it, then renames
it over the target (`os.replace` is atomic on POSIX and Windows) and fsyncs the folder: a
crash, a kill or a full disk leaves either the old file or the new one, never a torn one.
Loading uses `torch.load(weights_only=True)`: only tensors and plain containers, so a
checkpoint cannot run code. Everything stored is plain types for that reason.

Step checkpoints rotate (`save_rotating`): `checkpoints/step-N.pt` for the `keep` newest N,
and `last.pt` a hard link to the newest complete one (renamed into place, so it is always a
whole checkpoint). `load_newest_good` reads `last.pt` and falls back to the newest readable
step checkpoint when it is corrupt or truncated, with one warning naming both files.

Each checkpoint carries a SHA-256 checksum of its content (every key, value and tensor
byte), checked on load: a flipped bit in a weight is reported, not trained on.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from trainlab.errors import CheckpointError

FORMAT = "trainlab.checkpoint"
VERSION = 1


def _umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it (restored at once)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically (temp file, fsync, rename, fsync folder).

    The file gets the mode a plain `open(path, "w")` would give it (0666 less the umask),
    not the 0600 of the temporary file it starts as.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # not every platform can fsync a folder
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _update_digest(h: Any, obj: Any) -> None:
    """Feed a canonical serialization of `obj` (containers, primitives, tensors) into `h`."""
    if isinstance(obj, dict):
        h.update(b"{")
        for k in sorted(obj, key=str):
            h.update(repr(k).encode())
            _update_digest(h, obj[k])
        h.update(b"}")
    elif isinstance(obj, list | tuple):
        h.update(b"[")
        for v in obj:
            _update_digest(h, v)
        h.update(b"]")
    elif isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        if t.numel():  # (an empty tensor may have stride 0, which .view refuses)
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    else:
        h.update(repr(obj).encode())


def checksum(payload: dict[str, Any]) -> str:
    """SHA-256 of a payload's content (its `checksum` key excluded)."""
    h = hashlib.sha256()
    _update_digest(h, {k: v for k, v in payload.items() if k != "checksum"})
    return h.hexdigest()


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Serialize `payload` (plain types and tensors) with its checksum to `path` atomically."""
    full = {"format": FORMAT, "version": VERSION, **payload}
    full["checksum"] = checksum(full)
    buf = io.BytesIO()
    torch.save(full, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a trainlab checkpoint safely; any problem is a `CheckpointError` naming the file."""
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for corrupt/unsafe files
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CheckpointError(f"{path}: not a readable checkpoint ({first})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a trainlab checkpoint")
    if ckpt.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint version {ckpt.get('version')}, this trainlab reads {VERSION}"
        )
    if ckpt.get("checksum") != checksum(ckpt):
        raise CheckpointError(f"{path}: checksum mismatch, the file is corrupt")
    return ckpt


def step_path(folder: Path, step: int) -> Path:
    return folder / f"step-{step:08d}.pt"


def step_checkpoints(folder: Path) -> list[tuple[int, Path]]:
    """`(step, path)` of the folder's step checkpoints, oldest first."""
    found = []
    for p in folder.glob("step-*.pt"):
        digits = p.stem.removeprefix("step-")
        if digits.isdigit():
            found.append((int(digits), p))
    return sorted(found)


def _point(target: Path, link: Path) -> None:
    """Make `link` the same file as `target`, atomically (hard link renamed over it; a
    copy where the file system has no hard links)."""
    tmp = link.with_name(f".{link.name}.link.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(target, tmp)
    except OSError:
        atomic_write_bytes(link, target.read_bytes())
        return
    os.replace(tmp, link)


def save_rotating(folder: Path, step: int, payload: dict[str, Any], keep: int) -> Path:
    """`payload` as `folder/step-N.pt` (atomically), then `folder/last.pt` pointed at it,
    then all but the `keep` newest step checkpoints removed. Returns the step file."""
    if keep < 1:
        raise ValueError(f"keep: expected >= 1, got {keep}")
    path = step_path(folder, step)
    save_checkpoint(path, payload)
    _point(path, folder / "last.pt")
    for _, old in step_checkpoints(folder)[:-keep]:
        with contextlib.suppress(OSError):
            old.unlink()
    return path


def load_newest_good(
    last: Path, map_location: str | torch.device = "cpu"
) -> tuple[Path, dict[str, Any], str | None]:
    """`(path, checkpoint, warning)`: the checkpoint at `last`, or (when it is unreadable or
    corrupt) the newest good step checkpoint beside it and a one-line warning naming both;
    `CheckpointError` when none is good."""
    first: CheckpointError | None = None
    candidates = [last] + [p for _, p in reversed(step_checkpoints(last.parent))]
    for path in candidates:
        try:
            ckpt = load_checkpoint(path, map_location)
        except CheckpointError as e:
            first = first or e
            continue
        warning = None
        if first is not None:
            warning = f"{first}; resuming from {path}, the newest good checkpoint"
        return path, ckpt, warning
    assert first is not None
    raise first
