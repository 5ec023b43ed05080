"""Checkpoints: atomic writes, safe loading (never executes code), clear errors."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch

from trainlab.errors import CheckpointError
from trainlab.train import load_checkpoint, save_checkpoint
from trainlab.train.checkpoint import atomic_write_bytes


def test_round_trip_plain_types_and_tensors(tmp_path: Path) -> None:
    payload = {"model": {"w": torch.arange(3.0)}, "epoch": 2, "history": [{"a": 1.5}]}
    save_checkpoint(tmp_path / "c.pt", payload)
    ckpt = load_checkpoint(tmp_path / "c.pt")
    assert ckpt["epoch"] == 2 and torch.equal(ckpt["model"]["w"], torch.arange(3.0))


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"epoch": 1})

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_checkpoint(path, {"epoch": 2})
    monkeypatch.undo()
    assert load_checkpoint(path)["epoch"] == 1
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]  # no temp file left behind


def test_atomic_write_replaces_whole_file(tmp_path: Path) -> None:
    atomic_write_bytes(tmp_path / "f", b"old" * 1000)
    atomic_write_bytes(tmp_path / "f", b"new")
    assert (tmp_path / "f").read_bytes() == b"new"


class _Exploit:
    def __reduce__(self):  # what a malicious pickle would run on load
        return (os.system, ("touch pwned",))


def test_loading_never_executes_code(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    torch.save({"format": "trainlab.checkpoint", "version": 1, "x": _Exploit()}, "evil.pt")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not (tmp_path / "pwned").exists()


def test_corrupt_foreign_and_missing_files(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "c.pt", {"w": torch.zeros(1000)})
    data = (tmp_path / "c.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="trunc.pt: not a readable checkpoint"):
        load_checkpoint(tmp_path / "trunc.pt")
    torch.save({"state_dict": {}}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a trainlab checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "p.pt").write_bytes(pickle.dumps([1, 2]))
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "p.pt")
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "none.pt")


def test_a_flipped_bit_is_detected_by_the_checksum(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save_checkpoint(path, {"model": {"w": torch.zeros(100_000)}, "epoch": 3})
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the tensor's bytes: the zip format still reads
    (tmp_path / "flipped.pt").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum mismatch"):
        load_checkpoint(tmp_path / "flipped.pt")


def test_checksum_covers_bfloat16_and_scalars(tmp_path: Path) -> None:
    payload = {"a": torch.tensor(1.5, dtype=torch.bfloat16), "b": [1, (2.5, None)], "c": "x"}
    save_checkpoint(tmp_path / "c.pt", payload)
    assert load_checkpoint(tmp_path / "c.pt")["b"] == [1, (2.5, None)]


def test_written_files_follow_the_umask_not_0600(tmp_path: Path) -> None:
    """Checkpoints, configs and metrics get 0666 & ~umask, as open() would give them."""
    import os
    import stat

    from trainlab.train.checkpoint import atomic_write_text

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "a.yaml", "x: 1\n")
        save_checkpoint(tmp_path / "c.pt", {"w": torch.ones(2)})
        os.umask(0o077)
        atomic_write_text(tmp_path / "b.csv", "x\n")
    finally:
        os.umask(old)
    mode = lambda p: stat.S_IMODE((tmp_path / p).stat().st_mode)  # noqa: E731
    assert mode("a.yaml") == 0o644 and mode("c.pt") == 0o644 and mode("b.csv") == 0o600
