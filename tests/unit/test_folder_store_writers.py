"""Two writers of one object at once in a folder store (two redeposits rendering the same document, CI found it):
both wrote through one `.partial` name, the first renamed it into place, and the second's rename failed (the
folder said to be unavailable, the redeposit lost). Each writer writes its own whole copy; the last rename wins,
and no half object nor leftover `.partial` is ever seen."""

from __future__ import annotations

import io
import threading

from blocks.storage import FolderStore


class Held(io.RawIOBase):
    """A stream that gives its bytes only once every writer has begun (each has its partial file open)."""

    def __init__(self, data: bytes, together: threading.Barrier):
        self.data, self.together, self.given = data, together, False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.given:
            return 0
        self.together.wait(timeout=30)
        self.given = True
        buffer[:len(self.data)] = self.data
        return len(self.data)


def test_two_writers_of_one_object_at_once_both_succeed_and_one_whole_copy_is_kept(tmp_path):
    store = FolderStore(tmp_path)
    together = threading.Barrier(2)
    copies = [b"A" * 200_000, b"B" * 200_000]
    errors: list = []

    def write(data: bytes) -> None:
        try:
            store.put_stream("invoices/2026/11/2026-000001-r1.pdf", Held(data, together))
        except Exception as error:  # noqa: BLE001 - the test says which
            errors.append(error)

    writers = [threading.Thread(target=write, args=(data,)) for data in copies]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=60)
    assert errors == []
    kept = (tmp_path / "invoices/2026/11/2026-000001-r1.pdf").read_bytes()
    assert kept in copies
    assert [path.name for path in (tmp_path / "invoices/2026/11").iterdir()] == ["2026-000001-r1.pdf"]
