#!/usr/bin/env bash
# Everything the test suite needs on a fresh machine: the project with its dev extras, LibreOffice
# (Debian's libreoffice-calc), which recalculates the finance workbook as a user's spreadsheet would, and
# faketime, with which .ci/run sets the machine's clock to the calendar days the date-sensitive tests must
# pass on, poppler-utils, whose pdftotext reads an invoice PDF as a customer's reader would, and gcc, with
# which .ci/run builds its faketime companion (.ci/faketime_waits.c). PostgreSQL is the machine's own
# (127.0.0.1:5432).
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v soffice >/dev/null 2>&1 || missing+=(libreoffice-calc)
command -v faketime >/dev/null 2>&1 || missing+=(faketime)
command -v pdftotext >/dev/null 2>&1 || missing+=(poppler-utils)
command -v gcc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing ${missing[*]} (LibreOffice Calc takes about 90 s)..." >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" --no-install-recommends >/dev/null
fi
pip install -q -e '.[dev]'
