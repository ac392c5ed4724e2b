import { Logger } from 'nestjs-pino';
import { createApp } from './app.factory.js';
import { ConfigError, loadConfig } from './config/config.js';

try {
  const config = loadConfig(process.env);
  const app = await createApp(config);
  await app.listen(config.http.port, config.http.host);
  const url = await app.getUrl();
  app.get(Logger).log(`EdgeFleet control plane listening on ${url} (API docs: ${url}/docs), topics under ef/v1/${config.mqtt.fleetNamespace}/`);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}
