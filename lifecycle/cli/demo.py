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
    from lifecycle import demo as demo_data
    from policy.calendar import today_paris

    day = parse_day(as_of, "--as-of") if as_of else today_paris()  # within the window: 0001-01-01 is a typo
    ledger()
    try:
        summary = demo_data.create(customers=customers, seed=seed, today=day)
    except (demo_data.DemoExists, ValueError) as error:
        fail(str(error), 2)
    typer.echo(summary)
