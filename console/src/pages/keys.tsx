import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { Field, Loading, Page, Problem } from '../components/ui';
import { credits, when } from '../format';
import { useApi } from '../hooks';

interface KeyRow {
  id: string; account_id: string; name: string; prefix: string; group: string; models: string[] | null; ip_allowlist: string[] | null;
  rpm: number | null; budget: number | null; budget_monthly: number | null; budget_spent: number; callback_url: string | null;
  expires_at: string | null; revoked_at: string | null; created_at: string;
}

interface Limits { name: string; group: string; models: string; ip_allowlist: string; rpm: string; budget: string; budget_monthly: string; callback_url: string; expires_at: string }

const list = (text: string) => (text.trim() ? text.split(',').map((s) => s.trim()).filter(Boolean) : null);
const numberOrNull = (text: string) => (text.trim() === '' ? null : Number(text));

function toBody(limits: Limits) {
  return {
    name: limits.name.trim() || undefined, group: limits.group || undefined, models: list(limits.models), ip_allowlist: list(limits.ip_allowlist),
    rpm: numberOrNull(limits.rpm), budget: numberOrNull(limits.budget), budget_monthly: numberOrNull(limits.budget_monthly),
    callback_url: limits.callback_url.trim() || null, expires_at: limits.expires_at ? new Date(limits.expires_at).toISOString() : null,
  };
}

function fromKey(key?: KeyRow): Limits {
  return {
    name: key?.name ?? '', group: key?.group ?? 'default', models: key?.models?.join(', ') ?? '', ip_allowlist: key?.ip_allowlist?.join(', ') ?? '',
    rpm: key?.rpm?.toString() ?? '', budget: key?.budget?.toString() ?? '', budget_monthly: key?.budget_monthly?.toString() ?? '',
    callback_url: key?.callback_url ?? '', expires_at: key?.expires_at?.slice(0, 16) ?? '',
  };
}

/** Every limit of a key as form fields; used to create a key and to edit one. */
function LimitsForm(props: { prefix: string; initial: Limits; submit: string; onSubmit: (limits: Limits) => Promise<void>; children?: preact.ComponentChildren }) {
  const [limits, setLimits] = useState(props.initial);
  // Preact types each input type apart; one helper for several types needs the cast below.
  const input = (name: keyof Limits, label: string, type: 'text' | 'number' | 'url' | 'datetime-local' = 'text', hint?: string) => (
    <Field label={label} id={`${props.prefix}-${name}`} hint={hint}>
      <input id={`${props.prefix}-${name}`} type={type as 'text'} value={limits[name]} onInput={(e) => setLimits({ ...limits, [name]: e.currentTarget.value })} />
    </Field>
  );
  return (
    <form class="key-form" onSubmit={(e) => (e.preventDefault(), void props.onSubmit(limits))}>
      {props.children}
      {input('name', 'Name')}
      {input('group', 'Group')}
      {input('models', 'Models', 'text', 'comma-separated ids or * wildcards; empty: all')}
      {input('ip_allowlist', 'IP allowlist', 'text', 'comma-separated addresses or CIDRs; empty: any')}
      {input('rpm', 'Requests per minute', 'number')}
      {input('budget', 'Total budget', 'number')}
      {input('budget_monthly', 'Monthly budget', 'number')}
      {input('callback_url', 'Default callback URL', 'url')}
      {input('expires_at', 'Expires at (UTC)', 'datetime-local')}
      <button type="submit">{props.submit}</button>
    </form>
  );
}

/** Keys: create, revoke, rotate, and every limit editable. A new secret is shown once. */
export function KeysPage() {
  const keys = useApi<{ data: KeyRow[] }>('/admin/keys');
  const accounts = useApi<{ data: { id: string; name: string }[] }>('/admin/console/accounts');
  const [error, setError] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ id: string; key: string } | null>(null);
  const [editing, setEditing] = useState<string | null>(null);
  const [accountId, setAccountId] = useState('');
  const act = async (work: () => Promise<void>) => {
    setError(null);
    try {
      await work();
      keys.reload();
    } catch (failure) {
      setError(failure instanceof ApiError ? `${failure.code}: ${failure.message}` : String(failure));
    }
  };
  return (
    <Page title="Keys">
      <Problem error={error ?? keys.error} />
      {secret && (
        <div class="notice" role="status">
          <p>The new secret of <strong>{secret.id}</strong>, shown only now:</p>
          <code class="secret" data-testid="new-secret">{secret.key}</code>
          <button class="secondary" onClick={() => setSecret(null)}>Done</button>
        </div>
      )}
      <Loading loading={keys.loading} />
      <table aria-label="Keys">
        <thead><tr><th>Key</th><th>Account</th><th>Name</th><th>Limits</th><th class="num">Spent</th><th>State</th><th>Actions</th></tr></thead>
        <tbody>
          {keys.data?.data.map((k) => (
            <tr key={k.id} data-key-id={k.id}>
              <td><code>{k.prefix}…</code><br /><span class="muted">{k.id}</span></td>
              <td>{k.account_id}</td><td>{k.name}</td>
              <td class="muted">group {k.group}; rpm {k.rpm ?? '∞'}; budget {k.budget === null ? '∞' : credits(k.budget)}; monthly {k.budget_monthly === null ? '∞' : credits(k.budget_monthly)}; models {k.models?.join(', ') ?? 'all'}</td>
              <td class="num">{credits(k.budget_spent)}</td>
              <td>{k.revoked_at ? <span class="badge badge-failed">revoked {when(k.revoked_at)}</span> : k.expires_at ? `expires ${when(k.expires_at)}` : 'active'}</td>
              <td class="row-actions">
                {!k.revoked_at && <>
                  <button class="secondary" onClick={() => setEditing(editing === k.id ? null : k.id)}>Edit</button>
                  <button class="secondary" onClick={() => act(async () => setSecret({ id: k.id, key: (await api<{ key: string }>('POST', `/admin/keys/${k.id}/rotate`)).key }))}>Rotate</button>
                  <button class="danger" onClick={() => confirm(`Revoke ${k.id}? It stops working at once.`) && act(() => api('DELETE', `/admin/keys/${k.id}`))}>Revoke</button>
                </>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {editing && keys.data && (
        <section aria-labelledby="edit-title">
          <h2 id="edit-title">Edit {editing}</h2>
          <LimitsForm key={editing} prefix="edit" submit="Save limits" initial={fromKey(keys.data.data.find((k) => k.id === editing))}
            onSubmit={(limits) => act(async () => (await api('PATCH', `/admin/keys/${editing}`, toBody(limits)), setEditing(null)))} />
        </section>
      )}
      <section aria-labelledby="new-key">
        <h2 id="new-key">New key</h2>
        <LimitsForm prefix="new" submit="Create key" initial={fromKey()}
          onSubmit={(limits) => act(async () => {
            const created = await api<{ id: string; key: string }>('POST', '/admin/keys', { account_id: accountId, ...toBody(limits) });
            setSecret({ id: created.id, key: created.key });
          })}>
          <Field label="Account" id="new-account">
            <select id="new-account" required value={accountId} onChange={(e) => setAccountId(e.currentTarget.value)}>
              <option value="">choose an account</option>
              {accounts.data?.data.map((a) => <option key={a.id} value={a.id}>{a.name} ({a.id})</option>)}
            </select>
          </Field>
        </LimitsForm>
      </section>
    </Page>
  );
}
