import type { MigrationInterface } from 'typeorm';
import { InitialSchema1764340000000 } from './1764340000000-initial-schema.js';
import { FleetWire1764350000000 } from './1764350000000-fleet-wire.js';
import { Rollouts1764360000000 } from './1764360000000-rollouts.js';
import { DeployTimeSequence1764380000000 } from './1764380000000-deploy-time-sequence.js';
import { ResultModelVersion1764400000000 } from './1764400000000-result-model-version.js';

/** Every migration in order. Migrations are never edited once landed: add a new one instead. */
export const MIGRATIONS: (new () => MigrationInterface)[] = [
  InitialSchema1764340000000, FleetWire1764350000000, Rollouts1764360000000, DeployTimeSequence1764380000000,
  ResultModelVersion1764400000000,
];
