#!/usr/bin/env bash
# The whole test suite on a fresh machine: the Debian packages the tests need (scripts/system-deps.sh:
# installed when run as root, else one line saying what to install), Node 24 and npm packages if
# missing, the Kafka jars from Maven Central, the Spark job (scripts/spark.sh), then scripts/test.ts,
# which starts Kafka and finds or starts PostgreSQL by itself.
set -euo pipefail
bash "$(dirname "${BASH_SOURCE[0]}")/system-deps.sh"
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bootstrap.sh"
bash "$TICKFLOW_ROOT/scripts/kafka-jars.sh"
bash "$TICKFLOW_ROOT/scripts/schema-registry.sh"
bash "$TICKFLOW_ROOT/scripts/spark.sh"
cd "$TICKFLOW_ROOT"
exec node scripts/test.ts "$@"
