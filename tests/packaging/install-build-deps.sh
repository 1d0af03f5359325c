#!/usr/bin/env bash
# Install what building, lint-checking and install-testing the Debian
# packages needs (Debian 12): the Build-Depends of debian/control, lintian
# and debootstrap. Does nothing when all of it is installed; needs root
# otherwise. No service is started.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
packages=(build-essential dpkg-dev debhelper dh-python apache2-dev python3-all
          python3-setuptools python3-sphinx python3-myst-parser python3-pytest
          python3-pyparsing python3-yaml python3-regex python3-ahocorasick lintian debootstrap)

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
[ "$(id -u)" = 0 ] || { echo "install-build-deps: run as root to install: ${missing[*]}" >&2; exit 1; }
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-build-deps: installed ${missing[*]}"
