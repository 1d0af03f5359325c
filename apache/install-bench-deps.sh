#!/usr/bin/env bash
# Install what benchmarks/apache_bench.py needs besides apache/install-deps.sh:
# wrk (the load generator) and Debian's mod_security2 (the module the in-Apache
# figures are compared with). Run as root on Debian 12.
#
# The benchmark loads mod_security2 only in its private Apache instances, with
# its own LoadModule lines; the system's Apache must stay as it was:
#
# * Installing libapache2-mod-security2 would try to restart the system's
#   apache2 service: a policy-rc.d that denies service starts is put in place
#   for the duration of the install (only if there is none already; an existing
#   one is left alone).
# * The package's postinst runs `a2enmod security2`, which also enables
#   unique_id (a dependency). At the next restart the system's Apache would then
#   load mod_security2 with Debian's /etc/modsecurity configuration and, when
#   modsecurity-crs is installed, the Core Rule Set, filtering the machine's
#   real sites. So after the install both modules are disabled again, but only
#   those that this install enabled: a module the administrator had enabled
#   before stays enabled. Nothing is reloaded.
set -euo pipefail

packages=(wrk libapache2-mod-security2)
mods_enabled=/etc/apache2/mods-enabled

# shellcheck source=apt-quietly.sh
. "$(dirname "$0")/apt-quietly.sh"
mapfile -t missing < <(missing_packages "${packages[@]}")
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-bench-deps: already installed: ${packages[*]}"
    exit 0
fi
[ "$(id -u)" = 0 ] || { echo "install-bench-deps: run as root to install: ${missing[*]}" >&2; exit 1; }

# Which of the modules the package enables were enabled before we started.
was_enabled=()
for mod in security2 unique_id; do
    [ -e "$mods_enabled/$mod.load" ] && was_enabled+=("$mod")
done

# --no-install-recommends: the Core Rule Set (modsecurity-crs) is not used
apt_install_quietly "${missing[@]}"

to_disable=()
for mod in security2 unique_id; do
    if [ -e "$mods_enabled/$mod.load" ] && [[ " ${was_enabled[*]-} " != *" $mod "* ]]; then
        to_disable+=("$mod")
    fi
done
if [ ${#to_disable[@]} -gt 0 ] && command -v a2dismod >/dev/null; then
    a2dismod -q "${to_disable[@]}"
    echo "install-bench-deps: disabled ${to_disable[*]} again in the system's Apache" \
         "(the package enabled them; the benchmark loads them itself)"
fi
echo "install-bench-deps: ready (${packages[*]})"
