import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { EdgeNode } from '../nodes/node.entity.js';

/** A node's broker credential: the hash of its secret, null once decommissioned. */
export interface NodeCredential {
  readonly id: string;
  readonly secretHash: string | null;
}

@Injectable()
export class NodeCredentialsRepository {
  // The DataSource, not TypeOrmModule.forFeature: the module then needs no TypeORM import (only repositories touch it).
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  find(nodeId: string): Promise<NodeCredential | null> {
    return this.db.getRepository(EdgeNode).findOne({ select: { id: true, secretHash: true }, where: { id: nodeId } });
  }
}
