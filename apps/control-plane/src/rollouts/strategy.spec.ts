import { describe, expect, it } from '@jest/globals';
import { ValidationError } from '#common';
import { parseStrategy, parseVariantRules } from './strategy.js';

describe('parseStrategy', () => {
  it('fills safe defaults', () => {
    expect(parseStrategy({})).toEqual({
      waves: { percentages: [100] },
      bakeSeconds: 0,
      successThreshold: 100,
      nodeTimeoutSeconds: 900,
      retries: { max: 2, backoffSeconds: 60, onFailure: false },
      continuous: false,
      requireApproval: false,
      rollbackOnHalt: false,
    });
  });

  it('names every bad field', () => {
    try {
      parseStrategy({ waves: { percentages: [50, 10] }, retries: { max: -1 }, maintenanceWindow: { cron: 'every day', durationMinutes: 60, timezone: 'Mars/Olympus' }, extra: 1 });
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const fields = (error as ValidationError).violations.map((v) => v.field).sort();
      expect(fields).toEqual(expect.arrayContaining(['strategy', 'strategy.maintenanceWindow.cron', 'strategy.maintenanceWindow.timezone', 'strategy.retries.max']));
    }
  });

  it('fills the shadow evaluation\'s defaults and bounds its fields', () => {
    expect(parseStrategy({ shadow: {} }).shadow).toEqual({ sampleRate: 0.05, minSamples: 100, minAgreement: 0.95, maxErrors: 0, durationSeconds: 0 });
    try {
      parseStrategy({ shadow: { sampleRate: 0, minAgreement: 2, maxDivergence: -1, verdict: 'yes' } });
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const fields = (error as ValidationError).violations.map((v) => v.field);
      expect(fields).toEqual(expect.arrayContaining(['strategy.shadow.sampleRate', 'strategy.shadow.minAgreement', 'strategy.shadow.maxDivergence', 'strategy.shadow']));
    }
  });

  it('refuses a shadow run as long as the node timeout, naming both fields', () => {
    expect(parseStrategy({ nodeTimeoutSeconds: 600, shadow: { durationSeconds: 599 } }).shadow?.durationSeconds).toBe(599);
    try {
      parseStrategy({ shadow: { durationSeconds: 900 } });
      throw new Error('accepted');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      const fields = (error as ValidationError).violations.map((v) => v.field);
      expect(fields).toEqual(expect.arrayContaining(['strategy.shadow.durationSeconds', 'strategy.nodeTimeoutSeconds']));
    }
  });

  it('needs a count or a percentage in a failure threshold', () => {
    expect(() => parseStrategy({ failureThreshold: { minExecuted: 5 } })).toThrow(ValidationError);
  });
});

describe('parseVariantRules', () => {
  it('accepts hardware and label rules, refuses a bad selector', () => {
    const id = '6f1c2f5e-8a9b-4c3d-9e2f-1a2b3c4d5e6f';
    expect(parseVariantRules([{ modelVersionId: id, match: { maxRamMb: 1024 } }, { modelVersionId: id }])).toHaveLength(2);
    expect(() => parseVariantRules([{ modelVersionId: id, match: { selector: 'a in (' } }])).toThrow(ValidationError);
    expect(() => parseVariantRules([])).toThrow(ValidationError);
  });
});
