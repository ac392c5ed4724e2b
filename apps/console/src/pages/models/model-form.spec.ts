import { describe, expect, it } from '@jest/globals';
import { EMPTY_MODEL_FORM, toCreateModelBody } from './model-form.js';

const filled = { ...EMPTY_MODEL_FORM, name: ' digits ', inputShape: '1, 16', outputShape: '1,4' };

describe('the new-model form → POST /v1/models body', () => {
  it('builds the specs from the shapes and dtypes, and leaves out empty optional fields', () => {
    expect(toCreateModelBody(filled)).toEqual({
      name: 'digits',
      task: 'classification',
      inputSpec: { name: 'input', shape: [1, 16], dtype: 'float32' },
      outputSpec: { name: 'probabilities', shape: [1, 4], dtype: 'float32' },
    });
  });

  it('sends class labels and a description when given', () => {
    expect(toCreateModelBody({ ...filled, description: ' d ', classLabels: 'cat, dog,, ' })).toMatchObject({ description: 'd', classLabels: ['cat', 'dog'] });
  });

  it.each([['' ], ['1, x'], ['0, 4'], ['1,,4'], ['1.5'], ['1,1,1,1,1,1,1,1,1']])('refuses the input shape %j', (shape) => {
    expect(() => toCreateModelBody({ ...filled, inputShape: shape })).toThrow('input shape must be');
  });
});
