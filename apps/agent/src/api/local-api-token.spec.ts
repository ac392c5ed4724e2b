import { describe, expect, it } from '@jest/globals';
import { LocalApiToken } from './local-api-token.js';

describe('LocalApiToken.matches', () => {
  const token = new LocalApiToken('s3cr3t-token_value');

  it.each([
    ['Bearer s3cr3t-token_value', true],
    ['bearer s3cr3t-token_value', true],
    ['Bearer  s3cr3t-token_value ', true],
    [undefined, false],
    ['', false],
    ['Bearer', false],
    ['Bearer ', false],
    ['s3cr3t-token_value', false],
    ['Basic s3cr3t-token_value', false],
    ['Bearer s3cr3t-token_valu', false],
    ['Bearer s3cr3t-token_value2', false],
    ['Bearer s3cr3t-token_value extra', false],
  ])('%j → %s', (header, expected) => {
    expect(token.matches(header)).toBe(expected);
  });
});
