#!/usr/bin/env bash
# Builds the Spark job (analytics/spark) with Maven: the jar and the runtime classpath that
# `tickflow spark submit` runs it with. Dependencies (about 320 MB, Spark 4.2 from Maven Central)
# are cached in ~/.m2 (MAVEN_REPO moves it, e.g. to a CI cache); a second build is offline. Does
# nothing when the jar is newer than the pom and every source file.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
module="$root/analytics/spark"
jar="$module/target/tickflow-spark.jar"
cp_file="$module/target/classpath.txt"
command -v mvn >/dev/null || { echo "spark: Maven (mvn) is required (Debian: maven)" >&2; exit 1; }
command -v java >/dev/null || { echo "spark: Java 17+ is required (Debian: openjdk-17-jdk-headless)" >&2; exit 1; }
if [ -f "$jar" ] && [ -f "$cp_file" ] && [ -z "$(find "$module/pom.xml" "$module/src" -newer "$jar" -print -quit)" ]; then
  exit 0
fi
repo=()
[ -n "${MAVEN_REPO:-}" ] && repo=("-Dmaven.repo.local=$MAVEN_REPO")
start=$(date +%s)
echo "spark: building analytics/spark (first build downloads Spark from Maven Central)" >&2
# Offline first: with a warm cache this needs no network at all.
if ! mvn -B -q -o "${repo[@]}" -f "$module/pom.xml" package dependency:build-classpath -Dmdep.outputFile="$cp_file" >/dev/null 2>&1; then
  mvn -B -q "${repo[@]}" -f "$module/pom.xml" package dependency:build-classpath -Dmdep.outputFile="$cp_file" >&2
fi
echo "spark: built $jar in $(($(date +%s) - start)) s" >&2
