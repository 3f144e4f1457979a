import type { ComponentChildren } from 'preact';

export function Page(props: { title: string; actions?: ComponentChildren; children: ComponentChildren }) {
  return (
    <section class="page" aria-labelledby="page-title">
      <header class="page-head">
        <h1 id="page-title">{props.title}</h1>
        {props.actions && <div class="actions">{props.actions}</div>}
      </header>
      {props.children}
    </section>
  );
}

export function Stat(props: { label: string; value: string; hint?: string; testId?: string }) {
  return (
    <div class="stat">
      <div class="stat-label">{props.label}</div>
      <div class="stat-value" data-testid={props.testId}>{props.value}</div>
      {props.hint && <div class="stat-hint">{props.hint}</div>}
    </div>
  );
}

export function Problem(props: { error: string | null }) {
  return props.error ? <p class="problem" role="alert">{props.error}</p> : null;
}

export function Loading(props: { loading: boolean }) {
  return props.loading ? <p class="muted" aria-live="polite">Loading…</p> : null;
}

export function StatusBadge(props: { status: string }) {
  return <span class={`badge badge-${props.status}`}>{props.status}</span>;
}

/** A labelled form control: the label is always tied to its input for screen readers. */
export function Field(props: { label: string; id: string; children: ComponentChildren; hint?: string }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      {props.children}
      {props.hint && <small class="muted">{props.hint}</small>}
    </div>
  );
}
