// The incarnation of a topic a consumer group's stored offsets belong to (migration 013).
import type { Db } from './db.ts'

/**
 * Records that `groupId` reads incarnation `topicId` of `topic`. When the group's stored offsets
 * belong to another incarnation (the topic was deleted and created again), they are dropped and
 * the number of partitions dropped is returned with the old id; a group seen for the first time
 * (or a store from before topic ids were kept) adopts the current one with its offsets.
 */
export async function adoptTopic(
  db: Db,
  groupId: string,
  topic: string,
  topicId: string,
): Promise<{ previous?: string; dropped: number }> {
  return db.transaction(async (tx) => {
    await tx.query(
      'insert into consumer_topics (group_id, topic, topic_id) values ($1, $2, $3) on conflict do nothing',
      [groupId, topic, topicId],
    )
    const [row] = await tx.query<{ topic_id: string }>(
      'select topic_id from consumer_topics where group_id = $1 and topic = $2 for update',
      [groupId, topic],
    )
    if (!row || row.topic_id === topicId) return { dropped: 0 }
    const dropped = await tx.query(
      'delete from consumer_offsets where group_id = $1 and topic = $2 returning partition',
      [groupId, topic],
    )
    await tx.query('update consumer_topics set topic_id = $3 where group_id = $1 and topic = $2', [
      groupId,
      topic,
      topicId,
    ])
    return { previous: row.topic_id, dropped: dropped.length }
  })
}
