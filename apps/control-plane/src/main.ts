import { Logger } from 'nestjs-pino';
import { createApp } from './app.factory.js';
import { APP_CONFIG, type AppConfig, ConfigError, loadConfig } from './config/config.js';

try {
  const app = await createApp(loadConfig(process.env));
  // As resolved at boot: the fleet namespace is the one stored in the database.
  const config = app.get<AppConfig>(APP_CONFIG);
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
