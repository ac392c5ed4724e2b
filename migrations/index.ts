import type { MigrationInterface } from 'typeorm';
import { InitialSchema1764340000000 } from './1764340000000-initial-schema.js';
import { FleetWire1764350000000 } from './1764350000000-fleet-wire.js';
import { Rollouts1764360000000 } from './1764360000000-rollouts.js';
import { DeployTimeSequence1764380000000 } from './1764380000000-deploy-time-sequence.js';
import { InstallationSettings1764390000000 } from './1764390000000-installation-settings.js';
import { ResultModelVersion1764400000000 } from './1764400000000-result-model-version.js';
import { HeartbeatModelVersion1764410000000 } from './1764410000000-heartbeat-model-version.js';
import { NodeIdentity1764420000000 } from './1764420000000-node-identity.js';
import { Attestation1764490000000 } from './1764490000000-attestation.js';
import { Events1764500000000 } from './1764500000000-events.js';
import { ModelHealth1764510000000 } from './1764510000000-model-health.js';
import { ResultsPolicy1764600000000 } from './1764600000000-results-policy.js';
import { RetentionIndexes1764610000000 } from './1764610000000-retention-indexes.js';
import { ReportedConfidence1764720000000 } from './1764720000000-reported-confidence.js';
import { PendingFeedback1764721000000 } from './1764721000000-pending-feedback.js';
import { HeartbeatDrift1764730000000 } from './1764730000000-heartbeat-drift.js';
import { ShadowEvaluation1764740000000 } from './1764740000000-shadow-evaluation.js';
import { PartitionedTelemetry1764750000000 } from './1764750000000-partitioned-telemetry.js';
import { ArtifactWireEncoding1764760000000 } from './1764760000000-artifact-wire-encoding.js';
import { HeartbeatRollupJob1764770000000 } from './1764770000000-heartbeat-rollup-job.js';
import { NodeHeartbeatOrder1764780000000 } from './1764780000000-node-heartbeat-order.js';
import { ShadowAbandonCause1764790000000 } from './1764790000000-shadow-abandon-cause.js';
import { RolloutNodeAttemptDeployment1764800000000 } from './1764800000000-rollout-node-attempt-deployment.js';

/**
 * Every migration in order. Migrations are never edited once landed: add a new one instead. The order is
 * TypeORM's (by timestamp), which is the order a fresh database applies them in; a database that already
 * applied a later one still gets an earlier one that is new to it (pending is decided by name).
 */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  InitialSchema1764340000000, FleetWire1764350000000, Rollouts1764360000000, DeployTimeSequence1764380000000,
  InstallationSettings1764390000000, ResultModelVersion1764400000000, HeartbeatModelVersion1764410000000,
  NodeIdentity1764420000000,
  Attestation1764490000000,
  Events1764500000000,
  ModelHealth1764510000000,
  ResultsPolicy1764600000000,
  RetentionIndexes1764610000000,
  ReportedConfidence1764720000000,
  PendingFeedback1764721000000,
  HeartbeatDrift1764730000000,
  ShadowEvaluation1764740000000,
  PartitionedTelemetry1764750000000,
  ArtifactWireEncoding1764760000000,
  HeartbeatRollupJob1764770000000,
  NodeHeartbeatOrder1764780000000,
  ShadowAbandonCause1764790000000,
  RolloutNodeAttemptDeployment1764800000000,
];
