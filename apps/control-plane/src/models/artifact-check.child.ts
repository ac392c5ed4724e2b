/**
 * The entry of the child process an upload's check runs in (forked by ArtifactChecker from the built
 * file under dist/). Engines parse and run untrusted bytes synchronously and natively: here, a model
 * that spins, exhausts the heap or crashes the engine takes down this process only, never the API.
 * One request in, one reply out, then exit.
 */
import { UnprocessableError, ValidationError } from '#common';
import { checkArtifact } from './artifact-check.js';
import { type CheckReply, type CheckRequest } from './artifact-check.messages.js';

function replyFor(error: unknown): CheckReply {
  if (error instanceof ValidationError) return { outcome: 'invalid', message: error.message, violations: error.violations };
  if (error instanceof UnprocessableError) return { outcome: 'unprocessable', message: error.message };
  const failure = error instanceof Error ? error : new Error(String(error));
  return { outcome: 'failed', name: failure.name, message: failure.message, stack: failure.stack };
}

async function check(request: CheckRequest): Promise<CheckReply> {
  try {
    const { createEngines } = await import('#inference');
    // The parent SIGKILLs this process at the same bound; this one only names an engine that stalls asynchronously.
    const selfTest = await checkArtifact(createEngines(), request.spec, request.artifact, request.timeoutMs);
    return { outcome: 'passed', selfTest: selfTest ?? null };
  } catch (error) {
    return replyFor(error);
  }
}

process.once('message', (request: CheckRequest) => {
  void check(request).then((reply) => {
    // Exit once the reply is flushed: the parent advances its queue on exit, not on the reply.
    process.send?.(reply, undefined, {}, () => process.exit(0));
  });
});
