import { ApiProblemError } from '#api-client';

/** An API problem (RFC 7807) or any error, in words, announced to screen readers. */
export function ProblemNote({ error }: { error: Error | undefined }) {
  if (!error) return null;
  const title = error instanceof ApiProblemError ? error.problem.title : 'Error';
  const detail = error instanceof ApiProblemError ? (error.problem.detail ?? '') : error.message;
  return (
    <p class="problem" role="alert">
      <strong>{title}</strong> {detail}
    </p>
  );
}
