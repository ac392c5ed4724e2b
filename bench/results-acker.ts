/**
 * Stands in for the control plane's side of one node's results and status reports while a bench measures
 * the agent: acknowledges each results batch and each status as the control plane does once it has stored
 * them (after ACK_DELAY_MS), and stores nothing. The agent then does all of its own work (spool, fsync,
 * publish, acknowledged spool truncation), and the machine does none of the control plane's (parsing,
 * validation, PostgreSQL). On a device the control plane runs elsewhere; in a bench on the same two cores
 * its ingest of the agent's results competes with the agent, and never with the raw server it is compared with.
 * Results are still checked as the control plane checks them (`parseMessage`), but between the timed
 * rounds (`checkedRecords`, from the bench's settle step): validating a 1,000-record batch takes 3–9 ms of
 * CPU, which beside the agent's rounds slowed the requests right after each publish. A batch the control
 * plane would refuse fails the bench there.
 *   const acker = await ResultsAcker.start(brokerUrl, namespace, nodeId); …; acker.checkedRecords(); await acker.stop();
 */
import mqtt, { type MqttClient } from 'mqtt';
import { encodeMessage, envelopeFields, fleetTopics, parseMessage } from '#protocol';

/** About what the control plane takes to store a batch before acknowledging it: the agent keeps each batch that long. */
const ACK_DELAY_MS = 50;

/** A results message's id, read from its envelope's head as `encodeResultsMessage` writes it (checked in full later). */
const RESULTS_ID = /^\{"v":\d+,"id":"([^"\\]{1,64})"/;

export class ResultsAcker {
  private records = 0;
  /** Results messages acknowledged but not checked yet. */
  private unchecked: { payload: Buffer; ackedId: string | undefined }[] = [];
  private refused?: string;

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
        const ackedId = RESULTS_ID.exec(payload.toString('latin1', 0, 128))?.[1];
        acker.unchecked.push({ payload, ackedId });
        if (ackedId) ack({ results: [ackedId] }); // one without it fails the check
      } else if (topic === status) {
        const parsed = parseMessage('status', payload);
        if (parsed.ok) ack({ statusSeq: parsed.value.seq });
      }
    });
    await client.subscribeAsync([results, status], { qos: 1 });
    return acker;
  }

  /**
   * Checks the results messages received so far as the control plane does (`parseMessage`) and returns how
   * many records the accepted ones held; a refused one is kept for `throwIfRefused` (this runs as a
   * `waitFor` probe, whose errors are retried, not reported).
   */
  checkedRecords(): number {
    for (let next = this.unchecked.shift(); next; next = this.unchecked.shift()) {
      const parsed = parseMessage('results', next.payload);
      if (!parsed.ok) this.refused ??= `the agent published a results message the control plane would refuse: ${JSON.stringify(parsed.error).slice(0, 500)}`;
      else if (parsed.value.id !== next.ackedId) this.refused ??= `acknowledged results message ${next.ackedId} as ${parsed.value.id}`;
      else this.records += parsed.value.records.length;
    }
    return this.records;
  }

  /** A results message the control plane would have refused came (checked by `checkedRecords`). */
  get hasRefused(): boolean {
    return this.refused !== undefined;
  }

  /** Fails the bench on the first results message the control plane would have refused. */
  throwIfRefused(): void {
    if (this.refused) throw new Error(this.refused);
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
  }
}
