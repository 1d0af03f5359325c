#!/usr/bin/env bash
# Install what apache_secfilter needs on a Debian 12 machine: Apache 2.4 with
# mod_python, mod_wsgi, mod_php and php-fpm, Debian's Python libraries (with Sphinx
# and MyST for the documentation build the tests run), and a
# virtual environment made from Debian's /usr/bin/python3 holding the package.
#
# The virtual environment lives where Apache's children (running as www-data)
# can read it: $SECFILTER_VENV, /opt/apache_secfilter/venv by default.
# Installing the packages never starts the system's own Apache or php-fpm.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
venv=${SECFILTER_VENV:-/opt/apache_secfilter/venv}
packages=(apache2 libapache2-mod-python libapache2-mod-wsgi-py3 libapache2-mod-php
          php-cli php-fpm python3-venv python3-regex python3-pyparsing python3-yaml
          python3-ahocorasick python3-sphinx python3-myst-parser curl ca-certificates)

# shellcheck source=apt-quietly.sh
. "$here/apache/apt-quietly.sh"
mapfile -t missing < <(missing_packages "${packages[@]}")
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" = 0 ] || { echo "install-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
    apt_install_quietly "${missing[@]}"
fi

if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    /usr/bin/python3 -m venv --system-site-packages "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade "$here[test]" 2>&1 \
    | grep -v "^WARNING: Location" || true
"$venv/bin/python" -c "import apache_secfilter" || { echo "install-deps: package did not install" >&2; exit 1; }
chmod -R a+rX "$venv"
echo "install-deps: ready ($venv)"
