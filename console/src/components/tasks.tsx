import { useState } from 'preact/hooks';
import { credits, when } from '../format';
import { query, useApi } from '../hooks';
import { MediaOutput, type Output } from './media';
import { Field, Loading, Problem, StatusBadge } from './ui';

export interface TaskSummary {
  id: string;
  kind: string;
  model: string;
  status: string;
  progress: number | null;
  created_at: number;
  completed_at: number | null;
  output: Output[];
  error: { code: string; message: string } | null;
  credits: { reserved: number; charged: number; refunded: number };
  account_id?: string;
}

export interface TaskFilter {
  kind: string;
  model: string;
  status: string;
  from: string;
  to: string;
  account_id?: string;
}

const EMPTY: TaskFilter = { kind: '', model: '', status: '', from: '', to: '' };

/** Temporal UI link of a task's workflow (workflow id = task id), when the gateway knows the UI. */
export function workflowUrl(taskId: string): string | null {
  const ui = document.body.dataset.temporalUi;
  if (!ui) return null;
  return `${ui}/namespaces/${encodeURIComponent(document.body.dataset.temporalNamespace ?? 'default')}/workflows/${encodeURIComponent(taskId)}`;
}

function Filters(props: { value: TaskFilter; onChange: (f: TaskFilter) => void; withAccount?: boolean }) {
  const [draft, setDraft] = useState(props.value);
  const set = (name: keyof TaskFilter) => (e: Event) => setDraft({ ...draft, [name]: (e.currentTarget as HTMLInputElement).value });
  return (
    <form class="filters" onSubmit={(e) => (e.preventDefault(), props.onChange(draft))} aria-label="Task filters">
      <Field label="Kind" id="f-kind">
        <select id="f-kind" value={draft.kind} onChange={set('kind')}>
          <option value="">any</option><option>image</option><option>video</option><option>music</option>
        </select>
      </Field>
      <Field label="Model" id="f-model"><input id="f-model" value={draft.model} onInput={set('model')} placeholder="any" /></Field>
      <Field label="Status" id="f-status">
        <select id="f-status" value={draft.status} onChange={set('status')}>
          <option value="">any</option>
          {['pending', 'queued', 'processing', 'succeeded', 'failed', 'cancelled'].map((s) => <option key={s}>{s}</option>)}
        </select>
      </Field>
      <Field label="From" id="f-from"><input id="f-from" type="date" value={draft.from} onInput={set('from')} /></Field>
      <Field label="To" id="f-to"><input id="f-to" type="date" value={draft.to} onInput={set('to')} /></Field>
      {props.withAccount && <Field label="Account" id="f-account"><input id="f-account" value={draft.account_id ?? ''} onInput={set('account_id')} placeholder="any" /></Field>}
      <div class="filter-actions">
        <button type="submit">Apply</button>
        <button type="button" class="secondary" onClick={() => (setDraft(EMPTY), props.onChange(EMPTY))}>Clear</button>
      </div>
    </form>
  );
}

/** The task gallery: filters, then a card per task with its first output playable in place. */
export function TaskGallery(props: { base: string; link: (id: string) => string; operator?: boolean }) {
  const [filter, setFilter] = useState<TaskFilter>(EMPTY);
  const [pages, setPages] = useState<string[]>(['']);
  const after = pages.at(-1);
  const { data, error, loading } = useApi<{ data: TaskSummary[]; has_more: boolean; last_id: string | null }>(
    `${props.base}${query({ ...filter, after, limit: 24 })}`,
  );
  return (
    <div>
      <Filters value={filter} withAccount={props.operator} onChange={(f) => (setFilter(f), setPages(['']))} />
      <Problem error={error} />
      <Loading loading={loading} />
      {data && data.data.length === 0 && <p class="muted">No tasks match.</p>}
      <ul class="gallery" aria-label="Tasks">
        {data?.data.map((task) => (
          <li class="card" key={task.id} data-task-id={task.id}>
            <div class="card-media">
              {task.output[0] ? <MediaOutput output={task.output[0]} label={`${task.kind} output of ${task.id}`} thumbnail /> : <div class="placeholder">{task.status === 'failed' ? task.error?.code : `${task.progress ?? 0} %`}</div>}
            </div>
            <div class="card-body">
              <a href={props.link(task.id)} class="task-link">{task.id}</a>
              <div><StatusBadge status={task.status} /> <span class="muted">{task.kind} · {task.model}</span></div>
              <div class="muted">{when(task.created_at)} · {credits(task.credits.charged)} credits</div>
              {props.operator && <div class="muted">account {task.account_id} {workflowUrl(task.id) && <a href={workflowUrl(task.id)!} target="_blank" rel="noreferrer">workflow</a>}</div>}
            </div>
          </li>
        ))}
      </ul>
      <div class="pager">
        {pages.length > 1 && <button class="secondary" onClick={() => setPages(pages.slice(0, -1))}>Newer</button>}
        {data?.has_more && <button class="secondary" onClick={() => setPages([...pages, data.last_id!])}>Older</button>}
      </div>
    </div>
  );
}

interface TaskDetailData extends TaskSummary {
  request: { prompt: string | null; duration: number | null };
  timeline: { at: string; event: string; status?: string; outcome?: string; code?: string; channel_id?: string; progress?: number }[];
  deliveries: { id: string; url: string; event_type: string; attempts: number; last_status: number | null; last_error: string | null; delivered_at: string | null }[];
  channel_id?: string | null;
  api_key_id?: string;
}

function describe(event: TaskDetailData['timeline'][number]): string {
  switch (event.event) {
    case 'created': return 'created (credits reserved)';
    case 'attempt': return `channel attempt ${event.channel_id ? `on ${event.channel_id} ` : ''}${event.outcome}${event.code ? ` (${event.code})` : ''}`;
    case 'progress': return `${event.status} ${event.progress} %`;
    default: return event.status ?? event.event;
  }
}

/** A task's page: status timeline, cost, outputs and callback deliveries. */
export function TaskDetail(props: { path: string; operator?: boolean }) {
  const { data: task, error, loading } = useApi<TaskDetailData>(props.path);
  if (!task) return <div><Problem error={error} /><Loading loading={loading} /></div>;
  const workflow = props.operator ? workflowUrl(task.id) : null;
  return (
    <div class="task-detail">
      <p><StatusBadge status={task.status} /> <span class="muted">{task.kind} · {task.model}</span>
        {workflow && <> · <a href={workflow} target="_blank" rel="noreferrer">Open the workflow in the Temporal UI</a></>}</p>
      {task.request.prompt && <p class="prompt">“{task.request.prompt}”</p>}
      {task.error && <p class="problem">{task.error.code}: {task.error.message}</p>}
      <div class="grid-2">
        <div>
          <h2>Timeline</h2>
          <ol class="timeline">
            {task.timeline.map((event, i) => <li key={i}><time>{when(event.at)}</time> {describe(event)}</li>)}
          </ol>
          <h2>Cost</h2>
          <table class="kv">
            <tbody>
              <tr><th scope="row">Reserved</th><td data-testid="cost-reserved">{credits(task.credits.reserved)}</td></tr>
              <tr><th scope="row">Charged</th><td data-testid="cost-charged">{credits(task.credits.charged)}</td></tr>
              <tr><th scope="row">Refunded</th><td>{credits(task.credits.refunded)}</td></tr>
            </tbody>
          </table>
          {props.operator && <p class="muted">account {task.account_id} · key {task.api_key_id} · channel {task.channel_id ?? '—'}</p>}
        </div>
        <div>
          <h2>Outputs</h2>
          {task.output.length === 0 && <p class="muted">No outputs.</p>}
          {task.output.map((output, i) => (
            <div class="output" key={output.id}>
              <MediaOutput output={output} label={`Output ${i + 1} of ${task.id}`} />
              <p class="muted">{output.content_type} · {credits(output.bytes)} bytes · <a href={output.url} rel="noreferrer" download>download</a></p>
            </div>
          ))}
        </div>
      </div>
      <h2>Callback deliveries</h2>
      {task.deliveries.length === 0 ? <p class="muted">No callbacks (the task has no callback URL, or it has not finished).</p> : (
        <table aria-label="Callback deliveries">
          <thead><tr><th>Event</th><th>URL</th><th>Attempts</th><th>Last status</th><th>Delivered</th></tr></thead>
          <tbody>
            {task.deliveries.map((d) => (
              <tr key={d.id}><td>{d.event_type}</td><td class="break">{d.url}</td><td>{d.attempts}</td><td>{d.last_status ?? d.last_error ?? '—'}</td><td>{when(d.delivered_at)}</td></tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
