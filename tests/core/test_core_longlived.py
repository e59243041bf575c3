"""`core.longlived`: the collector paused while long-lived objects are made, those frozen after."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from core.longlived import long_lived


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if enabled:
        gc.enable()
    else:
        gc.disable()


def test_no_collection_inside_and_what_was_made_is_frozen_after() -> None:
    gc.enable()
    gc.unfreeze()
    with long_lived():
        assert not gc.isenabled()
        made = [[i] for i in range(1000)]  # tracked objects
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(made)
    assert all(not any(o is m for o in gc.get_objects()) for m in made[:3])  # not in a generation


def test_a_paused_collector_stays_paused_even_after_an_error() -> None:
    gc.disable()
    with pytest.raises(RuntimeError), long_lived():
        raise RuntimeError("while loading")
    assert not gc.isenabled()
    assert gc.get_freeze_count() > 0
