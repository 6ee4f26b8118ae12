#!/usr/bin/env bash
# Builds the schema registry (Apicurio Registry 2.4.2 from Maven Central, deploy/schema-registry)
# into deploy/schema-registry/target/quarkus-app (ignored by git). Does nothing when the build is
# already there for this pom.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$root/deploy/schema-registry"
jar="$dir/target/quarkus-app/quarkus-run.jar"
stamp="$dir/target/.pom"
if [ -f "$jar" ] && [ -f "$stamp" ] && cat "$dir/pom.xml" "$dir/.mvn/maven.config" | cmp -s "$stamp" -; then
  exit 0
fi
command -v mvn >/dev/null || { echo "schema-registry: Maven (mvn) is required" >&2; exit 1; }
command -v java >/dev/null || { echo "schema-registry: Java 17+ is required" >&2; exit 1; }
echo "schema-registry: building Apicurio Registry 2.4.2 from Maven Central (deploy/schema-registry)" >&2
(cd "$dir" && mvn -B -q clean package >&2)
cat "$dir/pom.xml" "$dir/.mvn/maven.config" > "$stamp"
