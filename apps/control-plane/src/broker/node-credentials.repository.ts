import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { EdgeNode } from '../nodes/node.entity.js';

/** A node's broker credential: the hash of its secret, null once decommissioned. */
export interface NodeCredential {
  readonly id: string;
  readonly secretHash: string | null;
}

@Injectable()
export class NodeCredentialsRepository {
  constructor(@InjectRepository(EdgeNode) private readonly nodes: Repository<EdgeNode>) {}

  find(nodeId: string): Promise<NodeCredential | null> {
    return this.nodes.findOne({ select: { id: true, secretHash: true }, where: { id: nodeId } });
  }
}
