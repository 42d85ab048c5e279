"""The statistics refresh after a bulk write leaves a table that autovacuum is working on: waiting
for its lock would cancel the autovacuum task after deadlock_timeout, a second lost each time. The
freight audit's refresh is the exception: its one statement is planned on those statistics."""

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


def test_a_sampled_refresh_takes_the_new_rows_in_at_a_smaller_target_and_leaves_the_setting():
    # given 2,000 rows of one run in a table the planner has statistics for, then 8,000 of a new one
    from settlement_ops.db import WRITTEN_SAMPLE_TARGET

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE sampled_lines (run_id int, shipment_id int)")
        try:
            cursor.execute("INSERT INTO sampled_lines SELECT 1, g FROM generate_series(1, 2000) g")
            cursor.execute("ANALYZE sampled_lines")
            cursor.execute("INSERT INTO sampled_lines SELECT 2, g FROM generate_series(2001, 10000) g")
            # when the writer refreshes at the written-sample target
            analyze_written("sampled_lines (run_id, shipment_id)", sample=WRITTEN_SAMPLE_TARGET)
            # then the new run is in the statistics, with a histogram of that target's size
            cursor.execute(
                "SELECT attname, most_common_vals::text, most_common_freqs, cardinality(histogram_bounds::text::int[])"
                " FROM pg_stats WHERE tablename = 'sampled_lines' ORDER BY attname"
            )
            run_id, shipment_id = cursor.fetchall()
            assert run_id[1] == "{2,1}" and [round(f, 1) for f in run_id[2]] == [0.8, 0.2]
            assert shipment_id[3] == WRITTEN_SAMPLE_TARGET + 1
            # and the session keeps the server's target for everything after
            cursor.execute("SHOW default_statistics_target")
            assert cursor.fetchone()[0] == "100"
            # as does a caller's transaction that set its own
            with transaction.atomic():
                cursor.execute("SET LOCAL default_statistics_target = 250")
                analyze_written("sampled_lines (run_id)", sample=WRITTEN_SAMPLE_TARGET)
                cursor.execute("SHOW default_statistics_target")
                assert cursor.fetchone()[0] == "250"
        finally:
            cursor.execute("DROP TABLE sampled_lines")


def test_the_freight_audit_waits_for_a_held_line_table_and_is_planned_on_fresh_statistics(monkeypatch):
    """Planned on statistics from before its lines were written, the audit joins each line to the
    whole invoice (it ran 30 minutes on 200,000 lines once, where it takes 3 s): its refresh waits
    for the lock that autovacuum, set off by those very lines, holds."""
    from billing.payables.services import audit
    from tests.payables.helpers import line, rated, setup_vendor, upload

    # given an imported invoice (in review: one line is unknown) whose lines came in after the line
    # table's last statistics
    monkeypatch.setattr(audit, "ANALYZE_AFTER_LINES", 10**9)  # the import's own audit leaves them out
    vendor, rate_line, specialist = setup_vendor()
    rows = [
        line(rated(vendor, rate_line, tracking=f"TRK-HELD-{n}").shipment.tracking_number, "4.50", "0.45")
        for n in range(2)
    ]
    invoice = upload(vendor, specialist, [*rows, line("UNKNOWN-HELD", "3.00")]).invoice
    monkeypatch.setattr(audit, "ANALYZE_AFTER_LINES", 1)
    locked, release, analyzed = threading.Event(), threading.Event(), []

    def hold():  # as autovacuum holds it
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("LOCK TABLE payables_vendorinvoiceline IN SHARE UPDATE EXCLUSIVE MODE")
            locked.set()
            release.wait(60)
            analyzed.append(_invoice_in_statistics(cursor, invoice.pk))
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(30)
    timer = threading.Timer(1.0, release.set)
    timer.start()
    try:
        # when the invoice is audited again while the table is held
        audited = audit.invoice_audit(invoice_id=invoice.pk)
        # then the audit waited for the lock (it returned after the release) and its refresh took the
        # invoice's lines into the statistics, which they were not in while the table was held
        assert release.is_set()
        holder.join(30)
        with connection.cursor() as cursor:
            assert analyzed == [False] and _invoice_in_statistics(cursor, invoice.pk)
        assert audited.status == "in_review" and (audited.line_count, audited.pending_count) == (3, 1)
    finally:
        release.set()
        timer.cancel()
        holder.join(30)


def _invoice_in_statistics(cursor, invoice_id: int) -> bool:
    cursor.execute(
        "SELECT COALESCE(%s::text = ANY(most_common_vals::text::text[]), FALSE) FROM pg_stats "
        "WHERE tablename = 'payables_vendorinvoiceline' AND attname = 'invoice_id'",
        [invoice_id],
    )
    row = cursor.fetchone()
    return bool(row and row[0])


def _audit_plan_joins_lines_in_a_loop(invoice, settings) -> bool:
    """Whether the audit statement, planned under `settings`, joins the invoice's lines to the
    audited rows in a nested loop (each line against the whole audited invoice)."""
    import json

    from billing.payables.services import audit

    params = {"invoice": invoice.pk, "vendor": invoice.vendor_id, "tol_amount": 0, "tol_percent": 0, "tol_weight": 0}
    params["earlier"] = [invoice.pk - 1]
    with transaction.atomic(), connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(setting)
        cursor.execute("EXPLAIN (FORMAT JSON) " + audit.AUDIT_SQL, params)
        plan = cursor.fetchone()[0]
    plan = plan if isinstance(plan, list) else json.loads(plan)

    def loops(node) -> bool:
        if node.get("Node Type") == "Nested Loop" and "line_id" in node.get("Join Filter", ""):
            return True
        return any(loops(child) for child in node.get("Plans", []))

    return loops(plan[0]["Plan"])


def test_the_freight_audit_is_planned_without_the_line_by_line_loop_on_stale_statistics(monkeypatch):
    """When the refresh cannot run (an app role that does not own the table gets a warning, and
    skips it), the audit is planned on statistics that do not hold the invoice's lines: one line
    estimated. Its settings keep the planner from joining each line to the whole invoice."""
    from billing.payables.services import audit
    from tests.payables.helpers import line, rated, setup_vendor, upload

    monkeypatch.setattr(audit, "ANALYZE_AFTER_LINES", 10**9)  # no refresh, as for a non-owner role
    vendor, rate_line, specialist = setup_vendor()
    earlier = [line(rated(vendor, rate_line).shipment.tracking_number, "4.50", "0.45") for _ in range(3)]
    upload(vendor, specialist, earlier, number="INV-EARLIER")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE payables_vendorinvoiceline")  # statistics from before the new invoice
    rows = [line(f"UNKNOWN-{n}", "3.00") for n in range(40)]
    invoice = upload(vendor, specialist, rows, number="INV-NEW").invoice

    assert not _audit_plan_joins_lines_in_a_loop(invoice, audit.AUDIT_SETTINGS)
    # the control: without the nested-loop setting the planner picks that loop here
    without = [setting for setting in audit.AUDIT_SETTINGS if "enable_nestloop" not in setting]
    assert _audit_plan_joins_lines_in_a_loop(invoice, without)
    # and the audit itself flags the new invoice's lines
    assert invoice.status == "in_review" and invoice.pending_count == 40
