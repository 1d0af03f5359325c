#!/usr/bin/env bash
# The install test: the two .deb files in a fresh Debian 12 root.
#
#   tests/packaging/install-test.sh [DEBDIR]     # as root; DEBDIR holds the .deb files
#
# Without DEBDIR the packages are built first (tests/packaging/build-debs.sh,
# DEB_BUILD_OPTIONS=nocheck). Then, in a temporary directory under /tmp:
#   1. debootstrap --variant=minbase bookworm, from the mirror of /etc/apt;
#   2. apt-get install the two .deb files (dependencies resolved by apt) and
#      libapache2-mod-php (the article's vulnerable.php);
#   3. a2enmod secfilter; secfilter check; apache2ctl configtest;
#   4. Apache on 127.0.0.1:PORT (ports.conf and the default site edited),
#      started inside the root, never through the host's systemd;
#   5. the article's attack gets 500, a plain page 200, the alert and the
#      audit log are written, and `secfilter selftest` (the installed
#      command) passes every case;
#   6. the same for the mod_wsgi hook (libapache2-mod-wsgi-py3, a2enmod
#      secfilter_wsgi on the event MPM), with the cases it can see;
# and finally Apache is stopped by pid, /proc unmounted, the root removed.
# The host's own Apache, its configuration and port 80 are never touched.
# Each step's time is printed; the exit status is 0 only if all passed.
set -euo pipefail
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
here=$(cd "$(dirname "$0")/../.." && pwd)
SUITE=bookworm
started=$(date +%s)
step_started=$started
root=""
apache_pid=""

# Messages go to the script's own stdout/stderr (fds 3 and 4), also when the
# cleanup runs from a signal while a command's output is redirected to a log.
exec 3>&1 4>&2
say() { echo "install-test: $*" >&3; }
warn() { echo "install-test: $*" >&4; }
fail() { warn "FAILED: $*"; exit 1; }
step() {
    local now; now=$(date +%s)
    say "$(printf '%-44s %4d s' "$1" $(( now - step_started )))"
    step_started=$now
}

[ "$(id -u)" = 0 ] || fail "run as root (debootstrap, chroot and mount need it)"
for tool in debootstrap chroot mount umount; do
    command -v "$tool" >/dev/null || fail "$tool is missing (apt-get install debootstrap)"
done

mirror() {
    # The first Debian mirror of this machine's apt sources.
    local uri=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        uri=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)
    fi
    if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
        uri=$(awk '$1 == "deb" && $0 !~ /security/ {for (i = 2; i <= NF; i++)
              if ($i ~ /^[a-z]+:\/\//) {print $i; exit}}' /etc/apt/sources.list)
    fi
    echo "${uri:-http://deb.debian.org/debian}"
}

stop_apache() {
    [ -n "$apache_pid" ] || return 0
    kill -TERM "$apache_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do
        kill -0 "$apache_pid" 2>/dev/null || break
        sleep 0.1
    done
    apache_pid=""
}

kill_leftovers() {
    # Processes still running inside the root (Apache children, a stray
    # maintainer-script daemon) are ours: stop each by pid.
    local link pid
    for link in /proc/[0-9]*/root; do
        [ "$(readlink "$link" 2>/dev/null)" = "$root" ] || continue
        pid=${link#/proc/}; pid=${pid%/root}
        kill -TERM "$pid" 2>/dev/null || true
    done
}

cleanup() {
    local status=$?
    set +e
    if [ -n "$root" ] && [ -d "$root" ]; then
        stop_apache
        kill_leftovers
        sleep 0.5
        local mounted="" m
        for m in dev/pts sys proc; do  # debootstrap's own, if it failed half-way
            if mountpoint -q "$root/$m"; then
                umount "$root/$m" || umount -l "$root/$m"
            fi
            ! mountpoint -q "$root/$m" || mounted="$mounted $root/$m"
        done
        if [ -n "$mounted" ]; then
            warn "still mounted:$mounted; leaving $root in place"
        else
            rm -rf --one-file-system "$root"
        fi
    fi
    [ -z "${own_debs:-}" ] || rm -rf "$own_debs"
    step "cleanup"
    say "total $(( $(date +%s) - started )) s"
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP   # through cleanup, too

# -- the packages ---------------------------------------------------------------------
debdir=${1:-}
if [ -z "$debdir" ]; then
    own_debs=$(mktemp -d /tmp/secfilter-debs.XXXXXX)
    DEB_BUILD_OPTIONS=nocheck "$here/tests/packaging/build-debs.sh" "$own_debs" >/dev/null
    debdir=$own_debs
    step "build the .deb files"
fi
debs=("$debdir"/python3-apache-secfilter_*_all.deb "$debdir"/libapache2-mod-secfilter_*_all.deb)
for deb in "${debs[@]}"; do [ -f "$deb" ] || fail "no $(basename "$deb") in $debdir"; done

# -- a fresh root ---------------------------------------------------------------------
root=$(mktemp -d /tmp/secfilter-root.XXXXXX)
chmod 755 "$root"
debootstrap --variant=minbase "$SUITE" "$root" "$(mirror)" > "$root.debootstrap.log" 2>&1 \
    || { tail -n 20 "$root.debootstrap.log" >&2; rm -f "$root.debootstrap.log"; fail "debootstrap"; }
rm -f "$root.debootstrap.log"
step "debootstrap $SUITE (minbase)"

rm -f "$root/etc/apt/sources.list"
cp /etc/apt/sources.list.d/*.sources "$root/etc/apt/sources.list.d/" 2>/dev/null || true
[ ! -f /etc/apt/sources.list ] || cp /etc/apt/sources.list "$root/etc/apt/sources.list"
# Keep maintainer scripts from starting services (invoke-rc.d asks this first).
printf '#!/bin/sh\nexit 101\n' > "$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"
mount -t proc proc "$root/proc"
mkdir -p "$root/tmp/debs"
cp "${debs[@]}" "$root/tmp/debs/"
inside=()
for deb in "${debs[@]}"; do inside+=("/tmp/debs/$(basename "$deb")"); done

in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"; }

in_root apt-get update -qq > "$root/tmp/apt.log" 2>&1 \
    && in_root apt-get install -y -qq --no-install-recommends \
        "${inside[@]}" libapache2-mod-php >> "$root/tmp/apt.log" 2>&1 \
    || { tail -n 30 "$root/tmp/apt.log" >&2; fail "apt-get install"; }
step "apt-get install the .deb files + mod_php"
in_root dpkg-query -W -f='${Package} ${Version}\n' python3-apache-secfilter \
    libapache2-mod-secfilter libapache2-mod-python apache2 | sed 's/^/install-test:   /'

# -- helpers --------------------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
url="http://127.0.0.1:$port"
errors=0

status() { python3 - "$1" <<'EOF'
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=15).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except OSError as exc:
    print(f"no answer ({exc})")
EOF
}

start_apache() {
    # APACHE_STARTED_BY_SYSTEMD: apache2ctl would otherwise ask the host's
    # systemd (pid 1, seen through /proc) to start the host's apache2.
    rm -f "$root/run/apache2/apache2.pid"
    in_root APACHE_STARTED_BY_SYSTEMD=true apache2ctl start || fail "apache2ctl start"
    for _ in $(seq 1 100); do
        [ -s "$root/run/apache2/apache2.pid" ] && break
        sleep 0.1
    done
    apache_pid=$(cat "$root/run/apache2/apache2.pid" 2>/dev/null) || fail "Apache wrote no pid file"
    [ "$(readlink "/proc/$apache_pid/root")" = "$root" ] || fail "pid $apache_pid is not our Apache"
    for _ in $(seq 1 100); do
        [ "$(status "$url/")" = 200 ] && break
        sleep 0.1
    done
}

check() {
    local want=$1 path=$2 got
    got=$(status "$url$path")
    if [ "$got" = "$want" ]; then
        say "  ok    $path -> $got"
    else
        warn "  FAIL  $path -> $got (expected $want)"
        errors=$((errors + 1))
    fi
}

selftest() {
    if ! in_root secfilter selftest "$url/" "$@" > "$root/tmp/selftest.out" 2>&1; then
        warn "  FAIL  secfilter selftest"
        errors=$((errors + 1))
    fi
    sed 's/^/install-test:   /' "$root/tmp/selftest.out"
}

no_traceback() {
    if grep -q Traceback "$root/var/log/apache2/error.log"; then
        warn "  FAIL  Python traceback in Apache's error log:"
        grep -B2 -A20 Traceback "$root/var/log/apache2/error.log" | head -n 40 >&2 || true
        errors=$((errors + 1))
    fi
}

# -- the mod_python hook: a2enmod secfilter -------------------------------------------
in_root a2enmod secfilter >/dev/null || fail "a2enmod secfilter"
modules=$(in_root apache2ctl -M 2>/dev/null) || fail "apache2ctl -M"
grep -q python_module <<<"$modules" || fail "mod_python is not loaded after a2enmod secfilter"
grep -q mpm_prefork_module <<<"$modules" || fail "the prefork MPM is not loaded"
echo "Listen 127.0.0.1:$port" > "$root/etc/apache2/ports.conf"
sed -i "s/<VirtualHost \*:80>/<VirtualHost *:$port>/" "$root/etc/apache2/sites-available/000-default.conf"
echo "ServerName 127.0.0.1" > "$root/etc/apache2/conf-available/servername.conf"
in_root a2enconf -q servername >/dev/null
cp "$root/usr/lib/python3/dist-packages/apache_secfilter/data/demo/vulnerable.php" "$root/var/www/html/"
in_root secfilter check || fail "secfilter check (the installed configuration)"
in_root apache2ctl configtest || fail "apache2ctl configtest"
step "a2enmod secfilter, secfilter check, configtest"

start_apache
step "mod_python: Apache on $url (pid $apache_pid)"
check 500 "/vulnerable.php?file=/etc/passwd"
check 200 "/vulnerable.php?file=index.html"
check 200 "/"
grep -q 'mod_security: Access denied with code 500' "$root/var/log/apache2/error.log" \
    || { warn "  FAIL  no alert in the error log"; errors=$((errors + 1)); }
[ -s "$root/var/log/secfilter/audit_log" ] \
    || { warn "  FAIL  no audit log entry in /var/log/secfilter/audit_log"; errors=$((errors + 1)); }
selftest
no_traceback
stop_apache
step "mod_python: requests, secfilter selftest"

# -- the mod_wsgi hook: a2enmod secfilter_wsgi (event MPM, no request bodies) ----------
in_root apt-get install -y -qq --no-install-recommends libapache2-mod-wsgi-py3 \
    >> "$root/tmp/apt.log" 2>&1 || { tail -n 30 "$root/tmp/apt.log" >&2; fail "mod_wsgi"; }
in_root a2dismod -q secfilter python php8.2 mpm_prefork >/dev/null
in_root a2enmod -q mpm_event >/dev/null
in_root a2enmod secfilter_wsgi >/dev/null || fail "a2enmod secfilter_wsgi"
modules=$(in_root apache2ctl -M 2>/dev/null) || fail "apache2ctl -M (mod_wsgi)"
grep -q wsgi_module <<<"$modules" || fail "mod_wsgi is not loaded after a2enmod secfilter_wsgi"
! grep -q python_module <<<"$modules" || fail "mod_python is still loaded"
in_root secfilter check >/dev/null || fail "secfilter check (mod_wsgi)"
in_root apache2ctl configtest 2>/dev/null || fail "apache2ctl configtest (mod_wsgi)"
start_apache
step "mod_wsgi: Apache on $url (pid $apache_pid)"
check 500 "/index.html?file=/etc/passwd"
check 200 "/index.html?file=index.html"
selftest --case passwd-in-query --case santy-highlight --case wget-in-user-agent \
    --case url-encoded --case invalid-url-encoding --case in-cookie --case plain-page
no_traceback
stop_apache
step "mod_wsgi: requests, secfilter selftest"

[ "$errors" = 0 ] || fail "$errors check(s) failed (Apache's error log is above or in the output)"
say "PASSED"
