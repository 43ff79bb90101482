"""The cancellation's Prefect tasks: each step of operations/cancellation.py as a task run of its flow (no
cache: each run reads the ledger as it is), so a run shows the letter, the services ended and the
statements sent apart."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from operations.cancellation import end_services, keep_final_backup, record_letter, send_statements

record_letter_task = task(record_letter, name="record-cancellation-letter", cache_policy=NO_CACHE,
                          persist_result=False)
end_services_task = task(end_services, name="end-services", cache_policy=NO_CACHE, persist_result=False)
keep_final_backup_task = task(keep_final_backup, name="keep-final-backup", cache_policy=NO_CACHE,
                              persist_result=False)
send_statements_task = task(send_statements, name="send-final-statements", cache_policy=NO_CACHE,
                            persist_result=False)
