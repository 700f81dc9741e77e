"""How hard the fuzz tests in this folder try: a few hundred examples each in the
normal suite, thousands under ``MONITOR_FUZZ=nightly`` (see README, "Fuzzing").

    MONITOR_FUZZ=nightly python -m pytest -m fuzz          # the nightly run
    MONITOR_FUZZ_EXAMPLES=20000 python -m pytest -m fuzz   # any number per test

Every test module here is marked ``fuzz`` (``pytestmark``), so ``-m fuzz`` runs
only them and ``-m "not fuzz"`` leaves them out.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from hypothesis import HealthCheck, settings

NIGHTLY = os.environ.get("MONITOR_FUZZ", "").strip().lower() == "nightly"
#: Examples per test and run: a test may ask for fewer (a slow input) with ``scale``.
EXAMPLES = int(os.environ.get("MONITOR_FUZZ_EXAMPLES") or (5000 if NIGHTLY else 200))


def fuzz_settings(scale: float = 1.0) -> settings:
    """Settings for one fuzz test: ``scale`` times the run's example count, no deadline
    (a loaded CI machine makes any per-example deadline flaky), inputs as large as the
    mutations make them."""
    return settings(
        max_examples=max(10, int(EXAMPLES * scale)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much],
        print_blob=True,
    )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def logged_errors(logger: str) -> Iterator[list[logging.LogRecord]]:
    """The ERROR records ``logger`` (and its children) log inside the block.

    An entry point that "never raises" still crashes when it has to fall back on its
    last-resort ``except Exception`` (which logs the traceback): the fuzz tests count
    that as the crash it is."""
    handler = _Collect()
    log = logging.getLogger(logger)
    log.addHandler(handler)
    try:
        yield handler.records
    finally:
        log.removeHandler(handler)
