import { Loading, Page, Problem } from '../components/ui';
import { when } from '../format';
import { useApi } from '../hooks';

interface ModelRow { id: string; category: string; pricing: Record<string, unknown>; metadata: Record<string, unknown>; deadline_seconds: number | null; default_duration: number | null; created_at: string }

/** A pricing object as readable lines; tiers or other nested shapes are shown as JSON. */
function PricingCell(props: { pricing: Record<string, unknown> }) {
  return (
    <ul class="plain">
      {Object.entries(props.pricing).map(([name, value]) => (
        <li key={name}>{name.replace(/_/g, ' ')}: {typeof value === 'number' ? `${value} credits` : <code>{JSON.stringify(value)}</code>}</li>
      ))}
    </ul>
  );
}

/** Models with their pricing. */
export function ModelsPage() {
  const { data, error, loading } = useApi<{ data: ModelRow[] }>('/admin/models');
  return (
    <Page title="Models">
      <Problem error={error} />
      <Loading loading={loading} />
      <table aria-label="Models">
        <thead><tr><th>Model</th><th>Category</th><th>Pricing</th><th>Default duration</th><th>Deadline</th><th>Created</th></tr></thead>
        <tbody>
          {data?.data.map((m) => (
            <tr key={m.id}><td>{m.id}</td><td>{m.category}</td><td><PricingCell pricing={m.pricing} /></td>
              <td>{m.default_duration ? `${m.default_duration} s` : '—'}</td><td>{m.deadline_seconds ? `${m.deadline_seconds} s` : '—'}</td><td>{when(m.created_at)}</td></tr>
          ))}
        </tbody>
      </table>
    </Page>
  );
}

export { PricingCell };
