import { Injectable } from '@nestjs/common';

export type RevokedListener = (actor: string) => void;

/**
 * Tells this replica's long-lived holders of a principal (event streams) that a key was revoked here, so
 * they drop it at once instead of at their next re-check. Other replicas learn it at that re-check.
 */
@Injectable()
export class KeyRevocations {
  private readonly listeners = new Set<RevokedListener>();

  subscribe(listener: RevokedListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  notify(actor: string): void {
    for (const listener of this.listeners) listener(actor);
  }
}
