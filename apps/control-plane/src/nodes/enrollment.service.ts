import { EventRecorder } from '../events/event-recorder.js';
import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import {
  ConflictError,
  ForbiddenError,
  generateSecret,
  hashSecret,
  NotFoundError,
  UnauthenticatedError,
  ValidationError,
} from '#common';
import { isEd25519PublicKey } from '#trust';
import { AuditService } from '../audit/audit.service.js';
import { BrokerAccess } from '../broker/broker-access.js';
import type { Principal } from '../auth/principal.js';
import { isUniqueViolation } from '../database/pg-errors.js';
import { Transactions, type Tx } from '../database/transactions.js';
import { DEFAULT_TOKEN_LIFETIME_SECONDS } from './token-policy.js';
import type { EnrollmentToken } from './enrollment-token.entity.js';
import { EnrollmentTokensRepository } from './enrollment-tokens.repository.js';
import type { Labels } from './label-selector.js';
import type { EdgeNode, HardwareProfile } from './node.entity.js';
import { NodesRepository } from './nodes.repository.js';
import { NodeIdentityService, PROOF_REQUIRED, type ProofRequest } from './node-identity.service.js';

export interface NewEnrollmentToken {
  readonly name: string;
  readonly labels: Labels;
  readonly expiresInSeconds: number;
  readonly maxUses: number;
  /** Only an identity reset sets it: the token then re-enrols this node and nothing else. */
  readonly nodeId?: string;
}

export interface EnrollmentRequest extends ProofRequest {
  readonly token?: string;
  readonly name?: string;
  readonly hardware: HardwareProfile;
}

export interface Enrollment {
  readonly node: EdgeNode;
  /** Shown once; only its hash is stored. */
  readonly nodeSecret: string;
}

export interface IdentityReset {
  readonly nodeId: string;
  readonly token: string;
  readonly expiresAt: Date;
}

const NO_REGISTERED_KEY =
  'this node has no registered key: it re-enrols only with the token of an identity reset (POST /v1/nodes/{id}/reset-identity, admin) and a publicKey';

/** The node and key a proof of possession was checked against, before the enrolment transaction. */
interface ProvenKey {
  readonly nodeId: string;
  readonly publicKey: string;
}

@Injectable()
export class EnrollmentService {
  constructor(
    private readonly transactions: Transactions,
    private readonly nodes: NodesRepository,
    private readonly tokens: EnrollmentTokensRepository,
    private readonly audit: AuditService,
    private readonly broker: BrokerAccess,
    private readonly identity: NodeIdentityService,
    private readonly events: EventRecorder,
  ) {}

  async createToken(by: Principal, input: NewEnrollmentToken): Promise<{ record: EnrollmentToken; token: string }> {
    return this.transactions.run((tx) => this.createTokenIn(tx, by, input));
  }

  private async createTokenIn(tx: Tx, by: Principal, input: NewEnrollmentToken): Promise<{ record: EnrollmentToken; token: string }> {
    const token = generateSecret('eft');
    const record = await this.tokens.insert(tx, {
      name: input.name,
      labels: input.labels,
      tokenHash: hashSecret(token),
      expiresAt: new Date(Date.now() + input.expiresInSeconds * 1000),
      maxUses: input.maxUses,
      createdBy: by.actor,
      nodeId: input.nodeId ?? null,
    });
    await this.audit.record(tx, by, 'enrollment-token.create', { type: 'enrollment-token', id: record.id }, {
      name: input.name,
      maxUses: input.maxUses,
      expiresAt: record.expiresAt.toISOString(),
      ...(input.nodeId ? { nodeId: input.nodeId } : {}),
    });
    return { record, token };
  }

  listTokens(): Promise<EnrollmentToken[]> {
    return this.tokens.list();
  }

  async revokeToken(by: Principal, id: string): Promise<void> {
    await this.transactions.run(async (tx) => {
      if (!(await this.tokens.revoke(tx, id, new Date()))) throw new NotFoundError('active enrolment token', id);
      await this.audit.record(tx, by, 'enrollment-token.revoke', { type: 'enrollment-token', id });
    });
  }

  /**
   * Exchanges a token (a new node) or a proof of possession of the registered key (an enrolled node) for
   * node credentials. Every re-enrolment rotates the node's secret, so it must be the node itself asking:
   * the token and the node key alone no longer re-key a node.
   */
  async enroll(request: EnrollmentRequest): Promise<Enrollment> {
    if (request.publicKey !== undefined && !isEd25519PublicKey(request.publicKey)) {
      throw new ValidationError('publicKey is not a base64 SPKI Ed25519 public key', [{ field: 'publicKey', message: 'must be a base64 SPKI DER Ed25519 public key' }]);
    }
    try {
      const proven = await this.provePossession(request);
      const enrollment = await this.transactions.run((tx) => this.enrollIn(tx, request, proven));
      // After the commit: if the broker is unreachable the node retries (with a new proof) and re-keys the
      // same broker client.
      await this.broker.registerNode(enrollment.node.id, enrollment.nodeSecret);
      return enrollment;
    } catch (error) {
      if (isUniqueViolation(error, 'nodes_node_key_key')) {
        throw new ConflictError('this node key was enrolled concurrently; retry', { cause: error });
      }
      throw error;
    }
  }

  /** Checks a proof outside the transaction, so its challenge is spent even if the enrolment fails. */
  private async provePossession(request: EnrollmentRequest): Promise<ProvenKey | undefined> {
    if (!request.proof) return undefined;
    const node = await this.nodes.findByNodeKey(request.nodeKey);
    if (!node?.publicKey) {
      await this.identity.spendChallenge(request.proof.nonce);
      throw new UnauthenticatedError('a proof re-enrols only an enrolled node with a registered key; a new node enrols with a token');
    }
    await this.identity.checkProof(node, request);
    return { nodeId: node.id, publicKey: node.publicKey };
  }

  private async enrollIn(tx: Tx, request: EnrollmentRequest, proven: ProvenKey | undefined): Promise<Enrollment> {
    const existing = await this.nodes.lockByNodeKey(tx, request.nodeKey);
    if (!existing) return this.createNode(tx, request);
    if (existing.status === 'decommissioned') throw new ForbiddenError('this node was decommissioned; enrol it with a new node key');
    if (existing.publicKey) {
      // The key may have been reset between the proof and this row lock: the proof must match the row.
      if (proven?.nodeId !== existing.id || proven.publicKey !== existing.publicKey) throw new UnauthenticatedError(PROOF_REQUIRED);
      return this.rekey(tx, existing, request, `node:${existing.id}`, 'proof');
    }
    return this.registerAfterReset(tx, existing, request);
  }

  private async createNode(tx: Tx, request: EnrollmentRequest): Promise<Enrollment> {
    const token = await this.spendToken(tx, request.token);
    const nodeSecret = generateSecret('efn');
    const id = randomUUID();
    const node = await this.nodes.insert(tx, {
      id,
      nodeKey: request.nodeKey,
      publicKey: request.publicKey ?? null,
      // Never the node key: names are shown to every viewer.
      name: request.name ?? `node-${id.slice(0, 8)}`,
      labels: token.labels,
      hardware: request.hardware,
      status: 'offline',
      secretHash: hashSecret(nodeSecret),
      enrollmentTokenId: token.id,
      currentModelVersionId: null,
      lastSeenAt: null,
      decommissionedAt: null,
    });
    await this.audit.record(tx, `enrollment-token:${token.id}`, 'node.enroll', { type: 'node', id: node.id }, {
      hardware: request.hardware,
      keyRegistered: node.publicKey !== null,
    });
    await this.events.record(tx, { type: 'node.enrolled', subjects: { nodeId: node.id }, payload: { name: node.name } });
    return { node, nodeSecret };
  }

  /** A node without a registered key (enrolled before keys, or reset): only its reset token re-enrols it. */
  private async registerAfterReset(tx: Tx, node: EdgeNode, request: EnrollmentRequest): Promise<Enrollment> {
    if (!request.token || !request.publicKey) throw new UnauthenticatedError(NO_REGISTERED_KEY);
    const token = await this.spendToken(tx, request.token, node.id);
    node.publicKey = request.publicKey;
    return this.rekey(tx, node, request, `enrollment-token:${token.id}`, 'identity-reset-token');
  }

  private async rekey(tx: Tx, node: EdgeNode, request: EnrollmentRequest, actor: string, by: 'proof' | 'identity-reset-token'): Promise<Enrollment> {
    const nodeSecret = generateSecret('efn');
    node.secretHash = hashSecret(nodeSecret);
    node.hardware = request.hardware;
    const saved = await this.nodes.save(tx, node);
    await this.audit.record(tx, actor, 'node.re-enroll', { type: 'node', id: node.id }, { by });
    return { node: saved, nodeSecret };
  }

  /**
   * Spends one use of a token that is for this purpose: an ordinary token creates a node; a reset token
   * (`forNode`) re-enrols only the node it was issued for. The row lock serialises enrolments on one
   * token, so `uses` never exceeds `max_uses`.
   */
  private async spendToken(tx: Tx, secret: string | undefined, forNode: string | null = null): Promise<EnrollmentToken> {
    if (!secret) throw new UnauthenticatedError('an enrolment token is required to enrol a new node');
    const token = await this.tokens.lockByHash(tx, hashSecret(secret));
    if (!token || token.revokedAt) throw new UnauthenticatedError('unknown or revoked enrolment token');
    if (forNode && token.nodeId !== forNode) throw new UnauthenticatedError(NO_REGISTERED_KEY);
    if (!forNode && token.nodeId) throw new ForbiddenError('this token comes from an identity reset: it re-enrols only that node');
    if (token.expiresAt.getTime() <= Date.now()) throw new ForbiddenError('enrolment token has expired');
    if (token.uses >= token.maxUses) throw new ForbiddenError('enrolment token has no uses left');
    token.uses += 1;
    await this.tokens.save(tx, token);
    return token;
  }

  /**
   * An administrator's way out when a node lost its key, or may have been taken over: the registered key
   * and the broker credentials are revoked, and a single-use token bound to this node registers one new
   * key (the node re-enrols with it and its node key).
   */
  async resetIdentity(by: Principal, nodeId: string): Promise<IdentityReset> {
    const reset = await this.transactions.run(async (tx) => {
      const node = await this.nodes.lock(tx, nodeId);
      if (!node) throw new NotFoundError('node', nodeId);
      if (node.status === 'decommissioned') throw new ConflictError('this node is decommissioned; enrol the device as a new node');
      node.publicKey = null;
      node.secretHash = null;
      await this.nodes.save(tx, node);
      // Earlier reset tokens of this node stop working: only the newest one registers a key.
      await this.tokens.revokeForNode(tx, nodeId, new Date());
      const { record, token } = await this.createTokenIn(tx, by, {
        name: `identity reset of node ${nodeId.slice(0, 8)}`,
        labels: {},
        expiresInSeconds: DEFAULT_TOKEN_LIFETIME_SECONDS,
        maxUses: 1,
        nodeId,
      });
      await this.audit.record(tx, by, 'node.reset-identity', { type: 'node', id: nodeId }, { enrollmentTokenId: record.id });
      return { nodeId, token, expiresAt: record.expiresAt };
    });
    // After the commit, like decommissioning: the broker refuses the old credentials from now on.
    await this.broker.revokeNode(nodeId);
    await this.identity.forgetChallenges(nodeId);
    return reset;
  }
}
