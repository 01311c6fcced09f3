"""What each long-running process of the platform sets for itself once it has started."""

from __future__ import annotations

import gc

# Young collections every 50,000 new container objects (Python's default: 700), each older
# generation after 20 and 100 collections of the one before (default: 10 and 10).
GC_THRESHOLDS = (50_000, 20, 100)


def settle() -> None:
    """Tunes the garbage collector for a process that runs for long, once it has started.

    What exists now lives as long as the process: it is left out of the collector's sight
    (`gc.freeze`), so every full collection has that much less to walk. Collections then come
    rarer: a wall's broadcast keeps thousands of short-lived objects alive at once, and each
    collection that catches them promotes them, until a full collection (hundreds of ms with
    10,000 connections, pausing the event loop) finds nothing; the dispatcher, with the
    defaults, spent a sixth of its CPU in the collector, mostly in full collections that
    went through every long-lived object again."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
