import type { FleetTopics } from '#protocol';
import type { BrokerAction } from './dto/broker-hooks.dto.js';
import type { NodeAcl } from './node-acl.js';

/** One rule of EMQX's ACL format (authentication answer `acl`, EMQX ≥ 5.8). */
export interface AclRule {
  readonly permission: 'allow' | 'deny';
  readonly action: 'publish' | 'subscribe' | 'all';
  readonly topic: string;
}

/**
 * The node's ACL as rules: `eq` makes the broker match each filter literally (as dynsec's
 * subscribeLiteral), so a node allowed `…/artifacts/+/chunks/+` cannot subscribe to `#`. The last rule
 * denies the rest: without it EMQX would fall through to its next authorizer (allow by default).
 */
export function nodeAclRules(acl: NodeAcl): AclRule[] {
  return [
    ...acl.publish.map((topic): AclRule => ({ permission: 'allow', action: 'publish', topic: `eq ${topic}` })),
    ...acl.subscribe.map((topic): AclRule => ({ permission: 'allow', action: 'subscribe', topic: `eq ${topic}` })),
    { permission: 'deny', action: 'all', topic: '#' },
  ];
}

/** Where the control plane's own account may publish and subscribe: its installation's namespace only. */
export function controlPlaneAclRules(topics: FleetTopics, sharedGroup: string): AclRule[] {
  return [
    { permission: 'allow', action: 'all', topic: topics.everything },
    { permission: 'allow', action: 'subscribe', topic: `$share/${sharedGroup}/${topics.everything}` },
    { permission: 'deny', action: 'all', topic: '#' },
  ];
}

/** The same decisions for brokers that ask per publish or subscribe (the authorize hook). */
export function nodePermits(acl: NodeAcl, action: BrokerAction, topic: string): boolean {
  return (action === 'publish' ? acl.publish : acl.subscribe).includes(topic);
}

export function controlPlanePermits(topics: FleetTopics, sharedGroup: string, topic: string): boolean {
  const prefix = topics.everything.slice(0, -1); // `ef/v1/{namespace}/`
  return topic.startsWith(prefix) || topic.startsWith(`$share/${sharedGroup}/${prefix}`);
}
