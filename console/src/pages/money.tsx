import { useMemo, useState } from 'preact/hooks';
import { BarChart } from '../components/chart';
import { Field, Loading, Page, Problem, Stat } from '../components/ui';
import { credits, daysBetween, download, lastDays, toCsv } from '../format';
import { query, useApi } from '../hooks';

interface MoneyRow { day: string; model: string; channel_id: string | null; requests: number; revenue: number; costed_revenue: number; upstream_cost: number | null; margin: number | null; uncosted_requests: number }
interface Money { from: string; to: string; total: { requests: number; revenue: number; costed_revenue: number; upstream_cost: number; margin: number; uncosted_requests: number }; data: MoneyRow[] }

/** One line of a table: the margin covers only the requests whose channel has upstream pricing. */
interface Group { key: string; requests: number; revenue: number; costedRevenue: number; cost: number; uncosted: number }

function groupBy(rows: MoneyRow[], key: (row: MoneyRow) => string): Group[] {
  const groups = new Map<string, Group>();
  for (const row of rows) {
    const id = key(row);
    const g = groups.get(id) ?? { key: id, requests: 0, revenue: 0, costedRevenue: 0, cost: 0, uncosted: 0 };
    g.requests += row.requests;
    g.revenue += row.revenue;
    g.costedRevenue += row.costed_revenue;
    g.cost += row.upstream_cost ?? 0;
    g.uncosted += row.uncosted_requests;
    groups.set(id, g);
  }
  return [...groups.values()].sort((a, b) => a.key.localeCompare(b.key));
}

function GroupTable(props: { title: string; what: string; groups: Group[] }) {
  return (
    <section aria-labelledby={`money-${props.what}`}>
      <h2 id={`money-${props.what}`}>{props.title}</h2>
      <table aria-label={props.title} data-testid={`money-by-${props.what}`}>
        <thead><tr><th>{props.what}</th><th class="num">Requests</th><th class="num">Revenue</th><th class="num">Upstream cost</th><th class="num">Margin</th><th class="num">Margin %</th></tr></thead>
        <tbody>
          {props.groups.map((g) => {
            const known = g.requests > g.uncosted;
            return (
              <tr key={g.key}>
                <td>{g.key}</td><td class="num">{credits(g.requests)}</td><td class="num">{credits(g.revenue)}</td>
                <td class="num">{known ? credits(g.cost) : 'unknown'}{known && g.uncosted > 0 && <span class="muted"> ({g.uncosted} {g.uncosted === 1 ? 'request' : 'requests'} without)</span>}</td>
                <td class="num">{known ? credits(g.costedRevenue - g.cost) : '—'}</td>
                <td class="num">{known && g.costedRevenue ? `${(((g.costedRevenue - g.cost) / g.costedRevenue) * 100).toFixed(1)} %` : '—'}</td>
              </tr>
            );
          }          )}
        </tbody>
      </table>
    </section>
  );
}

/** Revenue, upstream cost and margin by model, channel and day. */
export function MoneyPage() {
  const [range, setRange] = useState(() => lastDays(30));
  const [draft, setDraft] = useState(range);
  const { data, error, loading } = useApi<Money>(`/admin/console/money${query(range)}`);
  const grouped = useMemo(() => data && {
    model: groupBy(data.data, (r) => r.model),
    channel: groupBy(data.data, (r) => r.channel_id ?? '(none)'),
    day: groupBy(data.data, (r) => r.day),
  }, [data]);
  const chart = useMemo(() => {
    if (!grouped) return null;
    const days = daysBetween(range.from, range.to);
    const byDay = new Map(grouped.day.map((g) => [g.key, g]));
    const per = (pick: (g: Group) => number) => days.map((d) => (byDay.has(d) ? pick(byDay.get(d)!) : 0));
    return {
      labels: days,
      series: [
        { label: 'upstream cost', values: per((g) => g.cost) },
        { label: 'margin', values: per((g) => g.costedRevenue - g.cost) },
        { label: 'revenue without a known cost', values: per((g) => g.revenue - g.costedRevenue) },
      ],
    };
  }, [grouped, range]);
  const exportCsv = () => data && download(`money-${range.from}-${range.to}.csv`, toCsv([
    ['day', 'model', 'channel_id', 'requests', 'revenue', 'upstream_cost', 'margin'],
    ...data.data.map((r) => [r.day, r.model, r.channel_id, r.requests, r.revenue, r.upstream_cost, r.margin]),
  ]));
  return (
    <Page title="Money" actions={<button onClick={exportCsv} disabled={!data}>Export CSV</button>}>
      <form class="filters" onSubmit={(e) => (e.preventDefault(), setRange(draft))} aria-label="Period">
        <Field label="From" id="m-from"><input id="m-from" type="date" value={draft.from} onInput={(e) => setDraft({ ...draft, from: e.currentTarget.value })} /></Field>
        <Field label="To" id="m-to"><input id="m-to" type="date" value={draft.to} onInput={(e) => setDraft({ ...draft, to: e.currentTarget.value })} /></Field>
        <div class="filter-actions"><button type="submit">Show</button></div>
      </form>
      <Problem error={error} />
      <Loading loading={loading} />
      {data && grouped && chart && (
        <>
          <div class="stats">
            <Stat label="Revenue" value={credits(data.total.revenue)} hint="credits charged to consumers" testId="revenue" />
            <Stat label="Upstream cost" value={credits(data.total.upstream_cost)} hint="what the providers charge us" testId="upstream-cost" />
            <Stat label="Margin" value={credits(data.total.margin)} testId="margin"
              hint={data.total.costed_revenue ? `${((data.total.margin / data.total.costed_revenue) * 100).toFixed(1)} % of costed revenue` : 'no channel has upstream pricing'} />
            <Stat label="Requests" value={credits(data.total.requests)} hint={`${credits(data.total.uncosted_requests)} without an upstream cost`} />
          </div>
          <BarChart title="Revenue per day: upstream cost, margin, and revenue on channels without upstream pricing" labels={chart.labels} series={chart.series} yTitle="credits" />
          <GroupTable title="By model" what="model" groups={grouped.model} />
          <GroupTable title="By channel" what="channel" groups={grouped.channel} />
          <GroupTable title="By day" what="day" groups={grouped.day} />
        </>
      )}
    </Page>
  );
}
