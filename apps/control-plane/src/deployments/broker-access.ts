import { Injectable } from '@nestjs/common';

/**
 * Grants nodes read access to an artifact's chunk topics at the broker. With an anonymous development
 * broker there is nothing to grant; the dynamic-security implementation replaces this.
 */
@Injectable()
export class BrokerAccess {
  async allowArtifact(_nodeIds: string[], _sha256: string): Promise<void> {}
}
