#!/usr/bin/env node
/**
 * edgefleet-agent <enroll|run|status> --config <file>
 *   enroll  exchange the enrolment token for a node identity (idempotent)
 *   run     serve, update and report (enrols first when needed)
 *   status  print the node id, the update phase and the active model
 */
import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { Agent, log } from './agent.js';
import { AgentConfigError, loadAgentConfig } from './config.js';
import { enroll, EnrollmentError, loadIdentity } from './state/identity.js';
import { readJsonFile } from './state/atomic-file.js';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { config: { type: 'string', short: 'c' } } });
const command = positionals[0];

async function main(): Promise<number> {
  if (!values.config || !['enroll', 'run', 'status'].includes(command ?? '')) {
    console.error('usage: edgefleet-agent <enroll|run|status> --config <file>');
    return 64;
  }
  const config = await loadAgentConfig(values.config);
  if (command === 'enroll') {
    const identity = await enroll(config);
    console.log(JSON.stringify({ nodeId: identity.nodeId, broker: identity.mqtt.url }));
    return 0;
  }
  if (command === 'status') {
    const identity = await loadIdentity(config);
    console.log(JSON.stringify({ nodeId: identity?.nodeId ?? null, update: (await readJsonFile(join(config.stateDir, 'update.json'))) ?? null, active: (await readJsonFile(join(config.stateDir, 'active.json'))) ?? null }, null, 2));
    return 0;
  }
  const identity = (await loadIdentity(config)) ?? (await enroll(config));
  const agent = new Agent(config, identity);
  await agent.start();
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  await agent.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof AgentConfigError || error instanceof EnrollmentError) {
      log('error', error.message);
      process.exit(78);
    }
    log('error', 'agent crashed', { err: error instanceof Error ? error.stack : String(error) });
    process.exit(1);
  },
);
