import { Injectable } from '@nestjs/common';
import type { ResultsPolicy } from '#protocol';
import type { Tx } from '../database/transactions.js';
import { Model } from '../models/model.entity.js';
import { EdgeNode } from '../nodes/node.entity.js';
import { Rollout } from '../rollouts/rollout.entity.js';

/** The rows a results policy lives on (a model's, a rollout's) and the node a results request goes to. */
@Injectable()
export class ResultsPolicyRepository {
  /** Row-locked: concurrent policy changes of one model apply one after the other. */
  lockModel(tx: Tx, name: string): Promise<Model | null> {
    return tx.getRepository(Model).findOne({ where: { name }, lock: { mode: 'pessimistic_write' } });
  }

  async setModelPolicy(tx: Tx, modelId: string, policy: ResultsPolicy): Promise<void> {
    await tx.getRepository(Model).update({ id: modelId }, { resultsPolicy: policy });
  }

  lockRollout(tx: Tx, id: string): Promise<Rollout | null> {
    return tx.getRepository(Rollout).findOne({ where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  async setRolloutPolicy(tx: Tx, rolloutId: string, policy: ResultsPolicy): Promise<void> {
    await tx.getRepository(Rollout).update({ id: rolloutId }, { resultsPolicy: policy });
  }

  findNode(tx: Tx, id: string): Promise<EdgeNode | null> {
    return tx.getRepository(EdgeNode).findOneBy({ id });
  }
}
