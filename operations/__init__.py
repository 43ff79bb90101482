"""The product's use cases, one module each: what a close, a sweep, a backup, a cancellation... does.

An operation's public function does the whole of it over the ledger, the rules (policy), the settings
(blocks) and the reports, in plain Python, and returns one typed result; it refuses what it cannot do with
a `policy.refusals.Refusal`. It knows nothing of Prefect: the task in `tasks/` beside it is a thin wrapper
that gives it a run's logger and retries, and the flow in `flows/` calls the tasks and builds artifacts.
So the command line's `import` and `show`, the tests and the benchmarks use an operation without a server.

The layers (checked by tests/unit/test_layers.py): flows -> tasks -> operations -> ledger | blocks | reports
-> policy -> lifecycle_config."""


def _store_owner():
    from operations.store_owner import this_installation

    return this_installation()


def _own_the_stores() -> None:
    """Every store a block gives this process names the ledger's installation before its first write
    (blocks.storage._Owned.claim, operations.store_owner)."""
    import lifecycle_config

    lifecycle_config.store_owner = _store_owner


_own_the_stores()
