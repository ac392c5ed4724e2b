import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { type DataSource, type EntityManager, IsNull } from 'typeorm';
import {
  ConflictError,
  ForbiddenError,
  generateSecret,
  hashSecret,
  NotFoundError,
  UnauthenticatedError,
} from '#common';
import { AuditService } from '../audit/audit.service.js';
import { BrokerAccess } from '../broker/broker-access.js';
import type { Principal } from '../auth/principal.js';
import { isUniqueViolation } from '../database/pg-errors.js';
import { EnrollmentToken } from './enrollment-token.entity.js';
import type { Labels } from './label-selector.js';
import { EdgeNode, type HardwareProfile } from './node.entity.js';

export interface NewEnrollmentToken {
  readonly name: string;
  readonly labels: Labels;
  readonly expiresInSeconds: number;
  readonly maxUses: number;
}

export interface EnrollmentRequest {
  readonly token: string;
  readonly nodeKey: string;
  readonly name?: string;
  readonly hardware: HardwareProfile;
}

export interface Enrollment {
  readonly node: EdgeNode;
  /** Shown once; only its hash is stored. */
  readonly nodeSecret: string;
}

@Injectable()
export class EnrollmentService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly audit: AuditService,
    private readonly broker: BrokerAccess,
  ) {}

  async createToken(by: Principal, input: NewEnrollmentToken): Promise<{ record: EnrollmentToken; token: string }> {
    const token = generateSecret('eft');
    const record = await this.db.transaction(async (tx) => {
      const repo = tx.getRepository(EnrollmentToken);
      const saved = await repo.save(
        repo.create({
          name: input.name,
          labels: input.labels,
          tokenHash: hashSecret(token),
          expiresAt: new Date(Date.now() + input.expiresInSeconds * 1000),
          maxUses: input.maxUses,
          createdBy: by.actor,
          revokedAt: null,
        }),
      );
      await this.audit.record(tx, by, 'enrollment-token.create', { type: 'enrollment-token', id: saved.id }, {
        name: input.name,
        maxUses: input.maxUses,
        expiresAt: saved.expiresAt.toISOString(),
      });
      return saved;
    });
    return { record, token };
  }

  listTokens(): Promise<EnrollmentToken[]> {
    return this.db.getRepository(EnrollmentToken).find({ order: { createdAt: 'DESC' } });
  }

  async revokeToken(by: Principal, id: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const result = await tx.getRepository(EnrollmentToken).update({ id, revokedAt: IsNull() }, { revokedAt: new Date() });
      if (!result.affected) throw new NotFoundError('active enrolment token', id);
      await this.audit.record(tx, by, 'enrollment-token.revoke', { type: 'enrollment-token', id });
    });
  }

  /**
   * Exchanges a token and a hardware profile for a node identity. A retry with the same node key and
   * token (the node never saw the first answer) returns the same node with a fresh secret and does not
   * spend another use of the token.
   */
  async enroll(request: EnrollmentRequest): Promise<Enrollment> {
    try {
      const enrollment = await this.db.transaction((tx) => this.enrollIn(tx, request));
      // After the commit: if the broker is unreachable the node retries, which is idempotent and
      // re-keys the same broker client.
      await this.broker.registerNode(enrollment.node.id, enrollment.nodeSecret);
      return enrollment;
    } catch (error) {
      if (isUniqueViolation(error, 'nodes_node_key_key')) {
        throw new ConflictError('this node key was enrolled concurrently; retry', { cause: error });
      }
      throw error;
    }
  }

  private async enrollIn(tx: EntityManager, request: EnrollmentRequest): Promise<Enrollment> {
    // The row lock serialises enrolments on one token, so `uses` never exceeds `max_uses`.
    const token = await tx.getRepository(EnrollmentToken).findOne({
      where: { tokenHash: hashSecret(request.token) },
      lock: { mode: 'pessimistic_write' },
    });
    if (!token || token.revokedAt) throw new UnauthenticatedError('unknown or revoked enrolment token');
    if (token.expiresAt.getTime() <= Date.now()) throw new ForbiddenError('enrolment token has expired');

    const nodeSecret = generateSecret('efn');
    const nodes = tx.getRepository(EdgeNode);
    const existing = await nodes.findOneBy({ nodeKey: request.nodeKey });
    if (existing) {
      if (existing.status === 'decommissioned') throw new ForbiddenError('this node was decommissioned; enrol it with a new node key');
      if (existing.enrollmentTokenId !== token.id) throw new ConflictError('this node key is already enrolled with another token');
      existing.secretHash = hashSecret(nodeSecret);
      existing.hardware = request.hardware;
      const node = await nodes.save(existing);
      await this.audit.record(tx, `enrollment-token:${token.id}`, 'node.re-enroll', { type: 'node', id: node.id });
      return { node, nodeSecret };
    }

    if (token.uses >= token.maxUses) throw new ForbiddenError('enrolment token has no uses left');
    token.uses += 1;
    await tx.getRepository(EnrollmentToken).save(token);
    const node = await nodes.save(
      nodes.create({
        nodeKey: request.nodeKey,
        name: request.name ?? request.nodeKey.slice(0, 100),
        labels: token.labels,
        hardware: request.hardware,
        status: 'offline',
        secretHash: hashSecret(nodeSecret),
        enrollmentTokenId: token.id,
        currentModelVersionId: null,
        lastSeenAt: null,
        decommissionedAt: null,
      }),
    );
    await this.audit.record(tx, `enrollment-token:${token.id}`, 'node.enroll', { type: 'node', id: node.id }, {
      nodeKey: node.nodeKey,
      hardware: request.hardware,
    });
    return { node, nodeSecret };
  }
}
