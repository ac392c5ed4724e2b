import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Logger } from 'nestjs-pino';
import { createApp } from './app.factory.js';
import { APP_CONFIG, type AppConfig, ConfigError, loadConfig } from './config/config.js';

try {
  const app = await createApp(loadConfig(process.env));
  // As resolved at boot: the fleet namespace is the one stored in the database.
  const config = app.get<AppConfig>(APP_CONFIG);
  await app.listen(config.http.port, config.http.host);
  // The address actually bound (0.0.0.0 in a container); getUrl() turns 0.0.0.0 and :: into loopback,
  // which is the address to open on this machine.
  const { address, port } = (app.getHttpServer() as Server).address() as AddressInfo;
  const bound = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  const url = await app.getUrl();
  app.get(Logger).log(`EdgeFleet control plane listening on ${bound} (API docs: ${url}/docs), topics under ef/v1/${config.mqtt.fleetNamespace}/`);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}
