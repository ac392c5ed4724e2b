/**
 * Stands in for the control plane's side of one node's results and status reports while a bench measures
 * the agent: acknowledges each results batch and each status as the control plane does once it has stored
 * them (after ACK_DELAY_MS, and only what the control plane would accept: `parseMessage`), and stores nothing. The agent then does all of its own work (spool, fsync, publish, acknowledged
 * spool truncation), and the machine does none of the control plane's (parsing, validation, PostgreSQL).
 * On a device the control plane runs elsewhere; in a bench on the same two cores its ingest of the agent's
 * results competes with the agent, and never with the raw server it is compared with.
 *   const acker = await ResultsAcker.start(brokerUrl, namespace, nodeId); …; acker.records; await acker.stop();
 */
import mqtt, { type MqttClient } from 'mqtt';
import { encodeMessage, envelopeFields, fleetTopics, parseMessage } from '#protocol';

/** About what the control plane takes to store a batch before acknowledging it: the agent keeps each batch that long. */
const ACK_DELAY_MS = 50;

export class ResultsAcker {
  /** Records in the results batches acknowledged so far. */
  records = 0;

  private constructor(private readonly client: MqttClient) {}

  static async start(url: string, namespace: string, nodeId: string): Promise<ResultsAcker> {
    const topics = fleetTopics(namespace);
    const client = await mqtt.connectAsync(url, { clientId: `bench-acker-${nodeId.slice(0, 8)}`, clean: true, reconnectPeriod: 0 });
    const acker = new ResultsAcker(client);
    const results = topics.uplink(nodeId, 'results');
    const status = topics.uplink(nodeId, 'status');
    const ack = (fields: { results: string[] } | { statusSeq: number }) =>
      setTimeout(() => void client.publishAsync(topics.acks(nodeId), encodeMessage('acks', { ...envelopeFields(), ...fields }), { qos: 1 }), ACK_DELAY_MS);
    client.on('message', (topic, payload) => {
      if (topic === results) {
        const parsed = parseMessage('results', payload);
        if (!parsed.ok) return; // refused, as the control plane would: never acknowledged
        acker.records += parsed.value.records.length;
        ack({ results: [parsed.value.id] });
      } else if (topic === status) {
        const parsed = parseMessage('status', payload);
        if (parsed.ok) ack({ statusSeq: parsed.value.seq });
      }
    });
    await client.subscribeAsync([results, status], { qos: 1 });
    return acker;
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}
