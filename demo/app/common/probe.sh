#!/bin/bash
# Docker health probe of the staging services: prompt at start, nearly free while healthy.
#
#   probe.sh http PORT PATH        healthy when GET http://127.0.0.1:PORT/PATH answers 200
#   probe.sh cmd COMMAND [ARG...]  healthy when COMMAND exits 0
#
# Every Docker health probe is an exec into the container, and an exec costs the engine about 60 ms
# of CPU whatever it runs: nine services probed every second kept most of a core busy on an idle
# stack. Engine 20.10 (Debian 12) has no start_interval, so the interval stays 1 s for a starting
# container to be seen healthy at once. What keeps the cost down is this probe: once a probe has
# found the service healthy, the next one stays in the container and checks once a second for
# PROBE_HOLD seconds (built-ins, no interpreter), returning at the first failure. A healthy service
# costs one exec per PROBE_HOLD seconds; a failure is reported as soon as it happens, and a service
# that starts (or starts again) is reported healthy at its first good check.
#
# The compose healthcheck's timeout must exceed PROBE_HOLD plus one check and one second (3 s). PROBE_MARK_DIR is
# where the "healthy last time" mark lives (/tmp of the container; tests point it elsewhere).
set -u

hold=${PROBE_HOLD:-30}
fresh=${PROBE_FRESH:-5}
mark_dir=${PROBE_MARK_DIR:-/tmp}

check() {
  case $1 in
    http)
      local code=
      exec 3<>"/dev/tcp/127.0.0.1/$2" 2>/dev/null || { echo "port $2: connection refused"; return 1; }
      printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$3" >&3
      read -r -t 2 _ code _ <&3
      exec 3>&-
      [ "$code" = 200 ] || { echo "GET $3: ${code:-no answer within 2 s}"; return 1; }
      ;;
    cmd)
      shift
      "$@" >/dev/null 2>&1 || { echo "$1: exit $?"; return 1; }
      ;;
    *)
      echo "usage: probe.sh http PORT PATH | probe.sh cmd COMMAND [ARG...]"
      return 2
      ;;
  esac
}

# A mark per start of the container's main process: a restarted container keeps its files, not its
# main process, and must be reported healthy at its first good check again.
read -r -a main_process < /proc/1/stat
mark="$mark_dir/.probe-healthy-${main_process[21]}"

# The mark holds the time it was made. A young one (under PROBE_FRESH seconds) came from a check at the start,
# perhaps not the engine's own (a rollback runs a new container's healthcheck command itself, at once): the engine
# has not seen healthy yet, and must at its next probe, so a young mark gets a single check, not the hold.
printf -v now '%(%s)T' -1
made=
[ -e "$mark" ] && read -r made < "$mark" 2>/dev/null
if [ ! -e "$mark" ] || { [[ $made =~ ^[0-9]+$ ]] && (( now - made < fresh )); }; then
  check "$@" || { rm -f "$mark"; exit 1; }
  [ -e "$mark" ] || echo "$now" > "$mark" 2>/dev/null
  exit 0
fi

# The hold is measured on the clock, not counted in checks: on a loaded machine a check can take most of
# a second, and thirty slow checks would outlast the healthcheck's timeout, which the engine counts as a
# failure (three in a row, and a healthy service is reported unhealthy for as long as the load lasts).
end=$((SECONDS + hold))
while (( SECONDS < end )); do
  check "$@" || { rm -f "$mark"; exit 1; }
  sleep 1
done
exit 0
