"""Turn Ctrl-C (SIGINT) and SIGTERM into a polite stop request.

The first signal asks the loop to stop after the current step (it then saves a checkpoint
that resumes exactly); a second Ctrl-C interrupts at once (KeyboardInterrupt: checkpoint
writes are atomic, so an interrupted one leaves the previous file). `request_stop` receives
the signal's number (the command exits with 128 + it: 130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType


@contextlib.contextmanager
def stop_on_signals(request_stop: Callable[[int], None]) -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    hits = 0

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal hits
        hits += 1
        if hits > 1 and signum == signal.SIGINT:
            raise KeyboardInterrupt
        request_stop(signum)

    previous = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
