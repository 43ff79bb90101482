"""The morning's cancellation steps (operations/cancellation.py) as task runs of the `cancellations` flow (no
cache: each run reads the ledger as it is), so a run shows the services ended, the final backups named and
the statements sent apart. The letter (`record_letter`), like the credit note and the refund
(operations/corrections.py), is called by its flow directly: what it refuses is the run's one line, where a
failed task run would add Prefect's own line on the terminal."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from operations.cancellation import end_services, keep_final_backup, send_statements

end_services_task = task(end_services, name="end-services", cache_policy=NO_CACHE, persist_result=False)
keep_final_backup_task = task(keep_final_backup, name="keep-final-backup", cache_policy=NO_CACHE,
                              persist_result=False)
send_statements_task = task(send_statements, name="send-final-statements", cache_policy=NO_CACHE,
                            persist_result=False)
