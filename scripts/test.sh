#!/usr/bin/env bash
# The whole test suite on a fresh machine: Node 24 and npm packages if missing, the Kafka jars from
# Maven Central, then scripts/test.ts, which starts Kafka and finds or starts PostgreSQL by itself.
set -euo pipefail
source "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/bootstrap.sh"
bash "$TICKFLOW_ROOT/scripts/kafka-jars.sh"
cd "$TICKFLOW_ROOT"
exec node scripts/test.ts "$@"
