import { Injectable } from '@nestjs/common';
import { ConflictError, EdgeFleetError, ForbiddenError, UnauthenticatedError, UnavailableError } from '#common';
import { verifyEnrolmentProof } from '#trust';
import { EnrollmentChallengeRepository, type IssuedChallenge } from './enrollment-challenges.repository.js';
import type { EdgeNode } from './node.entity.js';
import { NodesRepository } from './nodes.repository.js';

/** A challenge lives long enough for one round trip from a slow device, not for a replay campaign. */
export const CHALLENGE_TTL_MS = 60_000;
/** Bounds what an unauthenticated caller who knows a node key can make us store for that node. */
export const MAX_OUTSTANDING_CHALLENGES = 5;

/** No enrolled node has this node key (the key itself is never echoed: it is a credential). */
export class UnknownNodeKeyError extends EdgeFleetError {
  readonly kind = 'not-found';
  constructor() {
    super('no enrolled node has this node key: a new node enrols with an enrolment token, without a proof');
  }
}

export const PROOF_REQUIRED =
  'this node is already enrolled: re-enrolling it needs proof of its registered key — ask POST /v1/enroll/challenge ' +
  'for a nonce and send its signature as `proof` — or an identity reset by an administrator (POST /v1/nodes/{id}/reset-identity), ' +
  'whose token registers a new key';

export interface ProofRequest {
  readonly nodeKey: string;
  readonly publicKey?: string;
  readonly proof?: { readonly nonce: string; readonly signature: string };
}

/** Challenges and proofs of possession of a node's registered Ed25519 key. */
@Injectable()
export class NodeIdentityService {
  constructor(
    private readonly nodes: NodesRepository,
    private readonly challenges: EnrollmentChallengeRepository,
  ) {}

  async challenge(nodeKey: string): Promise<IssuedChallenge> {
    const node = await this.nodes.findByNodeKey(nodeKey);
    if (!node) throw new UnknownNodeKeyError();
    if (node.status === 'decommissioned') throw new ForbiddenError('this node was decommissioned; enrol it with a new node key');
    if (!node.publicKey) {
      throw new ConflictError('this node has no registered key: it re-enrols only with the token of an identity reset by an administrator');
    }
    if ((await this.challenges.countOutstanding(node.id)) >= MAX_OUTSTANDING_CHALLENGES) {
      throw new UnavailableError(`too many outstanding challenges for this node; try again in ${CHALLENGE_TTL_MS / 1000} s`);
    }
    return this.challenges.issue(node.id, CHALLENGE_TTL_MS);
  }

  /**
   * Spends the request's challenge and checks its signature by the node's registered key. Called before
   * the enrolment transaction, so a failed attempt still spends the nonce.
   */
  async checkProof(node: Pick<EdgeNode, 'id' | 'publicKey'>, request: ProofRequest): Promise<void> {
    if (!node.publicKey) throw new UnauthenticatedError('this node has no registered key');
    if (!request.proof) throw new UnauthenticatedError(PROOF_REQUIRED);
    const challengedNode = await this.challenges.consume(request.proof.nonce);
    if (challengedNode !== node.id) {
      throw new UnauthenticatedError('unknown, used or expired challenge: ask POST /v1/enroll/challenge for a new one');
    }
    const fields = { nonce: request.proof.nonce, nodeKey: request.nodeKey, publicKey: request.publicKey ?? node.publicKey };
    if (!verifyEnrolmentProof(node.publicKey, fields, request.proof.signature)) {
      throw new UnauthenticatedError("the proof's signature does not verify with this node's registered key");
    }
    if (fields.publicKey !== node.publicKey) {
      throw new ForbiddenError('a node cannot replace its registered key by itself: an administrator resets its identity');
    }
  }

  /** Spends a nonce presented with a request that cannot succeed, so it is never tried twice. */
  async spendChallenge(nonce: string): Promise<void> {
    await this.challenges.consume(nonce);
  }

  forgetChallenges(nodeId: string): Promise<void> {
    return this.challenges.forgetNode(nodeId);
  }
}
