"""Prefect Blocks: the settings ops change while the system runs, editable in the Prefect UI."""
