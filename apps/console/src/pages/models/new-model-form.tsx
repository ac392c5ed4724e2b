import { unwrap } from '#api-client';
import { useState } from 'preact/hooks';
import { ProblemNote } from '../../components/problem.js';
import { useSession } from '../../lib/session-context.js';
import { asError } from '../../lib/use-load.js';
import { fieldViolations, violationOf } from '../../lib/violations.js';
import { DTYPES, EMPTY_MODEL_FORM, FormFieldError, type ModelFormFields, toCreateModelBody } from './model-form.js';

type Field = keyof ModelFormFields;

// Which API field each form field answers for: a violation of `inputSpec.shape` shows under the input shape.
const API_FIELD: Record<Field, string> = {
  name: 'name',
  task: 'task',
  description: 'description',
  inputName: 'inputSpec',
  inputShape: 'inputSpec',
  inputDtype: 'inputSpec',
  outputName: 'outputSpec',
  outputShape: 'outputSpec',
  outputDtype: 'outputSpec',
  classLabels: 'classLabels',
};
const SHOWN_ON: ReadonlySet<Field> = new Set(['name', 'task', 'description', 'inputShape', 'outputShape', 'classLabels']);

/** Create a model (operator and admin): the server's field violations are shown next to their inputs. */
export function NewModelForm({ onCreated }: { onCreated: (name: string) => void }) {
  const { api } = useSession();
  const [form, setForm] = useState<ModelFormFields>(EMPTY_MODEL_FORM);
  const [error, setError] = useState<Error>();
  const [busy, setBusy] = useState(false);
  const violations = error instanceof FormFieldError ? new Map([[error.field, error.message]]) : fieldViolations(error);
  const set = (field: Field, value: string) => setForm({ ...form, [field]: value });
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = unwrap(await api.POST('/v1/models', { body: toCreateModelBody(form) }));
      setForm(EMPTY_MODEL_FORM);
      onCreated(created.name);
    } catch (e) {
      setError(asError(e));
    } finally {
      setBusy(false);
    }
  };
  const field = (name: Field, label: string, options: { hint?: string; placeholder?: string; maxLength?: number; required?: boolean } = {}) => {
    const problem = SHOWN_ON.has(name) ? violationOf(violations, API_FIELD[name]) : undefined;
    const described = [options.hint ? `mh-${name}` : '', problem ? `me-${name}` : ''].filter(Boolean).join(' ');
    return (
      <div class="field">
        <label for={`m-${name}`}>{label}</label>
        <input
          id={`m-${name}`}
          value={form[name]}
          required={options.required ?? false}
          maxLength={options.maxLength ?? 200}
          placeholder={options.placeholder}
          aria-invalid={problem ? true : undefined}
          aria-describedby={described || undefined}
          onInput={(e) => set(name, e.currentTarget.value)}
        />
        {options.hint && <small id={`mh-${name}`}>{options.hint}</small>}
        {problem && (
          <small class="field-error" id={`me-${name}`} data-testid={`error-${name}`}>
            {problem}
          </small>
        )}
      </div>
    );
  };
  const dtype = (name: 'inputDtype' | 'outputDtype', label: string) => (
    <div class="field">
      <label for={`m-${name}`}>{label}</label>
      <select id={`m-${name}`} value={form[name]} onChange={(e) => set(name, e.currentTarget.value)}>
        {DTYPES.map((d) => (
          <option key={d}>{d}</option>
        ))}
      </select>
    </div>
  );
  return (
    <form class="form new-model" onSubmit={(e) => void submit(e)} aria-labelledby="new-model-title" noValidate>
      <h2 id="new-model-title">New model</h2>
      {field('name', 'Name', { hint: 'lowercase letters, digits and dashes', placeholder: 'digits-cnn', maxLength: 100, required: true })}
      {field('task', 'Task', { placeholder: 'classification', maxLength: 50, required: true })}
      {field('description', 'Description', { maxLength: 2000 })}
      <fieldset class="spec">
        <legend>Input</legend>
        {field('inputName', 'Input name', { maxLength: 100 })}
        {field('inputShape', 'Input shape', { hint: 'e.g. 1, 28, 28, 1', placeholder: '1, 28, 28, 1', required: true })}
        {dtype('inputDtype', 'Input type')}
      </fieldset>
      <fieldset class="spec">
        <legend>Output</legend>
        {field('outputName', 'Output name', { maxLength: 100 })}
        {field('outputShape', 'Output shape', { hint: 'e.g. 1, 10', placeholder: '1, 10', required: true })}
        {dtype('outputDtype', 'Output type')}
      </fieldset>
      {field('classLabels', 'Class labels', { hint: 'optional, comma-separated', maxLength: 100_000 })}
      <button type="submit" disabled={busy}>
        Create model
      </button>
      {/* The title and detail (a 409's words, or what a 400 is about); each violation also sits by its field. */}
      <ProblemNote error={error} />
    </form>
  );
}
