import { describe, expect, it } from '@jest/globals';
import { fleetTopics } from '#protocol';
import { controlPlanePermits, nodeAclRules, nodePermits } from './broker-acl.js';
import { nodeAcl } from './node-acl.js';

const topics = fleetTopics('plant-a');
const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

describe('broker ACL for HTTP-hook brokers', () => {
  it('gives a node literal rules for its own topics only, then denies everything', () => {
    const rules = nodeAclRules(nodeAcl(topics, A));
    expect(rules.at(-1)).toEqual({ permission: 'deny', action: 'all', topic: '#' });
    expect(rules.slice(0, -1).every((r) => r.permission === 'allow' && r.topic.startsWith('eq '))).toBe(true);
    expect(JSON.stringify(rules)).not.toContain(B);
  });

  it('matches topics literally: a wildcard filter is allowed only as written', () => {
    const acl = nodeAcl(topics, A);
    expect(nodePermits(acl, 'subscribe', topics.allArtifactChunks)).toBe(true);
    expect(nodePermits(acl, 'subscribe', 'ef/v1/plant-a/#')).toBe(false);
    expect(nodePermits(acl, 'publish', topics.uplink(A, 'heartbeat'))).toBe(true);
    expect(nodePermits(acl, 'publish', topics.uplink(B, 'heartbeat'))).toBe(false);
    expect(nodePermits(acl, 'subscribe', topics.uplink(A, 'heartbeat'))).toBe(false);
  });

  it('holds the control plane account to its own namespace, plain or through its shared group', () => {
    expect(controlPlanePermits(topics, 'cp', topics.desired(A))).toBe(true);
    expect(controlPlanePermits(topics, 'cp', topics.sharedUplink('cp', 'heartbeat'))).toBe(true);
    expect(controlPlanePermits(topics, 'cp', topics.sharedUplink('other-group', 'heartbeat'))).toBe(false);
    expect(controlPlanePermits(topics, 'cp', fleetTopics('plant-b').desired(A))).toBe(false);
    expect(controlPlanePermits(topics, 'cp', 'ef/v1/plant-ab/x')).toBe(false);
  });
});
