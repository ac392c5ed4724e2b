#!/usr/bin/env node
/**
 * edgefleet-agent <enroll|run|status> --config <file>
 *   enroll  exchange the enrolment token for a node identity (idempotent); exit 75 if unreachable
 *   run     serve, update and report (enrols first when needed, waiting for an unreachable control plane)
 *   status  print the node id, the update phase and the active model
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { Agent, log } from './agent.js';
import { type AgentConfig, AgentConfigError, loadAgentConfig } from './config.js';
import { enroll, enrollWhenReachable, EnrollmentError, loadIdentity, warnIfFirstRootUnpinned } from './state/identity.js';
import { readJsonFile } from './state/atomic-file.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { config: { type: 'string', short: 'c' } } });
const command = positionals[0];

/**
 * The token is never stored in the state directory nor logged, and never needed again: later enrolments
 * prove the node's key pair. The config file is the operator's, so the agent does not rewrite it; it says
 * the token can go.
 */
function tokenNoLongerNeeded(config: AgentConfig): void {
  if (config.enrollmentToken) log('info', 'enrolled: the enrollmentToken in the config is no longer needed and can be removed (re-enrolment uses the node key pair)');
}

async function main(): Promise<number> {
  if (!values.config || !['enroll', 'run', 'status'].includes(command ?? '')) {
    console.error('usage: edgefleet-agent <enroll|run|status> --config <file>');
    return 64;
  }
  const config = await loadAgentConfig(values.config);
  if (command === 'enroll') {
    await warnIfFirstRootUnpinned(config, log);
    const identity = await enroll(config);
    tokenNoLongerNeeded(config);
    console.log(JSON.stringify({ nodeId: identity.nodeId, broker: identity.mqtt.url }));
    return 0;
  }
  if (command === 'status') {
    const identity = await loadIdentity(config);
    console.log(JSON.stringify({ nodeId: identity?.nodeId ?? null, update: (await readJsonFile(join(config.stateDir, 'update.json'))) ?? null, active: (await readJsonFile(join(config.stateDir, 'active.json'))) ?? null }, null, 2));
    return 0;
  }
  const stopping = new AbortController();
  process.once('SIGTERM', () => stopping.abort());
  process.once('SIGINT', () => stopping.abort());
  const outdated = () => log('info', 'the saved identity predates fleet namespaces: enrolling again (same node key and key pair, same node)');
  let identity = await loadIdentity(config, outdated);
  if (!identity) {
    await warnIfFirstRootUnpinned(config, log);
    try {
      identity = await enrollWhenReachable(config, { log, signal: stopping.signal });
      tokenNoLongerNeeded(config);
    } catch (error) {
      if (stopping.signal.aborted) return 0; // stopped while waiting for the control plane
      throw error;
    }
  }
  const agent = await Agent.open(config, identity);
  await agent.start();
  if (!stopping.signal.aborted) await new Promise((resolve) => stopping.signal.addEventListener('abort', resolve, { once: true }));
  await agent.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    // 75 (EX_TEMPFAIL): `enroll` could not reach the control plane; trying later can work.
    if (error instanceof EnrollmentError && error.retryable) {
      log('error', error.message, { cause: error.cause instanceof Error ? error.cause.message : undefined });
      process.exit(75);
    }
    // 78 (EX_CONFIG): a permanent configuration error (bad config file, token refused, wrong URL).
    if (error instanceof AgentConfigError || error instanceof EnrollmentError) {
      log('error', error.message);
      process.exit(78);
    }
    log('error', 'agent crashed', { err: error instanceof Error ? error.stack : String(error) });
    process.exit(1);
  },
);
