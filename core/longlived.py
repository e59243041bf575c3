"""Long-lived objects kept out of the cyclic garbage collector's way.

A command or a Dagster code location imports dagster, dbt, dlt and pandas and builds its
definitions: some 300,000 objects that live as long as the process. Python's collector walks
all of them at every full collection, while they are made and after (about a second of a code
location's load, a second of each command's exit). `long_lived()` pauses the collector while
such objects are made, then freezes what is alive (`gc.freeze`: left out of every later
collection); objects made after it are collected as usual.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def long_lived() -> Iterator[None]:
    """No collection during the block; everything alive after it is frozen."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
