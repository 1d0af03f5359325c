#!/usr/bin/env bash
# The README's test command: install everything on a fresh Debian 12 machine,
# then run the whole test suite (unit, conformance battery, end-to-end Apache,
# and the Debian packages: built, lintian-clean, installed into a fresh
# debootstrap root; SECFILTER_PACKAGING_TESTS=0 skips those).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${SECFILTER_VENV:-/opt/apache_secfilter/venv}
bash "$here/apache/install-deps.sh"
bash "$here/tests/packaging/install-build-deps.sh"
export SECFILTER_PACKAGING_TESTS=${SECFILTER_PACKAGING_TESTS:-1}
cd "$here"
"$venv/bin/ruff" check apache_secfilter tests
exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "$@"
