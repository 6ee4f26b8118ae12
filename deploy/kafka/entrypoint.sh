#!/bin/sh
# Writes server.properties from the environment, formats the storage on first start, then runs
# the broker with the JMX exporter on :7071. Environment: KAFKA_NODE_ID, KAFKA_CLUSTER_ID,
# KAFKA_CONTROLLER_QUORUM_VOTERS, KAFKA_ADVERTISED_HOST, KAFKA_REPLICATION (1 or 3).
set -eu
: "${KAFKA_NODE_ID:=1}" "${KAFKA_CLUSTER_ID:=tickflowcluster01AAAAA}" "${KAFKA_ADVERTISED_HOST:=kafka}"
: "${KAFKA_CONTROLLER_QUORUM_VOTERS:=1@kafka:9093}" "${KAFKA_REPLICATION:=1}"
min_isr=1; [ "$KAFKA_REPLICATION" -ge 3 ] && min_isr=2
data=/var/lib/kafka/data
cat > /var/lib/kafka/server.properties <<PROPS
process.roles=broker,controller
node.id=$KAFKA_NODE_ID
controller.quorum.voters=$KAFKA_CONTROLLER_QUORUM_VOTERS
listeners=PLAINTEXT://0.0.0.0:9092,CONTROLLER://0.0.0.0:9093
advertised.listeners=PLAINTEXT://$KAFKA_ADVERTISED_HOST:9092
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$data
num.partitions=6
default.replication.factor=$KAFKA_REPLICATION
min.insync.replicas=$min_isr
offsets.topic.replication.factor=$KAFKA_REPLICATION
transaction.state.log.replication.factor=$KAFKA_REPLICATION
transaction.state.log.min.isr=$min_isr
share.coordinator.state.topic.replication.factor=$KAFKA_REPLICATION
share.coordinator.state.topic.min.isr=$min_isr
auto.create.topics.enable=false
PROPS
cd /opt/kafka
[ -f "$data/meta.properties" ] || java -cp 'libs/*' kafka.tools.StorageTool format -t "$KAFKA_CLUSTER_ID" -c /var/lib/kafka/server.properties --ignore-formatted
exec java -Xms512m -Xmx1g -XX:+UseG1GC -Dkafka.logs.dir=/var/lib/kafka/logs \
  -Dlog4j2.configurationFile=/opt/kafka/log4j2.yaml \
  -javaagent:/opt/kafka/agent/jmx_prometheus_javaagent-1.0.1.jar=0.0.0.0:7071:/opt/kafka/jmx-exporter.yml \
  -cp 'libs/*' kafka.Kafka /var/lib/kafka/server.properties
