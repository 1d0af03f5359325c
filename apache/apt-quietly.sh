# Sourced by install-deps.sh and install-bench-deps.sh: install Debian packages
# without letting apt start or restart the system's services (apache2,
# php-fpm). A policy-rc.d that refuses every action (exit status 101, "action
# forbidden") is put in place for the install, unless one exists already, in
# which case it is left alone.

# missing_packages PKG...: print the packages that are not installed, one a line.
missing_packages() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || echo "$p"
    done
}

# apt_install_quietly PKG...: apt-get update and install, no services started.
apt_install_quietly() {
    local guard=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        guard=yes
    fi
    local status=0
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || status=$?
    if [ "$status" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" \
            >/dev/null || status=$?
    fi
    [ -z "$guard" ] || rm -f /usr/sbin/policy-rc.d
    return "$status"
}
