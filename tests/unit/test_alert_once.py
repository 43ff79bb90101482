"""One event, one ops alert: an automation's action run twice for the same event (a busy server's
redelivery) sends it once; another event (another run, another time) is sent."""

import asyncio


def test_the_same_alert_twice_is_sent_once_and_another_one_is_sent(tmp_path):
    from blocks.notifications import Notifications

    block = Notifications(outbox_dir=str(tmp_path))
    failed = "The run brave-fox of nightly-backup ended Failed at 2026-11-24 02:30:02 (Europe/Paris)."
    asyncio.run(block.notify(failed, "[lifecycle] nightly-backup: run brave-fox failed"))
    asyncio.run(block.notify(failed, "[lifecycle] nightly-backup: run brave-fox failed"))
    asyncio.run(block.notify(failed.replace("brave-fox", "calm-owl"), "[lifecycle] nightly-backup: run calm-owl failed"))
    sent = sorted(path.read_text() for path in tmp_path.glob("*.eml"))
    assert len(sent) == 2
    assert sum("brave-fox failed" in mail for mail in sent) == 1 and sum("calm-owl failed" in mail for mail in sent) == 1
