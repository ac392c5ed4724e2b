/**
 * Joins labels that were waiting for their result (`pending_feedback`, written by POST /v1/feedback when
 * the result was kept on the node) to the results of a stored batch, as the feedback route joins labels
 * to results already stored: one `inference_feedback` row per result, the newest pending label winning.
 * Parameters: the batch's node ids, seqs, input references (records without one are not passed) and times
 * (`at`, the partition key: with it each result is looked up in its own partition only).
 *
 * Keyed by the batch's (node, seq), not by the rows the insert reported new: a batch redelivered after a
 * failure between the two statements is joined then (the upsert makes a second join harmless). A pending
 * label for one node is done once joined and deleted; one for any node stays until it expires, since
 * other nodes asked for the same reference may still answer.
 *
 * Usually no label is held: the EXISTS guard (evaluated once) then skips the two index probes per
 * record the join costs otherwise (~5 ms per 1,000 records on an idle table, ~19 ms with 100,000 held,
 * measured on the shared machine).
 */
export const JOIN_PENDING_FEEDBACK = `
  WITH b AS (SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::varchar[], $4::timestamptz[]) AS b(node_id, seq, input_ref, at) WHERE EXISTS (SELECT 1 FROM pending_feedback)),
       m AS (
         SELECT DISTINCT ON (r.node_id, r.seq) r.node_id, r.seq, r.model_version_id, r.input_ref, p.label, r.top_class = p.label AS correct, r.at,
                p.id AS pending_id, p.node_id AS pending_node
           FROM b JOIN pending_feedback p ON p.input_ref = b.input_ref AND (p.node_id IS NULL OR p.node_id = b.node_id)
                  JOIN inference_results r ON r.node_id = b.node_id AND r.seq = b.seq AND r.at = b.at
          WHERE r.model_version_id IS NOT NULL AND p.expires_at > now()
          ORDER BY r.node_id, r.seq, p.id DESC),
       stored AS (
         INSERT INTO inference_feedback AS x (node_id, seq, model_version_id, input_ref, label, correct, result_at)
         SELECT node_id, seq, model_version_id, input_ref, label, correct, at FROM m ORDER BY node_id, seq
         ON CONFLICT (node_id, seq) DO UPDATE SET label = EXCLUDED.label, correct = EXCLUDED.correct, received_at = now())
  DELETE FROM pending_feedback WHERE id IN (SELECT pending_id FROM m WHERE pending_node IS NOT NULL)`;
