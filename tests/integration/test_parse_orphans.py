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


# A daemon's stop as Ctrl-C, `timeout` or systemd deliver it: to the whole process group.
GROUP_STOP = """
import os, signal, sys, threading, time
from monitor.poll.cycle import _parse_pool
stopped = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stopped.set())  # the daemon's own stop handler
pool = _parse_pool(1)
print(pool.submit(os.getpid).result(timeout=60), flush=True)
sys.stdin.readline()                       # the test has signalled the group
time.sleep(0.5)
# the worker got the signal too: it still parses, and the pool shuts down in order
print(pool.submit(sum, [1, 2, 3]).result(timeout=30), flush=True)
pool.shutdown(wait=True)
print("stopped" if stopped.is_set() else "not signalled", flush=True)
"""


def test_a_stop_of_the_process_group_lets_the_parent_shut_its_parse_pool() -> None:
    parent = subprocess.Popen([sys.executable, "-c", GROUP_STOP], cwd=ROOT, text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, start_new_session=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        assert parent.stdout is not None and parent.stdin is not None
        worker = int(parent.stdout.readline())
        os.killpg(parent.pid, signal.SIGTERM)
        parent.stdin.write("go\n")
        parent.stdin.flush()
        out, err = parent.communicate(timeout=60)
    finally:
        parent.kill()
    assert parent.returncode == 0, err
    assert out.split() == ["6", "stopped"], err
    assert "leaked" not in err and "BrokenProcessPool" not in err
    assert not _alive(worker)
