"""Finance's monthly workbook of billable interventions: written after the close, downloadable from the UI.

The link artifact is what finance clicks; the table artifact previews the Summary sheet so a run
explains itself without opening Excel.
"""

from __future__ import annotations

from typing import Optional

from prefect import flow
from prefect.artifacts import create_link_artifact, create_markdown_artifact, create_table_artifact

from operations.export import download_link
from tasks.export import export_task
from operations.close import previous_month
from tasks.runtime import (check_month_form, DateRefused, business_date, check_month_window, flow_run_id,
                           refusals_fail_quietly)
from tasks.settings import load_run_settings
from policy.calendar import today_paris, unbegun_month_problem
from policy.text import markdown_cells


@flow(name="billable-export", log_prints=True, persist_result=True, result_serializer="json")
@refusals_fail_quietly
def billable_export(month: Optional[str] = None) -> dict:
    """Write the month's billable-interventions workbook (Synthèse, Interventions, Factures, Avoirs,
    Crédits clients, À propos; in English with `workbook_language: en`) to object
    storage under exports/YYYY/MM/, as a new version only when its content changed.

    Args:
        month: the month, YYYY-MM; empty means the month before the run's scheduled day.
    """
    check_month_form(month)  # as the CLI's options
    month = month or previous_month(business_date(None))
    settings = load_run_settings("billable-export")
    check_month_window(settings.terms, month)  # as --month: 9999-12 or 0000-01 is one line, never a traceback
    problem = unbegun_month_problem(month, today_paris())
    if problem:  # a workbook of a month to come is empty: a typo, never a file for finance
        raise DateRefused(f"{problem}: nothing to export")
    result = export_task(month, settings.storage, settings.terms, flow_run_id=flow_run_id())
    link = download_link(settings.storage, result.key)
    create_link_artifact(link, link_text=result.key.rsplit("/", 1)[-1], key="billable-export",
                         description=f"Billable interventions {month}" + ("" if result.new else " (unchanged)"))
    preview = [{key: (str(value) if value is not None else "") for key, value in row.items()}
               for row in result.customers[:100]]
    create_table_artifact(markdown_cells(preview) or [{"customer_id": "", "name": f"nothing billable in {month}"}],
                          key="billable-export-summary", description=f"Summary of {month} (first 100 customers)")
    if result.rewritten:
        create_markdown_artifact(f"The {month} workbook is unchanged since version {result.version}, but its file was "
                                 f"missing from storage: it was written again under the same name.",
                                 key="billable-export-note")
    elif not result.new:
        create_markdown_artifact(f"The {month} workbook is unchanged since version {result.version}: "
                                 f"no new file was written.", key="billable-export-note")
    done = result.exported(link, settings.storage.resolved_url())
    print(f"{month}: {result.key} ({done.state()}, {result.rows} rows) {link}")
    return done.summary()
