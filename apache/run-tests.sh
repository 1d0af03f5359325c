#!/usr/bin/env bash
# The README's test command: install everything on a fresh Debian 12 machine,
# then run the whole test suite (unit, conformance battery, end-to-end Apache).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${SECFILTER_VENV:-/opt/apache_secfilter/venv}
bash "$here/apache/install-deps.sh"
cd "$here"
"$venv/bin/ruff" check apache_secfilter tests
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
