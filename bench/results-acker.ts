/**
 * Stands in for the control plane's side of one node's results and status reports while a bench measures
 * the agent: acknowledges each results batch and each status as the control plane does once it has stored
 * them, and stores nothing. The agent then does all of its own work (spool, fsync, publish, acknowledged
 * spool truncation), and the machine does none of the control plane's (parsing, validation, PostgreSQL).
 * On a device the control plane runs elsewhere; in a bench on the same two cores its ingest of the agent's
 * results competes with the agent, and never with the raw server it is compared with.
 *   const acker = await ResultsAcker.start(brokerUrl, namespace, nodeId); …; acker.acked; await acker.stop();
 */
import mqtt, { type MqttClient } from 'mqtt';
import { encodeMessage, envelopeFields, fleetTopics } from '#protocol';

export class ResultsAcker {
  /** Results batches acknowledged so far. */
  acked = 0;

  private constructor(private readonly client: MqttClient) {}

  static async start(url: string, namespace: string, nodeId: string): Promise<ResultsAcker> {
    const topics = fleetTopics(namespace);
    const client = await mqtt.connectAsync(url, { clientId: `bench-acker-${nodeId.slice(0, 8)}`, clean: true, reconnectPeriod: 0 });
    const acker = new ResultsAcker(client);
    const results = topics.uplink(nodeId, 'results');
    const status = topics.uplink(nodeId, 'status');
    client.on('message', (topic, payload) => {
      const message = JSON.parse(payload.toString()) as { id?: string; seq?: number };
      if (topic === results && typeof message.id === 'string') {
        acker.acked++;
        void client.publishAsync(topics.acks(nodeId), encodeMessage('acks', { ...envelopeFields(), results: [message.id] }), { qos: 1 });
      } else if (topic === status && typeof message.seq === 'number') {
        void client.publishAsync(topics.acks(nodeId), encodeMessage('acks', { ...envelopeFields(), statusSeq: message.seq }), { qos: 1 });
      }
    });
    await client.subscribeAsync([results, status], { qos: 1 });
    return acker;
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}
