"""E-reporting, on the 1st, 11th and 21st of each month: the figures of the customers outside domestic B2B
(foreign businesses, private persons) go to the tax administration through the vendor's approved platform.

Their invoices are mailed, not deposited; the reform still wants their transactions every ten days and their
payments every month (policy/ereporting.py). Each run sends every period ended lately that was not sent yet,
one flow per period and processing rule, each once (operations/einvoicing_payments.py does it; this flow shows
it). Without a platform set, nothing is sent and the run says so.
"""

from __future__ import annotations

from typing import Optional

from prefect import flow
from prefect.artifacts import create_table_artifact

from operations.einvoicing_payments import checked_period, report_due, report_period
from tasks.runtime import actor, check_month_window, flow_run_id, refusals_fail_quietly
from tasks.settings import load_run_settings
from policy.text import markdown_cells


@flow(name="e-reporting", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def e_reporting(period: Optional[str] = None) -> dict:
    """Deposit the e-reporting of the periods ended lately (or of `period`), once each.

    Args:
        period: one period, YYYY-MM-D1, -D2, -D3 (a decade's transactions) or YYYY-MM (a month's payments);
            empty means every period ended in the last 45 days not sent yet.
    """
    asked = checked_period(period) if period else None      # as --period: its form, before any setting is read
    settings = load_run_settings("e-reporting")
    if asked is not None:
        check_month_window(settings.terms, asked.name[:7], name="period")   # 0001-01 is a typo, not a period
    if period:
        done = report_period(settings, period, actor=actor(), flow_run_id=flow_run_id())
    else:
        done = report_due(settings, actor=actor(), flow_run_id=flow_run_id())
    nothing = [{"period": ", ".join(done.periods), "rule": None, "note": done.skipped or "nothing to report"}]
    create_table_artifact(markdown_cells(done.reports) or markdown_cells(nothing),
                          key="e-reporting", description="E-reporting flows deposited on the platform (B2BInt: "
                                                         "foreign businesses, B2C: private persons)")
    print(done.line())
    for line in done.waiting + done.refused:
        print(f"  {line}")
    return done.summary()
