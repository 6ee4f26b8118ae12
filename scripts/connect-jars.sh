#!/usr/bin/env bash
# Fetches what `tickflow bench --peer` runs: the Kafka jars (scripts/kafka-jars.sh; Kafka Connect's
# runtime is among them) and the Debezium JDBC sink plugin archive from Maven Central, unpacked into
# .cache/connect/plugins (ignored by git). Does nothing when this version is already there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/kafka-jars.sh"
# 3.6.0.Final is the newest Debezium JDBC sink on Maven Central that builds against Kafka 4.3.
version=3.6.0.Final
dest="$root/.cache/connect"
stamp="$dest/.version"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$version" ] && [ -d "$dest/plugins/debezium-connector-jdbc" ]; then
  exit 0
fi
command -v mvn >/dev/null || { echo "connect-jars: Maven (mvn) is required" >&2; exit 1; }
echo "connect-jars: fetching the Debezium JDBC sink $version from Maven Central into .cache/connect" >&2
rm -rf "$dest"
mkdir -p "$dest/dl" "$dest/plugins"
mvn -B -q -f "$root/deploy/kafka/pom.xml" dependency:copy \
  -Dartifact="io.debezium:debezium-connector-jdbc:$version:tar.gz:plugin" -DoutputDirectory="$dest/dl" >&2
tar -xzf "$dest/dl/debezium-connector-jdbc-$version-plugin.tar.gz" -C "$dest/plugins"
rm -rf "$dest/dl"
echo "$version" >"$stamp"
