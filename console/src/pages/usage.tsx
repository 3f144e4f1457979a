import { useMemo, useState } from 'preact/hooks';
import { BarChart } from '../components/chart';
import { Field, Loading, Page, Problem } from '../components/ui';
import { credits, daysBetween, download, lastDays, toCsv } from '../format';
import { query, useApi } from '../hooks';

interface Usage {
  from: string;
  to: string;
  total: { requests: number; credits: number };
  data: { date: string; model: string; requests: number; credits: number; units: Record<string, number> }[];
}

/** Credits and requests per day by model (GET /v1/usage), as a chart with its table and a CSV export. */
export function UsagePage() {
  const [range, setRange] = useState(() => lastDays(30));
  const [draft, setDraft] = useState(range);
  const toIso = (day: string, end: boolean) => new Date(Date.parse(`${day}T00:00:00Z`) + (end ? 86_400_000 : 0)).toISOString();
  const { data, error, loading } = useApi<Usage>(`/v1/usage${query({ from: toIso(range.from, false), to: toIso(range.to, true) })}`);
  const chart = useMemo(() => {
    if (!data) return null;
    const days = daysBetween(range.from, range.to);
    const models = [...new Set(data.data.map((r) => r.model))].sort();
    const cell = (day: string, model: string) => data.data.find((r) => r.date === day && r.model === model);
    return {
      labels: days,
      series: [
        ...models.map((model, i) => ({ label: `${model} credits`, colour: i, values: days.map((d) => cell(d, model)?.credits ?? 0) })),
        ...models.map((model, i) => ({ label: `${model} requests`, colour: i, line: true, values: days.map((d) => cell(d, model)?.requests ?? 0) })),
      ],
    };
  }, [data, range]);
  const exportCsv = () => {
    if (!data) return;
    const rows = [['date', 'model', 'requests', 'credits', 'units'], ...data.data.map((r) => [r.date, r.model, r.requests, r.credits, JSON.stringify(r.units)])];
    download(`usage-${range.from}-${range.to}.csv`, toCsv(rows));
  };
  return (
    <Page title="Usage" actions={<button onClick={exportCsv} disabled={!data}>Export CSV</button>}>
      <form class="filters" onSubmit={(e) => (e.preventDefault(), setRange(draft))} aria-label="Usage period">
        <Field label="From" id="u-from"><input id="u-from" type="date" value={draft.from} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} /></Field>
        <Field label="To" id="u-to"><input id="u-to" type="date" value={draft.to} onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })} /></Field>
        <div class="filter-actions"><button type="submit">Show</button></div>
      </form>
      <Problem error={error} />
      <Loading loading={loading} />
      {data && chart && (
        <>
          <p>Total: <strong data-testid="usage-requests">{credits(data.total.requests)}</strong> requests, <strong data-testid="usage-credits">{credits(data.total.credits)}</strong> credits.</p>
          <BarChart title="Credits (bars) and requests (lines) per day by model" labels={chart.labels} series={chart.series} yTitle="credits" y2Title="requests" />
          <table aria-label="Usage by day and model">
            <thead><tr><th>Date</th><th>Model</th><th class="num">Requests</th><th class="num">Credits</th><th>Units</th></tr></thead>
            <tbody>
              {data.data.map((r) => (
                <tr key={`${r.date} ${r.model}`}><td>{r.date}</td><td>{r.model}</td><td class="num">{credits(r.requests)}</td><td class="num">{credits(r.credits)}</td>
                  <td>{Object.entries(r.units).map(([unit, value]) => `${unit}: ${value}`).join(', ')}</td></tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </Page>
  );
}
