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
