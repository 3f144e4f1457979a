import { useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { Field, Loading, Page, Problem } from '../components/ui';
import { credits, when } from '../format';
import { useApi } from '../hooks';
import { go } from '../router';

interface AccountRow { id: string; name: string; balance: number; reserved: number; debt: number; active_keys: number; created_at: string }
interface LedgerRow { id: string; kind: string; amount: number; ref: string; reason: string | null; created_at: string }

/** Every account with its wallet; one account's top-up form and ledger. */
export function AccountsPage(props: { id?: string }) {
  const list = useApi<{ data: AccountRow[] }>('/admin/console/accounts');
  const [name, setName] = useState('');
  const [error, setError] = useState<string | null>(null);
  const create = async (e: Event) => {
    e.preventDefault();
    try {
      const created = await api<{ id: string }>('POST', '/admin/accounts', { name });
      setName('');
      list.reload();
      go(`accounts/${created.id}`);
    } catch (failure) {
      setError((failure as Error).message);
    }
  };
  return (
    <Page title="Accounts">
      <Problem error={list.error ?? error} />
      <Loading loading={list.loading} />
      <table aria-label="Accounts">
        <thead><tr><th>Account</th><th>Name</th><th class="num">Balance</th><th class="num">Reserved</th><th class="num">Debt</th><th class="num">Active keys</th><th>Created</th></tr></thead>
        <tbody>
          {list.data?.data.map((a) => (
            <tr key={a.id} class={a.id === props.id ? 'selected' : ''}>
              <td><a href={`#/accounts/${a.id}`}>{a.id}</a></td><td>{a.name}</td><td class="num" data-testid={`balance-${a.id}`}>{credits(a.balance)}</td>
              <td class="num">{credits(a.reserved)}</td><td class="num">{credits(a.debt)}</td><td class="num">{a.active_keys}</td><td>{when(a.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <form class="inline-form" onSubmit={create} aria-label="New account">
        <Field label="New account name" id="acct-name"><input id="acct-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} /></Field>
        <button type="submit">Create account</button>
      </form>
      {props.id && <AccountDetail id={props.id} onChange={list.reload} />}
    </Page>
  );
}

function AccountDetail(props: { id: string; onChange: () => void }) {
  const ledger = useApi<{ data: LedgerRow[] }>(`/admin/console/accounts/${encodeURIComponent(props.id)}/ledger?limit=100`);
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [error, setError] = useState<string | null>(null);
  const topUp = async (e: Event) => {
    e.preventDefault();
    setError(null);
    try {
      await api('POST', `/admin/accounts/${encodeURIComponent(props.id)}/credits`, { amount: Number(amount), ...(reason ? { reason } : {}) },
        { 'idempotency-key': `console-${crypto.randomUUID()}` });
      setAmount('');
      setReason('');
      ledger.reload();
      props.onChange();
    } catch (failure) {
      setError(failure instanceof ApiError ? `${failure.code}: ${failure.message}` : String(failure));
    }
  };
  return (
    <section aria-labelledby="acct-detail">
      <h2 id="acct-detail">{props.id}</h2>
      <form class="inline-form" onSubmit={topUp} aria-label="Top up">
        <Field label="Credits (negative to correct)" id="topup-amount"><input id="topup-amount" type="number" step={1} required value={amount} onInput={(e) => setAmount(e.currentTarget.value)} /></Field>
        <Field label="Reason" id="topup-reason"><input id="topup-reason" value={reason} onInput={(e) => setReason(e.currentTarget.value)} /></Field>
        <button type="submit">Top up</button>
      </form>
      <Problem error={error ?? ledger.error} />
      <h3>Ledger</h3>
      <table aria-label="Ledger">
        <thead><tr><th>When</th><th>Kind</th><th class="num">Amount</th><th>Ref</th><th>Reason</th></tr></thead>
        <tbody>
          {ledger.data?.data.map((e) => (
            <tr key={e.id}><td>{when(e.created_at)}</td><td>{e.kind}</td><td class="num">{credits(e.amount)}</td><td class="break">{e.ref}</td><td>{e.reason ?? ''}</td></tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
