/**
 * One worker process of the fleet simulator (forked by FleetSim): runs a NodeGroup and reports its
 * counts to the parent every second over the IPC channel. It exits when told to stop or when the
 * parent goes away (a killed bench leaves no orphaned MQTT clients behind).
 */
import { NodeGroup } from './node-group.js';
import type { WorkerCommand, WorkerReport } from './ipc.js';

const REPORT_MS = 1000;

function send(report: WorkerReport): void {
  process.send?.(report);
}

let group: NodeGroup | undefined;
let ticker: NodeJS.Timeout | undefined;

async function start(command: Extract<WorkerCommand, { type: 'start' }>): Promise<void> {
  group = new NodeGroup(command.endpoint, command.plan, command.nodes, command.firstSeq);
  const running = group;
  ticker = setInterval(() => send({ type: 'tick', ...running.takeCounts() }), REPORT_MS);
  await running.connect();
  send({ type: 'connected', count: command.nodes.length });
}

async function stop(): Promise<void> {
  clearInterval(ticker);
  await group?.stop();
  if (group) send({ type: 'tick', ...group.takeCounts() });
  send({ type: 'stopped' });
  process.disconnect?.();
}

process.on('message', (command: WorkerCommand) => {
  const done = command.type === 'start' ? start(command) : stop();
  done.catch((error: unknown) => {
    send({ type: 'failed', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    process.exitCode = 1;
    process.disconnect?.();
  });
});
process.on('disconnect', () => {
  clearInterval(ticker);
  void group?.stop().finally(() => process.exit());
});
