"""Parse jobs for the worker-process tests, in a module that imports nothing else.

A spawned worker imports the module of the function it is sent; kept here rather than
in a test module, each new worker starts without importing the CLI, the parsers and
the test helpers first.
"""

from __future__ import annotations

import time


def hog(megabytes: int) -> int:
    """A parse that needs ``megabytes`` of memory at once."""
    return len(bytearray(megabytes * 1024 * 1024))


def nap(seconds: float) -> float:
    """A parse stuck in a blocking call the in-process watchdog cannot interrupt."""
    time.sleep(seconds)
    return seconds
