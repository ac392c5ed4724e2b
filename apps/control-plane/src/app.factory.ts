import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { Logger } from 'nestjs-pino';
import type { Registry } from 'prom-client';
import { AppModule } from './app.module.js';
import { answerClientErrorsAsProblems } from './common/client-errors.js';
import { consoleStatic } from './console/console-static.js';
import { docsSecurityHeaders } from './console/docs-csp.js';
import { ProblemDetailsFilter } from './common/problem-details.filter.js';
import { jsonBodyGuard, urlGuard } from './common/request-guards.js';
import { createValidationPipe } from './common/validation.js';
import type { AppConfig } from './config/config.js';
import { prepareInstallation } from './database/installation-settings.js';
import { METRICS_REGISTRY } from './metrics/metrics.controller.js';
import { httpMetricsMiddleware } from './metrics/metrics.js';

/**
 * Builds the fully configured HTTP app (used by main and by the integration tests alike). The app runs
 * with `config` as resolved against the database (the installation's stored fleet namespace): read it
 * back with `app.get(APP_CONFIG)`. Throws a ConfigError when FLEET_NAMESPACE contradicts the stored one.
 */
export async function createApp(parsed: AppConfig): Promise<NestExpressApplication> {
  const config = await prepareInstallation(parsed);
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    bufferLogs: true,
    bodyParser: false,
    abortOnError: false,
  });
  app.useLogger(app.get(Logger));
  app.use(httpMetricsMiddleware(app.get<Registry>(METRICS_REGISTRY)));
  app.use(urlGuard);
  // The web console at `/` (before the routes: Nest would answer its paths with a 404 problem).
  const consoleFiles = consoleStatic(config.console.dir);
  if (consoleFiles) app.use(consoleFiles);
  // Only JSON bodies are parsed up front, bounded in size and then in depth; artifact uploads are
  // streamed by their handler.
  app.useBodyParser('json', { limit: config.http.jsonBodyLimitBytes, strict: true });
  app.use(jsonBodyGuard);
  app.disable('x-powered-by');
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new ProblemDetailsFilter());
  app.enableShutdownHooks();

  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('EdgeFleet control plane')
      .setDescription('Admin API: nodes, enrolment, models, artifacts, audit. Errors are RFC 7807 problem+json.')
      .setVersion('1')
      .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'API key', description: 'API key' })
      .build(),
  );
  app.use('/docs', docsSecurityHeaders);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
  answerClientErrorsAsProblems(app.getHttpServer());
  await app.init();
  return app;
}
