#!/usr/bin/env bash
# Build the Debian packages (dpkg-buildpackage -us -uc -b) from a copy of the
# source tree, so that the working tree gets no debian/.debhelper, .pybuild
# or build output, and put the .deb, .changes and .buildinfo files in OUTDIR.
#
#   tests/packaging/build-debs.sh [OUTDIR]      # default: dist/deb
#
# dpkg-buildpackage's output is kept in OUTDIR/build.log.
# DEB_BUILD_OPTIONS is passed on (nocheck skips the unit tests in the build).
set -euo pipefail
# Debian's own tools and interpreter only (not a python3 of pyenv or a venv).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$here/dist/deb}
mkdir -p "$out"
out=$(cd "$out" && pwd)

work=$(mktemp -d /tmp/secfilter-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/apache-secfilter"
# Everything but local state: virtual environments, caches, build output.
tar -C "$here" -cf - \
    --exclude=./.git --exclude=./.venv --exclude=./build --exclude=./dist \
    --exclude='*.egg-info' --exclude=__pycache__ --exclude=.pytest_cache \
    --exclude=.ruff_cache --exclude=.hypothesis --exclude=./run . \
    | tar -C "$work/apache-secfilter" -xf -

started=$(date +%s)
(cd "$work/apache-secfilter" && dpkg-buildpackage -us -uc -b) > "$work/build.log" 2>&1 || {
    tail -n 60 "$work/build.log" >&2
    echo "build-debs: dpkg-buildpackage failed (the end of its output is above)" >&2
    exit 1
}
rm -f "$out"/*.deb "$out"/*.changes "$out"/*.buildinfo
cp "$work"/*.deb "$work"/*.changes "$work"/*.buildinfo "$work/build.log" "$out/"
echo "build-debs: $(cd "$out" && ls *.deb | tr '\n' ' ')in $out ($(( $(date +%s) - started )) s)"
