"""A parse process ends when the daemon that started it is killed (kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Starts the daemon's parse pool, runs one parse in it, prints the worker's pid, waits.
SCRIPT = """
import os, sys, time
from monitor.poll.cycle import _parse_pool
pool = _parse_pool(1)
print(pool.submit(os.getpid).result(timeout=60), flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is gone for our purpose
        return f.read().rsplit(")", 1)[1].split()[0] != "Z"


def test_the_parse_process_ends_when_its_daemon_is_killed() -> None:
    parent = subprocess.Popen([sys.executable, "-c", SCRIPT], cwd=ROOT, text=True,
                              stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        assert worker != parent.pid and _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        deadline = time.monotonic() + 15
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker), "the parse process outlived its killed daemon"
    finally:
        parent.kill()
