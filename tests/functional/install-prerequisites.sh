#!/usr/bin/env bash
# System software the functional tests run (as root): haproxy checks and serves the
# rendered haproxy.cfg; Apache with mod_wsgi serves the masakari charm's site and WSGI
# entry; corosync/pacemaker and pacemaker_remoted form the cluster; MariaDB, RabbitMQ
# and memcached serve the end-to-end stack (the tests start and stop them by PID;
# installing does not start them). Idempotent; called by tox -e func and .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../.."
export DEBIAN_FRONTEND=noninteractive PATH="$PATH:/usr/sbin:/sbin"

packages=(haproxy pacemaker corosync crmsh pacemaker-cli-utils resource-agents iproute2
          mariadb-server rabbitmq-server memcached socat apache2 libapache2-mod-wsgi-py3
          util-linux)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# promtool (Debian's prometheus package) runs tests/unit's alert-rule tests. Only the tool
# is wanted: while it installs, a policy-rc.d that denies every start keeps the package
# from starting a Prometheus server (invoke-rc.d and deb-systemd-invoke both ask it), and
# the machine's own policy-rc.d, if it has one, is put back afterwards.
if ! command -v promtool >/dev/null 2>&1; then
    policy=/usr/sbin/policy-rc.d
    saved="$policy.before-prometheus"
    # (a $saved left by an interrupted run is the machine's; the policy-rc.d is then ours)
    if [ -e "$policy" ] && [ ! -e "$saved" ]; then mv -f "$policy" "$saved"; fi
    restore_policy() {
        if [ -e "$saved" ]; then mv -f "$saved" "$policy"; else rm -f "$policy"; fi
    }
    trap restore_policy EXIT
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    apt-get update -q
    apt-get install -y -q --no-install-recommends prometheus
    restore_policy
    trap - EXIT
    # Nor at boot, where systemd runs the machine.
    if [ -d /run/systemd/system ]; then systemctl disable --quiet prometheus.service; fi
fi
# Debian's pacemaker-remote package conflicts with pacemaker (which the cluster node
# needs); its daemon runs with pacemaker's libraries, so take it out of the package.
if [ ! -x build/pacemaker-remote/usr/sbin/pacemaker-remoted ]; then
    mkdir -p build/pacemaker-remote
    (cd build && apt-get download pacemaker-remote)
    dpkg-deb -x build/pacemaker-remote_*.deb build/pacemaker-remote
fi
# The user masakari-api runs as (the charm's WSGIDaemonProcess), as Ubuntu's
# masakari-common package creates it, with the home directory mod_wsgi changes to.
if ! id masakari >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /var/lib/masakari --shell /usr/sbin/nologin masakari
fi
install -d -o masakari -g masakari /var/lib/masakari
