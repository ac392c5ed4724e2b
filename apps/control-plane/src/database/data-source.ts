import { DataSource, type DataSourceOptions } from 'typeorm';
import { MIGRATIONS } from '../../../../migrations/index.js';
import { ApiKey } from '../auth/api-key.entity.js';
import { Artifact } from '../artifacts/artifact.entity.js';
import { AuditEvent } from '../audit/audit-event.entity.js';
import type { AppConfig } from '../config/config.js';
import { Model } from '../models/model.entity.js';
import { ModelVersion } from '../models/model-version.entity.js';
import { EnrollmentChallenge } from '../nodes/enrollment-challenge.entity.js';
import { EnrollmentToken } from '../nodes/enrollment-token.entity.js';
import { EdgeNode } from '../nodes/node.entity.js';
import { SnakeNamingStrategy } from './snake-naming.strategy.js';
import { Deployment } from '../deployments/deployment.entity.js';
import { DeploymentTarget } from '../deployments/deployment-target.entity.js';
import { DeploymentStatusEvent } from '../telemetry/deployment-status-event.entity.js';
import { InferenceResult } from '../telemetry/inference-result.entity.js';
import { NodeHeartbeat } from '../telemetry/node-heartbeat.entity.js';
import { InferenceFeedback } from '../model-health/inference-feedback.entity.js';
import { PendingFeedback } from '../model-health/pending-feedback.entity.js';
import { ModelVersionHourlyRollup, ModelVersionRollup } from '../model-health/model-version-rollup.entity.js';
import { RollupWatermark } from '../telemetry/rollup-watermark.entity.js';
import { RolloutEvent } from '../rollouts/rollout-event.entity.js';
import { RolloutNode } from '../rollouts/rollout-node.entity.js';
import { Rollout } from '../rollouts/rollout.entity.js';
import { ShadowReport } from '../shadow/shadow-report.entity.js';

import { StoredEvent } from '../events/event.entity.js';
import { Webhook } from '../webhooks/webhook.entity.js';
import { WebhookDelivery, WebhookDispatchCursor } from '../webhooks/webhook-delivery.entity.js';

export const ENTITIES = [
  ShadowReport,
  ApiKey,
  Artifact,
  AuditEvent,
  Deployment,
  DeploymentStatusEvent,
  DeploymentTarget,
  EnrollmentToken,
  EnrollmentChallenge,
  EdgeNode,
  InferenceFeedback,
  PendingFeedback,
  InferenceResult,
  Model,
  ModelVersion,
  ModelVersionRollup,
  ModelVersionHourlyRollup,
  NodeHeartbeat,
  RollupWatermark,
  Rollout,
  RolloutEvent,
  RolloutNode,
  StoredEvent,
  Webhook,
  WebhookDelivery,
  WebhookDispatchCursor,
];

/**
 * The name every control-plane connection carries (`pg_stat_activity.application_name`): the heartbeat
 * rollup job holds its watermark before the oldest open transaction of these sessions (telemetry/heartbeat-rollups.repository.ts).
 */
export const CONTROL_PLANE_APPLICATION_NAME = 'edgefleet-control-plane';

/** The schema comes only from the reviewed SQL in migrations/: synchronize stays off everywhere. */
export function dataSourceOptions(database: AppConfig['database']): DataSourceOptions {
  return {
    type: 'postgres',
    url: database.url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    namingStrategy: new SnakeNamingStrategy(),
    synchronize: false,
    // gen_random_uuid() is built into PostgreSQL 13+: no extension to install (which needs superuser).
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    migrationsRun: false,
    extra: { max: database.poolSize, application_name: CONTROL_PLANE_APPLICATION_NAME },
  };
}

/** A connected DataSource outside Nest (the migrate command): the caller destroys it when done. */
export function openDataSource(database: AppConfig['database']): Promise<DataSource> {
  return new DataSource(dataSourceOptions(database)).initialize();
}
