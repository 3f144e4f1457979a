import { credits } from '../format';
import { useApi } from '../hooks';
import { Loading, Page, Problem, Stat } from '../components/ui';

interface Credits {
  account: { id: string; name: string; balance: number; reserved: number; debt: number };
  key: {
    id: string; name: string; prefix: string; rpm: number | null; budget: number | null; budget_spent: number; budget_reserved: number;
    budget_left: number | null; budget_monthly: number | null; month: string; month_spent: number; month_reserved: number; budget_monthly_left: number | null;
  };
}

/** The wallet and this key's budgets. */
export function CreditsPage() {
  const { data, error, loading } = useApi<Credits>('/v1/console/credits');
  return (
    <Page title="Credits">
      <Problem error={error} />
      <Loading loading={loading} />
      {data && (
        <>
          <h2>Wallet · {data.account.name}</h2>
          <div class="stats">
            <Stat label="Balance" value={credits(data.account.balance)} hint="spendable now" testId="balance" />
            <Stat label="Reserved" value={credits(data.account.reserved)} hint="held by running tasks and requests" testId="reserved" />
            <Stat label="Debt" value={credits(data.account.debt)} hint="owed; new work waits until it is paid" testId="debt" />
          </div>
          <h2>This key · {data.key.name} <span class="muted">({data.key.prefix}…)</span></h2>
          <table class="kv">
            <tbody>
              <tr><th scope="row">Total budget</th><td data-testid="budget">{data.key.budget === null ? 'no limit' : credits(data.key.budget)}</td></tr>
              <tr><th scope="row">Spent (all time)</th><td>{credits(data.key.budget_spent)}</td></tr>
              <tr><th scope="row">Reserved</th><td>{credits(data.key.budget_reserved)}</td></tr>
              <tr><th scope="row">Left of the total budget</th><td data-testid="budget-left">{data.key.budget_left === null ? 'no limit' : credits(data.key.budget_left)}</td></tr>
              <tr><th scope="row">Monthly budget ({data.key.month})</th><td>{data.key.budget_monthly === null ? 'no limit' : credits(data.key.budget_monthly)}</td></tr>
              <tr><th scope="row">Spent this month</th><td>{credits(data.key.month_spent)}</td></tr>
              <tr><th scope="row">Left this month</th><td data-testid="monthly-left">{data.key.budget_monthly_left === null ? 'no limit' : credits(data.key.budget_monthly_left)}</td></tr>
              <tr><th scope="row">Requests per minute</th><td>{data.key.rpm ?? 'no limit'}</td></tr>
            </tbody>
          </table>
        </>
      )}
    </Page>
  );
}
