#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine: the project with its dev extras, and
# LibreOffice (Debian's libreoffice-calc), which recalculates the finance workbook as a user's
# spreadsheet would. PostgreSQL is the machine's own (127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v soffice >/dev/null 2>&1; then
    echo "installing LibreOffice Calc (about 90 s)..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc --no-install-recommends >/dev/null
fi
pip install -q -e '.[dev]'
