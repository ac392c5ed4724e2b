import { MAX_FEEDBACK_REQUEST_NODES, planFeedbackRequests } from './feedback-requests.js';

describe('planFeedbackRequests', () => {
  it('asks an item’s own node, or every node that served the version, with one list of distinct references per node', () => {
    const plan = planFeedbackRequests(
      [
        { position: 0, nodeId: 'n1', inputRef: 'a' },
        { position: 1, inputRef: 'b' },
        { position: 2, nodeId: 'n1', inputRef: 'a' },
        { position: 3, inputRef: 'c' },
      ],
      ['n2', 'n3'],
    );
    expect(Object.fromEntries(plan.byNode)).toEqual({ n1: ['a'], n2: ['b', 'c'], n3: ['b', 'c'] });
    expect(Object.fromEntries(plan.nodesOf)).toEqual({ 0: ['n1'], 1: ['n2', 'n3'], 2: ['n1'], 3: ['n2', 'n3'] });
  });

  it('leaves out an item with no node when no node served the version', () => {
    const plan = planFeedbackRequests([{ position: 4, inputRef: 'x' }], []);
    expect(plan.byNode.size).toBe(0);
    expect(plan.nodesOf.size).toBe(0);
  });

  it('asks at most MAX_FEEDBACK_REQUEST_NODES nodes however many served the version or are named', () => {
    const serving = Array.from({ length: 80 }, (_, i) => `s${i}`);
    const named = Array.from({ length: 80 }, (_, i) => ({ position: i + 1, nodeId: `n${i}`, inputRef: `r${i}` }));
    const plan = planFeedbackRequests([{ position: 0, inputRef: 'any' }, ...named], serving);
    expect(plan.byNode.size).toBe(MAX_FEEDBACK_REQUEST_NODES);
    expect(plan.nodesOf.get(0)).toHaveLength(MAX_FEEDBACK_REQUEST_NODES);
    expect(plan.nodesOf.has(1)).toBe(false); // every slot taken by the serving nodes
  });
});
