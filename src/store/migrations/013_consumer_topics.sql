-- Which incarnation of a topic a group's stored offsets belong to (Kafka's topic id). A topic
-- deleted and created again under the same name numbers its messages from 0 again: the offsets
-- stored for the old one would make the processor skip the new one's messages as already stored.
create table if not exists consumer_topics (
  group_id text not null,
  topic    text not null,
  topic_id text not null,
  primary key (group_id, topic)
);
