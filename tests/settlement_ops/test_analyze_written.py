"""The statistics refresh after a bulk write leaves a table that autovacuum is working on: waiting
for its lock would cancel the autovacuum task after deadlock_timeout, a second lost each time."""

import threading

import pytest
from django.db import OperationalError, connection, transaction

from settlement_ops.db import analyze_written

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def charge_lines_held():
    """Another session holds the lock autovacuum (or a manual VACUUM/ANALYZE) takes on the table."""
    locked, release = threading.Event(), threading.Event()

    def hold():
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("LOCK TABLE billing_chargeline IN SHARE UPDATE EXCLUSIVE MODE")
            locked.set()
            release.wait(60)
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(30)
    with connection.cursor() as cursor:
        cursor.execute("SET lock_timeout = '2s'")  # a wait for the lock fails instead of hanging
    try:
        yield
    finally:
        release.set()
        holder.join(60)
        with connection.cursor() as cursor:
            cursor.execute("RESET lock_timeout")


def test_a_held_table_is_left_and_the_others_analyzed(charge_lines_held):
    # when a run's statistics are refreshed while the charge lines are held: no wait, no error
    analyze_written("billing_chargeline (shipment_id, run_id), billing_chargelinetotal")
    # (the control: a plain ANALYZE of the held table waits for the lock, here until lock_timeout)
    with pytest.raises(OperationalError, match="lock timeout"), connection.cursor() as cursor:
        cursor.execute("ANALYZE billing_chargeline (shipment_id)")
