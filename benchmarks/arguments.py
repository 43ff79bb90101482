"""The benchmarks' command-line values, checked by argparse (one line and exit 2 for a mistake, never a
traceback nor a run that starts on a nonsense value): whole numbers within bounds, finite sizes, an output
folder that is not a file."""

from __future__ import annotations

import argparse
import math
from pathlib import Path


def whole(minimum: int, maximum: int = 10**9):
    """A whole number of digits 0-9 (a sign allowed) from `minimum` to `maximum`."""
    def parse(text: str) -> int:
        digits = text.strip()
        if not digits.lstrip("+-").isascii() or not digits.lstrip("+-").isdigit() or len(digits) > 12:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        value = int(digits)
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{value} is out of range: a whole number from {minimum} to {maximum}")
        return value
    return parse


def size(maximum: float):
    """A finite number above 0 and at most `maximum` (a size in MB)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not 0 < value <= maximum:
            raise argparse.ArgumentTypeError(f"{text} is out of range: a number above 0 and at most {maximum:g}")
        return value
    return parse


def seconds(maximum: float):
    """A finite number of seconds from 0 to `maximum` (a wait)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or not 0 <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{text} is out of range: a number of seconds from 0 to {maximum:g}")
        return value
    return parse


def folder(text: str) -> Path:
    """An output folder: made when missing; a file (or a path under one) is refused."""
    path = Path(text)
    for place in (path, *path.parents):
        if place.exists():
            if not place.is_dir():
                raise argparse.ArgumentTypeError(f"{str(place)!r} is a file, not a folder: name a folder")
            break
    return path
