import mqtt from 'mqtt';
import type { FleetTopics } from '#protocol';

/**
 * Clears every retained message under one fleet namespace (desired states, presences): what a demo
 * leaves on a shared broker would otherwise be handed to every later subscriber. Returns how many.
 */
export async function clearRetained(brokerUrl: string, topics: FleetTopics): Promise<number> {
  const client = await mqtt.connectAsync(brokerUrl, { protocolVersion: 5, clean: true, reconnectPeriod: 0, connectTimeout: 5000 });
  try {
    const retained = new Set<string>();
    const marker = `${topics.root}/sweep/${Date.now()}`;
    // The broker sends the retained messages right after the SUBACK, in order, before anything published
    // later: a message of our own coming back marks the end of them.
    const swept = new Promise<void>((resolve) =>
      client.on('message', (topic, payload, packet) => {
        if (topic === marker) resolve();
        else if (packet.retain && payload.length > 0) retained.add(topic);
      }),
    );
    await client.subscribeAsync(topics.everything, { qos: 1 });
    await client.publishAsync(marker, 'end', { qos: 1 });
    await swept;
    await Promise.all([...retained].map((topic) => client.publishAsync(topic, '', { qos: 1, retain: true })));
    return retained.size;
  } finally {
    await client.endAsync();
  }
}
