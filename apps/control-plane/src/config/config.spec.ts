import { describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults to the local services on 127.0.0.1 and their default ports', () => {
    const config = loadConfig({});
    expect(config.database.url).toBe('postgres://postgres@127.0.0.1:5432/edgefleet');
    expect(config.redis.url).toBe('redis://127.0.0.1:6379');
    expect(config.mqtt.url).toBe('mqtt://127.0.0.1:1883');
    expect(config.http.port).toBe(3000);
    expect(config.database.runMigrations).toBe(true);
    expect(config.distribution.broadcastWaitMs).toBe(2000);
  });

  it('bounds the upload check at 60 s and a 2 GiB heap unless told otherwise', () => {
    expect(loadConfig({}).artifacts).toMatchObject({ checkTimeoutMs: 60_000, checkMaxHeapMb: 2048 });
    expect(loadConfig({ ARTIFACT_CHECK_TIMEOUT_MS: '2000', ARTIFACT_CHECK_MAX_HEAP_MB: '512' }).artifacts).toMatchObject({ checkTimeoutMs: 2000, checkMaxHeapMb: 512 });
  });

  it('takes the broker packet limit the repo ships (1 MiB) as the MQTT message bound unless told otherwise', () => {
    expect(loadConfig({}).mqtt.maxMessageBytes).toBe(1024 * 1024);
    expect(loadConfig({ MQTT_MAX_MESSAGE_BYTES: '262144' }).mqtt.maxMessageBytes).toBe(262_144);
  });

  it('limits repairs per node by default: a burst of 10 requests, 12 a minute, a 0.5 s resend window, 2x the artifact', () => {
    expect(loadConfig({}).distribution.repair).toEqual({ requestBurst: 10, requestsPerMinute: 12, resendWindowMs: 500, maxArtifactMultiple: 2 });
    expect(loadConfig({ REPAIR_MAX_ARTIFACT_MULTIPLE: '1.5', REPAIR_RESEND_WINDOW_MS: '2000' }).distribution.repair).toMatchObject({ maxArtifactMultiple: 1.5, resendWindowMs: 2000 });
  });

  it('keeps telemetry 30 days in daily partitions, 3 made ahead, and refuses an interval or retention it cannot keep', () => {
    expect(loadConfig({}).retention).toMatchObject({ telemetryDays: 30, telemetryPartitionInterval: 'day', telemetryPartitionsAhead: 3 });
    expect(loadConfig({ TELEMETRY_PARTITION_INTERVAL: 'week', TELEMETRY_RETENTION_DAYS: '90' }).retention).toMatchObject({ telemetryDays: 90, telemetryPartitionInterval: 'week' });
    for (const env of [{ TELEMETRY_PARTITION_INTERVAL: 'hour' }, { TELEMETRY_RETENTION_DAYS: '1' }, { TELEMETRY_PARTITIONS_AHEAD: '0' }]) {
      expect(() => loadConfig(env)).toThrow(ConfigError);
    }
  });

  it('lets ingest lag 30 s before /health says degraded unless told otherwise', () => {
    expect(loadConfig({}).ingest.maxLagMs).toBe(30_000);
    expect(loadConfig({ INGEST_MAX_LAG_MS: '5000' }).ingest.maxLagMs).toBe(5000);
  });

  it('treats an empty variable as unset', () => {
    expect(loadConfig({ ADMIN_API_KEY: '' }).auth.bootstrapAdminKey).toBeUndefined();
  });

  it.each([
    ['PORT', 'eighty', 'PORT'],
    ['DATABASE_URL', 'mysql://localhost/x', 'DATABASE_URL: must be a URL with scheme postgres or postgresql'],
    ['REDIS_URL', 'not a url', 'REDIS_URL'],
    ['ADMIN_API_KEY', 'short', 'ADMIN_API_KEY: must be at least 32 characters'],
    ['LOG_LEVEL', 'loud', 'LOG_LEVEL'],
    ['MIGRATIONS_RUN', 'yes', 'MIGRATIONS_RUN'],
    ['ARTIFACT_CHECK_TIMEOUT_MS', '50', 'ARTIFACT_CHECK_TIMEOUT_MS'],
    ['ARTIFACT_CHECK_MAX_HEAP_MB', '16', 'ARTIFACT_CHECK_MAX_HEAP_MB'],
    ['BROADCAST_WAIT_MS', '60001', 'BROADCAST_WAIT_MS'],
    ['BROADCAST_WAIT_MS', '-1', 'BROADCAST_WAIT_MS'],
    ['MQTT_MAX_MESSAGE_BYTES', '65536', 'MQTT_MAX_MESSAGE_BYTES'],
    ['MQTT_MAX_MESSAGE_BYTES', '268435456', 'MQTT_MAX_MESSAGE_BYTES'],
    ['MQTT_MAX_MESSAGE_BYTES', 'a lot', 'MQTT_MAX_MESSAGE_BYTES'],
    ['REPAIR_REQUEST_BURST', '0', 'REPAIR_REQUEST_BURST'],
    ['REPAIR_REQUESTS_PER_MINUTE', '1.5', 'REPAIR_REQUESTS_PER_MINUTE'],
    ['REPAIR_RESEND_WINDOW_MS', '50', 'REPAIR_RESEND_WINDOW_MS'],
    ['REPAIR_MAX_ARTIFACT_MULTIPLE', '0.5', 'REPAIR_MAX_ARTIFACT_MULTIPLE'],
    ['INGEST_MAX_LAG_MS', '99', 'INGEST_MAX_LAG_MS'],
    ['INGEST_MAX_LAG_MS', 'soon', 'INGEST_MAX_LAG_MS'],
  ])('names the variable when %s is wrong', (name, value, expected) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(expected);
  });

  it('takes the desired-state lifetime in seconds or hours (7 days by default) and re-signs at a quarter of it, at most hourly', () => {
    expect(loadConfig({}).trust).toMatchObject({ desiredStateTtlSeconds: 7 * 86_400, desiredStateRefreshMs: 3_600_000 });
    expect(loadConfig({ DESIRED_STATE_TTL_HOURS: '2' }).trust).toMatchObject({ desiredStateTtlSeconds: 7200, desiredStateRefreshMs: 1_800_000 });
    expect(loadConfig({ DESIRED_STATE_TTL_SECONDS: '4', DESIRED_STATE_TTL_HOURS: '2' }).trust).toMatchObject({ desiredStateTtlSeconds: 4, desiredStateRefreshMs: 1000 });
    expect(() => loadConfig({ DESIRED_STATE_TTL_SECONDS: '1' })).toThrow('DESIRED_STATE_TTL_SECONDS');
  });

  it('derives the default namespace of a new installation from where the database is, so two new installations differ', () => {
    const a = loadConfig({ DATABASE_URL: 'postgres://u:one@db.example:5432/edgefleet' }).mqtt.fleetNamespace;
    expect(a).toMatch(/^edgefleet-[0-9a-f]{8}$/);
    expect(loadConfig({ DATABASE_URL: 'postgres://u:rotated@DB.example/edgefleet' }).mqtt.fleetNamespace).toBe(a);
    expect(loadConfig({ DATABASE_URL: 'postgres://u:one@db.example:5432/edgefleet_staging' }).mqtt.fleetNamespace).not.toBe(a);
    expect(loadConfig({ DATABASE_URL: 'postgres://u:one@other.example:5432/edgefleet' }).mqtt.fleetNamespace).not.toBe(a);
    expect(loadConfig({ FLEET_NAMESPACE: 'plant-7' }).mqtt.fleetNamespace).toBe('plant-7');
  });

  it.each(['a/b', 'a+b', '#', 'x\u0000', '$SYS', 'x'.repeat(65)])('refuses FLEET_NAMESPACE=%j', (value) => {
    expect(() => loadConfig({ FLEET_NAMESPACE: value })).toThrow('FLEET_NAMESPACE: one MQTT topic level');
  });

  it('reports every wrong variable at once', () => {
    try {
      loadConfig({ PORT: '-1', REDIS_URL: 'x' });
      throw new Error('expected a ConfigError');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems.map((p) => p.split(':')[0])).toEqual(['PORT', 'REDIS_URL']);
    }
  });
});
