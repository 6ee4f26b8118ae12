#!/usr/bin/env bash
# Fetches the Kafka broker, its tools and the Prometheus JMX exporter agent from Maven Central into
# .cache/kafka (ignored by git). Does nothing when they are already there for this pom.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/.cache/kafka"
pom="$root/deploy/kafka/pom.xml"
jmx_version=1.0.1
stamp="$dest/.pom"
if [ -f "$stamp" ] && cmp -s "$stamp" "$pom" && [ -f "$dest/agent/jmx_prometheus_javaagent-$jmx_version.jar" ]; then
  exit 0
fi
command -v mvn >/dev/null || { echo "kafka-jars: Maven (mvn) is required" >&2; exit 1; }
command -v java >/dev/null || { echo "kafka-jars: Java 17+ is required" >&2; exit 1; }
echo "kafka-jars: fetching Kafka from Maven Central into .cache/kafka" >&2
rm -rf "$dest"
mkdir -p "$dest"
mvn -B -q -f "$pom" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$dest/libs" >&2
# The agent's last release on Maven Central is 1.0.1 (later ones are published elsewhere only).
mvn -B -q -f "$pom" dependency:copy -Dartifact="io.prometheus.jmx:jmx_prometheus_javaagent:$jmx_version" -DoutputDirectory="$dest/agent" >&2
cp "$pom" "$stamp"
