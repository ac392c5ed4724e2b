import { randomUUID } from 'node:crypto';
import { UnavailableError } from '#common';
import type { MqttConnection } from '../messaging/mqtt-connection.js';

const COMMAND_TOPIC = '$CONTROL/dynamic-security/v1';
const RESPONSE_TOPIC = '$CONTROL/dynamic-security/v1/response';
const TIMEOUT_MS = 5000;

export type DynsecCommand = { readonly command: string } & Record<string, unknown>;

interface DynsecResponse {
  command: string;
  correlationData?: string;
  error?: string;
}

export class DynsecError extends Error {
  constructor(
    readonly command: string,
    readonly reason: string,
  ) {
    super(`dynamic security ${command} failed: ${reason}`);
    this.name = 'DynsecError';
  }
}

/**
 * Sends commands to Mosquitto's dynamic security plugin over MQTT and waits for each answer
 * (matched by correlationData). Errors named in `tolerate` (e.g. "Role already exists") count as done,
 * which makes every setup step idempotent.
 */
export class DynsecClient {
  private readonly pending = new Map<string, { resolve: (r: DynsecResponse) => void; reject: (e: Error) => void }>();

  constructor(private readonly mqtt: MqttConnection) {
    mqtt.keepSubscribed([RESPONSE_TOPIC]);
    mqtt.onMessage((topic, payload) => {
      if (topic !== RESPONSE_TOPIC) return;
      let body: { responses?: DynsecResponse[] };
      try {
        body = JSON.parse(payload.toString()) as { responses?: DynsecResponse[] };
      } catch {
        return;
      }
      for (const response of body.responses ?? []) {
        const waiter = response.correlationData ? this.pending.get(response.correlationData) : undefined;
        if (!waiter) continue;
        this.pending.delete(response.correlationData as string);
        waiter.resolve(response);
      }
    });
  }

  async execute(commands: readonly DynsecCommand[], tolerate: readonly string[] = []): Promise<void> {
    if (commands.length === 0) return;
    await this.mqtt.ready();
    const tagged = commands.map((c) => ({ ...c, correlationData: randomUUID() }));
    const answers = tagged.map(
      (c) =>
        new Promise<DynsecResponse>((resolve, reject) => {
          const timer = setTimeout(() => {
            this.pending.delete(c.correlationData);
            reject(new UnavailableError(`no answer from the broker's dynamic security plugin to ${c.command}`));
          }, TIMEOUT_MS);
          this.pending.set(c.correlationData, {
            resolve: (r) => {
              clearTimeout(timer);
              resolve(r);
            },
            reject,
          });
        }),
    );
    await this.mqtt.publish(COMMAND_TOPIC, JSON.stringify({ commands: tagged }), { qos: 1 });
    for (const response of await Promise.all(answers)) {
      if (response.error && !tolerate.includes(response.error)) throw new DynsecError(response.command, response.error);
    }
  }
}
