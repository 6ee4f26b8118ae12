#!/usr/bin/env bash
# The one list of system (Debian) packages the test suite needs, used by scripts/test.sh and
# .ci/run. As root it installs what is missing (apt-get update first); as any other user it stops
# at once with one line giving the exact command to run. Quiet when nothing is missing.
#   chromium                   the dashboard test drives a real browser (/usr/bin/chromium)
#   prometheus                 prometheus and promtool: scrape, rules and Grafana query tests
#   openjdk-17-jdk-headless    Java 17 for the test Kafka broker
#   maven                      fetches the Kafka jars from Maven Central (scripts/kafka-jars.sh)
#   postgresql                 server binaries for a throwaway cluster when none answers on :5432
#   docker.io docker-compose   the container engine for the compose stack test
#   mmdebstrap                 the Debian root filesystem of the stand-in images (scripts/stand-ins.sh)
#   python3-minimal            /usr/bin/python3: real zip, bzip2 and xz files for the replay's format test
set -euo pipefail

has() { command -v "$1" >/dev/null 2>&1; }
# initdb is rarely on PATH: Debian keeps the server binaries under /usr/lib/postgresql/<version>.
has_initdb() { has initdb || compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; }

missing=()
has chromium || missing+=(chromium)
{ has prometheus && has promtool; } || missing+=(prometheus)
has java || missing+=(openjdk-17-jdk-headless)
has mvn || missing+=(maven)
has_initdb || missing+=(postgresql)
has dockerd || missing+=(docker.io)
has docker-compose || missing+=(docker-compose)
has mmdebstrap || missing+=(mmdebstrap)
# Debian's own interpreter, by path: a PATH may put another python3 (pyenv, a venv) first.
[ -x /usr/bin/python3 ] || missing+=(python3-minimal)
[ ${#missing[@]} -eq 0 ] && exit 0

install=(apt-get install -y -q --no-install-recommends "${missing[@]}")
if [ "$(id -u)" != 0 ]; then
  echo "tickflow: missing system packages (${missing[*]}); install them as root: apt-get update && ${install[*]}" >&2
  exit 1
fi
echo "tickflow: installing system packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null
"${install[@]}" >/dev/null
