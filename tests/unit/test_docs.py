"""The repository documents itself: nothing it holds points outside it, and every link in its docs lands.

A clone has no folder of specifications beside it: what once lived outside the repository is now docs/
(the policy, the CLI, the file formats, the runbook). A reference to a file a clone lacks sends a
reader, or a test, nowhere; so does a relative link to a page that was moved or renamed, or to a
heading that no longer exists. Both are checked here, on the files git tracks (or, outside a git
checkout, on the tree), with no server and no network.
"""

import re
import subprocess
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: what points outside the repository: the old specification's folder and its two files (spelled in
#: pieces, so this file does not name them itself)
OUTSIDE = ("../" + "shared", "/work/" + "shared", "DESIGN" + ".md", "INTERFACES" + ".md")

#: markdown links and images `[text](target)`, `![alt](target "title")`; not reference-style links
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
FENCE = re.compile(r"^\s*(```|~~~)")


def tracked_files() -> list[Path]:
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60)
        names = [name for name in listed.stdout.decode().split("\0") if name]
    except (OSError, subprocess.CalledProcessError):  # an unpacked release: every file of the tree
        names = [str(path.relative_to(ROOT)) for path in ROOT.rglob("*") if path.is_file()
                 and not any(part.startswith(".") or part in ("__pycache__", "node_modules") for part in
                             path.relative_to(ROOT).parts)]
    return [ROOT / name for name in names if (ROOT / name).is_file()]


def text_of(path: Path) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192]:
        return None  # binary
    return data.decode("utf-8", errors="replace")


def markdown_pages() -> list[Path]:
    return sorted((ROOT / "docs").rglob("*.md")) + [ROOT / "README.md"]


def outside_code(markdown: str) -> str:
    """The page without its fenced code blocks and inline code: links there are examples, not links."""
    kept, fenced = [], False
    for line in markdown.splitlines():
        if FENCE.match(line):
            fenced = not fenced
            kept.append("")
            continue
        kept.append("" if fenced else re.sub(r"`[^`]*`", "``", line))
    return "\n".join(kept)


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, markup and punctuation dropped, spaces to dashes."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    text = text.replace("`", "").replace("*", "").strip().lower()
    text = "".join(char for char in text
                   if char in " -_" or unicodedata.category(char)[0] in ("L", "N"))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found, seen, fenced = set(), {}, False
    for line in page.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            base = slug(match.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def test_no_tracked_file_points_outside_the_repository():
    offenders = []
    for path in tracked_files():
        text = text_of(path)
        if text is None:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            for needle in OUTSIDE:
                if needle in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {needle!r} in {line.strip()[:100]!r}")
    assert not offenders, "references to files a clone does not have (point to docs/ instead):\n" + "\n".join(offenders)


def test_the_documentation_exists_where_the_readme_says():
    for page in ("index.md", "tutorial.md", "reference/cli.md", "reference/import-formats.md",
                 "reference/configuration.md", "reference/deployments.md", "reference/policy.md",
                 "operations/runbook.md", "explanation/architecture.md", "explanation/design-decisions.md"):
        assert (ROOT / "docs" / page).is_file(), f"docs/{page} is missing"
    assert list((ROOT / "docs" / "how-to").glob("*.md")), "docs/how-to/ has no guide"


@pytest.mark.parametrize("page", markdown_pages(), ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_resolves_to_a_file_of_the_repository(page: Path):
    broken = []
    for target in LINK.findall(outside_code(page.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # https:, mailto: ... : not a file of the repository
        path_part, _, anchor = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.is_relative_to(ROOT):
            broken.append(f"{target}: outside the repository")
        elif not destination.is_file():
            broken.append(f"{target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{target}: no heading #{anchor} in {destination.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}:\n" + "\n".join(broken)
