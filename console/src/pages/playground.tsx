import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { MediaOutput } from '../components/media';
import type { TaskSummary } from '../components/tasks';
import { Field, Page, Problem, StatusBadge } from '../components/ui';
import { credits } from '../format';
import { useApi } from '../hooks';
import { bodyOf, defaultsOf, parametersOf, priceOf, type PublicModel } from '../media-form';

const ROUTES: Record<string, string> = { image: '/v1/images/generations', video: '/v1/videos', music: '/v1/music/generations' };
const FINAL = ['succeeded', 'failed', 'cancelled'];

/** Create an image, video or music task from a form built from the model, then watch it to the end. */
export function PlaygroundPage() {
  const { data: models, error: modelsError } = useApi<{ data: PublicModel[] }>('/v1/models');
  const media = useMemo(() => models?.data.filter((m) => m.category in ROUTES) ?? [], [models]);
  const [modelId, setModelId] = useState('');
  const model = media.find((m) => m.id === modelId) ?? media[0];
  const [values, setValues] = useState<Record<string, string | number>>({});
  const [prompt, setPrompt] = useState('');
  const [task, setTask] = useState<TaskSummary | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const watching = useRef(0);

  useEffect(() => {
    if (model) setValues(defaultsOf(model));
  }, [model?.id]);
  useEffect(() => () => void (watching.current = -1), []);

  if (!model) return <Page title="Playground"><Problem error={modelsError} />{models && <p class="muted">This key may use no media model.</p>}</Page>;
  const specs = parametersOf(model);
  const price = priceOf(model, values);

  /** Reads the task, then long-polls it (GET /v1/tasks/{id}?wait=) until it ends; progress shows as it comes. */
  async function watch(id: string, run: number) {
    for (let wait = 0; ; wait = 20) {
      const current = await api<TaskSummary>('GET', `/v1/tasks/${encodeURIComponent(id)}?wait=${wait}`);
      if (watching.current !== run) return;
      setTask(current);
      if (FINAL.includes(current.status)) return;
    }
  }

  async function submit(e: Event) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    const run = ++watching.current;
    try {
      const body = bodyOf(model!, prompt, values);
      setTask(null);
      const created = await api<{ id: string }>('POST', ROUTES[model!.category]!, body, { 'idempotency-key': `console-${crypto.randomUUID()}` });
      await watch(created.id, run);
    } catch (failure) {
      setError(failure instanceof ApiError ? `${failure.code}: ${failure.message}` : String(failure));
    } finally {
      setBusy(false);
    }
  }

  return (
    <Page title="Playground">
      <Problem error={modelsError} />
      <div class="grid-2">
        <form class="stack" onSubmit={submit} aria-label="Create a media task">
          <Field label="Model" id="pg-model">
            <select id="pg-model" value={model.id} onChange={(e) => setModelId(e.currentTarget.value)}>
              {media.map((m) => <option key={m.id} value={m.id}>{m.id} ({m.category})</option>)}
            </select>
          </Field>
          <Field label="Prompt" id="pg-prompt">
            <textarea id="pg-prompt" required rows={3} value={prompt} onInput={(e) => setPrompt(e.currentTarget.value)} />
          </Field>
          {Object.entries(specs).map(([name, spec]) => (
            <Field key={name} label={name.replace(/_/g, ' ')} id={`pg-${name}`}>
              {spec.enum ? (
                <select id={`pg-${name}`} value={String(values[name] ?? '')} onChange={(e) => setValues({ ...values, [name]: e.currentTarget.value })}>
                  {spec.optional && <option value="">model default</option>}
                  {spec.enum.map((option) => <option key={String(option)} value={String(option)}>{String(option)}</option>)}
                </select>
              ) : (
                <input id={`pg-${name}`} type="number" min={spec.minimum} max={spec.maximum}
                  value={values[name] ?? ''} onInput={(e) => setValues({ ...values, [name]: e.currentTarget.value })} />
              )}
            </Field>
          ))}
          <p class="price">Price: <strong data-testid="price">{credits(price)}</strong> credits
            <span class="muted"> ({Object.entries(model.pricing).map(([k, v]) => `${k.replace(/_/g, ' ')} ${v}`).join(', ')}{model.price_tiers ? `; by ${model.price_tiers.by}` : ''})</span></p>
          <button type="submit" disabled={busy}>{busy ? 'Running…' : 'Create task'}</button>
        </form>
        <div aria-live="polite">
          <Problem error={error} />
          {task && (
            <div class="result" data-testid="playground-task" data-status={task.status}>
              <p><a href={`#/tasks/${task.id}`}>{task.id}</a> <StatusBadge status={task.status} /></p>
              <progress max={100} value={task.progress ?? 0} aria-label="Progress">{task.progress ?? 0} %</progress>
              <p class="muted">{task.progress ?? 0} % · charged {credits(task.credits.charged)} of {credits(task.credits.reserved)} reserved</p>
              {task.error && <p class="problem">{task.error.code}: {task.error.message}</p>}
              {task.output.map((output, i) => <MediaOutput key={output.id} output={output} label={`Output ${i + 1}`} />)}
            </div>
          )}
        </div>
      </div>
    </Page>
  );
}
