import mqtt from 'mqtt';
import { fleetTopics, parseMessage } from '#protocol';

export interface RetainedDesired {
  readonly deploymentId: string;
  readonly issued: number;
  readonly expires: number;
  readonly sequence: number;
}

/**
 * The desired state the broker retains for a node right now (undefined when none), as a fresh subscriber
 * gets it. `broker.namespace` is the control plane's fleet namespace.
 */
export async function retainedDesired(broker: { readonly url: string; readonly namespace: string }, nodeId: string, timeoutMs = 2000): Promise<RetainedDesired | undefined> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  try {
    const got = new Promise<RetainedDesired | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), timeoutMs);
      client.on('message', (_topic, payload) => {
        const parsed = parseMessage('desired', payload);
        if (!parsed.ok) return;
        clearTimeout(timer);
        const signed = parsed.value.desired.signed as { deploymentId: string; issued: string; expires: string; manifest: { signed: { sequence: number } } };
        resolve({ deploymentId: signed.deploymentId, issued: Date.parse(signed.issued), expires: Date.parse(signed.expires), sequence: signed.manifest.signed.sequence });
      });
    });
    await client.subscribeAsync(fleetTopics(broker.namespace).desired(nodeId), { qos: 1 });
    return await got;
  } finally {
    await client.endAsync();
  }
}

/**
 * The exact bytes of the desired-state message the broker retains for a node once it names
 * `deploymentId`: a genuine signed document, captured to be replayed later (as an attacker with the
 * broker's powers could).
 */
export async function captureRetainedDesired(broker: { readonly url: string; readonly namespace: string }, nodeId: string, deploymentId: string, timeoutMs = 10_000): Promise<Buffer> {
  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true, reconnectPeriod: 0 });
  try {
    const got = new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no retained desired state naming deployment ${deploymentId} within ${timeoutMs} ms`)), timeoutMs);
      client.on('message', (_topic, payload) => {
        const parsed = parseMessage('desired', payload);
        if (!parsed.ok || (parsed.value.desired.signed as { deploymentId: string }).deploymentId !== deploymentId) return;
        clearTimeout(timer);
        resolve(Buffer.from(payload));
      });
    });
    await client.subscribeAsync(fleetTopics(broker.namespace).desired(nodeId), { qos: 1 });
    return await got;
  } finally {
    await client.endAsync();
  }
}
