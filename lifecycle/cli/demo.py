"""`lifecycle demo`: the demo platform database and a demo ledger. No Prefect."""

from __future__ import annotations

from typing import Optional

import typer

from lifecycle.cli.common import fail, ledger, parse_day, whole_number


def demo(
    customers: int = typer.Option(50, parser=whole_number("--customers", minimum=1, maximum=100_000),
                                  help="How many demo customers."),
    seed: int = typer.Option(7, parser=whole_number("--seed", minimum=0, maximum=2**63 - 1),
                             help="Random seed: the same seed gives the same data."),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="The demo's today (YYYY-MM-DD); default today in Paris."),
) -> None:
    """Create the demo platform database and demo ledger in LIFECYCLE_HOME."""
    from ledger.imports import ImportRejected
    from lifecycle import demo as demo_data
    from policy.calendar import today_paris

    day = parse_day(as_of, "--as-of") if as_of else today_paris()  # within the window: 0001-01-01 is a typo
    try:
        demo_data.check_day(day)  # before the ledger is made: a refused day leaves the home as it was
    except demo_data.DemoRefused as error:
        fail(str(error), 2)
    ledger()
    try:
        summary = demo_data.create(customers=customers, seed=seed, today=day)
    except (demo_data.DemoExists, demo_data.DemoRefused) as error:
        fail(str(error), 2)
    except ImportRejected as rejected:  # a bug of the demo's data: say which rows, not only how many
        more = f" (and {rejected.total - 5} more)" if rejected.total > 5 else ""
        fail(f"the demo's own files were refused (a bug of the demo): {'; '.join(rejected.errors[:5])}{more}", 1)
    except ValueError as error:
        fail(str(error), 2)
    typer.echo(summary)
