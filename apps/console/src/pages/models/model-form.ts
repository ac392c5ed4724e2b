import type { Schemas } from '#api-client';

/** The new-model form's fields as typed; `toCreateModelBody` turns them into the API's body. */
export interface ModelFormFields {
  name: string;
  task: string;
  description: string;
  inputName: string;
  inputShape: string;
  inputDtype: string;
  outputName: string;
  outputShape: string;
  outputDtype: string;
  classLabels: string;
}

export const EMPTY_MODEL_FORM: ModelFormFields = {
  name: '',
  task: 'classification',
  description: '',
  inputName: 'input',
  inputShape: '',
  inputDtype: 'float32',
  outputName: 'probabilities',
  outputShape: '',
  outputDtype: 'float32',
  classLabels: '',
};

export const DTYPES = ['float32', 'float16', 'int8', 'uint8', 'int32', 'int64'] as const;

/** A field the form itself refuses, named as the API would name it (so it shows by the same input). */
export class FormFieldError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'FormFieldError';
  }
}

// A tensor has a handful of dimensions; a bound keeps a paste mistake from becoming a huge array.
const MAX_DIMENSIONS = 8;

/** "1, 28, 28, 1" → [1, 28, 28, 1]; the form says which spec is wrong rather than sending a bad shape. */
export function parseShape(text: string, which: 'input' | 'output'): number[] {
  const parts = text.split(',').map((p) => p.trim());
  const dims = parts.map(Number);
  if (parts.length > MAX_DIMENSIONS || dims.some((d, i) => parts[i] === '' || !Number.isInteger(d) || d < 1 || d > 1_000_000)) {
    throw new FormFieldError(`${which}Spec.shape`, `${which} shape must be 1 to ${MAX_DIMENSIONS} whole numbers from 1 to 1000000, separated by commas`);
  }
  return dims;
}

/**
 * Only the shapes are checked here (they are typed by hand and the API takes any object as a spec); the
 * name, task and the rest are the control plane's to judge, and its field violations come back to the form.
 */
export function toCreateModelBody(f: ModelFormFields): Schemas['CreateModelDto'] {
  const labels = f.classLabels
    .split(',')
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  return {
    name: f.name.trim(),
    task: f.task.trim(),
    ...(f.description.trim() ? { description: f.description.trim() } : {}),
    inputSpec: { name: f.inputName.trim(), shape: parseShape(f.inputShape, 'input'), dtype: f.inputDtype },
    outputSpec: { name: f.outputName.trim(), shape: parseShape(f.outputShape, 'output'), dtype: f.outputDtype },
    ...(labels.length ? { classLabels: labels } : {}),
  };
}
