"""A full disk must not corrupt the registry or lose what was applied: a tiny tmpfs, filled up."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml


@pytest.fixture
def tiny_disk(tmp_path):
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)], capture_output=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def hooks(n: int, method: str = "POST") -> dict:
    return {
        "version": 1,
        "hooks": [
            {
                "name": f"h{i:03d}",
                "event_type": "ALL",
                "endpoint": f"https://h{i}.example.com/x",
                "http_method": method,
                "auth": {"type": "NONE"},
            }
            for i in range(n)
        ],
    }


def hookplan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "hookplan", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "NO_COLOR": "1"},
    )


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass  # the disk is full
    finally:
        os.close(fd)
    return filler


def test_full_disk_fails_cleanly_and_keeps_the_registry(tmp_path, tiny_disk):
    f = tmp_path / "hooks.yaml"
    f.write_text(yaml.safe_dump(hooks(5)))
    state = str(tiny_disk / "hookplan.db")
    assert hookplan("apply", "-f", str(f), "--state", state, "--auto-approve").returncode == 0

    filler = fill(tiny_disk)
    f.write_text(yaml.safe_dump(hooks(60, method="PUT")))
    result = hookplan("apply", "-f", str(f), "--state", state, "--auto-approve")
    assert result.returncode == 1
    assert "Traceback" not in result.stdout + result.stderr
    out = result.stdout + result.stderr
    assert "disk is full" in out or "disk full" in out, out

    filler.unlink()
    con = sqlite3.connect(state)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT COUNT(*) FROM hooks").fetchone()[0] >= 5
    con.close()
    assert hookplan("apply", "-f", str(f), "--state", state, "--auto-approve").returncode == 0
    assert hookplan("plan", "-f", str(f), "--state", state, "--detailed-exitcode").returncode == 0
