#!/usr/bin/env bash
# The README's run command: install what is missing (Apache 2.4, mod_python,
# mod_php, php-fpm, mod_wsgi, a virtual environment holding apache_secfilter
# under /opt/apache_secfilter/venv), then serve the article's demo on
# http://127.0.0.1:8080/ in the foreground until Ctrl-C.
#
# Extra arguments go to `secfilter serve`, e.g.
#   bash apache/run-demo.sh --port 8081
#   bash apache/run-demo.sh --adapter mod_wsgi
# The system's own Apache is neither touched nor started.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
venv=${SECFILTER_VENV:-/opt/apache_secfilter/venv}
bash "$here/apache/install-deps.sh"
exec "$venv/bin/secfilter" serve --demo "$@"
