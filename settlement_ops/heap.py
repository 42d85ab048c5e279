"""Cyclic garbage collection in a long-running web worker.

A warmed worker holds about 280,000 objects that live as long as it does: modules, URL patterns,
compiled templates, serializer fields, the cached API schema. Python's full collection walks all
of them, about 100 ms here, and a busy worker ran one every 40 or so requests: the requests
queued behind it waited that long. Objects that have survived a worker's first requests are
moved out of the collector's reach (`gc.freeze`); only what was made since is walked.
"""

import gc
import itertools
import threading

from django.core.signals import request_finished

# After these many requests, freeze what survived: most of a worker's lasting objects are made by
# its first requests of each page (templates, caches), so the steps are spaced out geometrically.
FREEZE_AFTER = frozenset({50, 200, 1_000, 5_000})
# Then now and then release the frozen objects and collect them all, so that a cycle that became
# garbage after it was frozen is still freed (once in a worker's 20,000 requests: ~0.1 s).
REFREEZE_EVERY = 20_000

_served = itertools.count(1)
_lock = threading.Lock()


def freeze_survivors(*, release: bool = False) -> None:
    """Keep every object alive now out of later collections. The young generations are collected
    first (a millisecond or two), so a request's own garbage is not frozen; garbage that had
    already reached the old generation is, until the next release. `release` first returns the
    frozen objects to the collector and collects everything (a full collection)."""
    with _lock:
        if release:
            gc.unfreeze()
            gc.collect()
        else:
            gc.collect(1)
        gc.freeze()


def _after_request(**kwargs) -> None:
    served = next(_served)
    if served in FREEZE_AFTER:
        freeze_survivors()
    elif served % REFREEZE_EVERY == 0:
        freeze_survivors(release=True)


def keep_full_collections_short() -> None:
    """For a WSGI worker once its application is loaded: freeze what the imports made, and what
    survives its first requests as they come (after each response is sent)."""
    freeze_survivors(release=True)  # nothing waits yet: collect everything first
    request_finished.connect(_after_request, dispatch_uid="settlement_ops.heap")
