"""A web worker keeps what survived its first requests out of Python's full collections
(settlement_ops.heap), and still frees a cycle that became garbage after it was frozen."""

import gc
import itertools
import weakref

import pytest
from django.core.signals import request_finished

from settlement_ops import heap

pytestmark = pytest.mark.django_db


class _Node:
    pass


@pytest.fixture
def worker(monkeypatch):
    """The test process as a worker that has served `start` requests; everything unfrozen after."""

    def serve_from(start: int):
        monkeypatch.setattr(heap, "_served", itertools.count(start))

    gc.unfreeze()
    request_finished.connect(heap._after_request, dispatch_uid="test-heap")
    yield serve_from
    request_finished.disconnect(dispatch_uid="test-heap")
    gc.unfreeze()


def test_what_survives_the_first_requests_is_frozen_after_the_response(client, worker):
    worker(min(heap.FREEZE_AFTER) - 1)
    assert client.get("/accounts/login/").status_code == 200
    assert gc.get_freeze_count() == 0
    assert client.get("/accounts/login/").status_code == 200
    assert gc.get_freeze_count() > 0


def test_a_frozen_cycle_that_became_garbage_is_freed_at_the_periodic_release(client, worker):
    node = _Node()
    node.me = node  # a reference cycle: only the cyclic collector frees it
    alive = weakref.ref(node)
    heap.freeze_survivors()
    del node
    gc.collect()
    assert alive() is not None  # frozen: out of the collector's reach
    worker(heap.REFREEZE_EVERY)
    client.get("/accounts/login/")
    assert alive() is None
    assert gc.get_freeze_count() > 0


def test_a_requests_garbage_is_collected_not_frozen(client, worker):
    gc.collect()
    node = _Node()
    node.me = node
    alive = weakref.ref(node)
    del node  # garbage in the young generation, as a request leaves it
    worker(min(heap.FREEZE_AFTER))
    client.get("/accounts/login/")  # the 50th request: a young collection, then the freeze
    assert gc.get_freeze_count() > 0
    assert alive() is None
