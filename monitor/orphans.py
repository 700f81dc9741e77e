"""Helper processes that end with the process that started them.

A parse process of the daemon (a ProcessPoolExecutor worker) waits on its job queue;
when the daemon is killed (``kill -9``, the OOM killer) nothing tells it, and each
crash left one idle worker of ~40 MB behind for good. Imported by the worker alone:
nothing heavy here.
"""

from __future__ import annotations

import os
import signal
import threading
import time

#: How often a helper process checks that its parent is still there, in seconds.
CHECK_S = 1.0


def pool_worker(parent_pid: int) -> None:
    """Initializer of a pool the parent shuts down itself (the parse processes).

    Ctrl-C, ``timeout`` and a systemd stop signal the whole process group. A worker
    that died of it mid-job broke the pool under the parent's orderly stop, which then
    ended without releasing the pool's semaphores ("resource_tracker: There appear to
    be 5 leaked semaphore objects"). It ignores both signals: the parent's shutdown
    ends it after its job, and ``exit_with_parent`` when the parent is gone.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    exit_with_parent(parent_pid)


def exit_with_parent(parent_pid: int) -> None:
    """Worker initializer: a thread that ends this process once ``parent_pid`` is no
    longer its parent (the parent died and the process was re-parented)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(CHECK_S)
        os._exit(0)  # no cleanup to run: the parent that wanted our results is gone

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
