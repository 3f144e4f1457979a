import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { Loading, Page, Problem, StatusBadge } from '../components/ui';
import { ms, percent, when } from '../format';
import { useApi } from '../hooks';
import { PricingCell } from './models';

interface ChannelRow { id: string; name: string; provider: string; models: Record<string, string>; groups: string[]; priority: number; weight: number; enabled: boolean; disabled_reason: string | null; upstream_pricing: Record<string, number> | null }
interface Health { channel_id: string; circuit: { state: string; consecutive_failures: number; open_until: string | null; last_error_code: string | null }; requests: number; failures: number; failure_rate: number | null; avg_latency_ms: number | null; p95_latency_ms: number | null; last_at: string | null }
interface TestResult { ok: boolean; model: string; kind: string; latency_ms: number; job_id: string | null; status: string | null; error: { code: string; message: string } | null }

/** Channels with live health (refreshed every 5 s) and a test button that makes one real call. */
export function ChannelsPage() {
  const channels = useApi<{ data: ChannelRow[] }>('/admin/channels');
  const health = useApi<{ window: number; data: Health[] }>('/admin/console/channels/health');
  const [results, setResults] = useState<Record<string, TestResult | string>>({});
  const [testing, setTesting] = useState<string | null>(null);
  useEffect(() => {
    const timer = setInterval(health.reload, 5000);
    return () => clearInterval(timer);
  }, [health.reload]);
  const test = async (id: string) => {
    setTesting(id);
    try {
      const result = await api<TestResult>('POST', `/admin/console/channels/${encodeURIComponent(id)}/test`, {});
      setResults((r) => ({ ...r, [id]: result }));
    } catch (failure) {
      setResults((r) => ({ ...r, [id]: failure instanceof ApiError ? `${failure.code}: ${failure.message}` : String(failure) }));
    } finally {
      setTesting(null);
      health.reload();
    }
  };
  const byId = new Map(health.data?.data.map((h) => [h.channel_id, h]));
  return (
    <Page title="Channels">
      <Problem error={channels.error ?? health.error} />
      <Loading loading={channels.loading} />
      <p class="muted">Failure rate and latency over each channel's last {health.data?.window ?? 50} requests and tasks; refreshed every 5 seconds.</p>
      <table aria-label="Channels">
        <thead><tr><th>Channel</th><th>Models</th><th>Routing</th><th>Circuit</th><th class="num">Failure rate</th><th class="num">Latency (avg / p95)</th><th>Upstream cost</th><th>Test</th></tr></thead>
        <tbody>
          {channels.data?.data.map((c) => {
            const h = byId.get(c.id);
            const result = results[c.id];
            return (
              <tr key={c.id} data-channel-id={c.id}>
                <td><strong>{c.name}</strong><br /><span class="muted">{c.id} · {c.provider}</span>{!c.enabled && <><br /><span class="badge badge-failed">disabled</span> {c.disabled_reason}</>}</td>
                <td class="break">{Object.keys(c.models).join(', ')}</td>
                <td class="muted">groups {c.groups.join(', ')}; priority {c.priority}; weight {c.weight}</td>
                <td data-testid={`circuit-${c.id}`}>{h ? <><StatusBadge status={h.circuit.state} />{h.circuit.consecutive_failures > 0 && <span class="muted"> {h.circuit.consecutive_failures} failures in a row{h.circuit.last_error_code ? ` (${h.circuit.last_error_code})` : ''}</span>}</> : '—'}</td>
                <td class="num">{h ? `${percent(h.failure_rate)} of ${h.requests}` : '—'}</td>
                <td class="num">{h ? `${ms(h.avg_latency_ms)} / ${ms(h.p95_latency_ms)}` : '—'}<br /><span class="muted">{h?.last_at ? `last ${when(h.last_at)}` : ''}</span></td>
                <td>{c.upstream_pricing ? <PricingCell pricing={c.upstream_pricing} /> : <span class="muted">not set</span>}</td>
                <td>
                  <button class="secondary" onClick={() => test(c.id)} disabled={testing === c.id} aria-label={`Test ${c.name}`}>{testing === c.id ? 'Testing…' : 'Test'}</button>
                  {result && (
                    <div class="test-result" data-testid={`test-${c.id}`} role="status">
                      {typeof result === 'string' ? <span class="problem">{result}</span> : (
                        <span class={result.ok ? 'ok' : 'problem'}>{result.ok ? 'OK' : 'Failed'} · {result.model} · {ms(result.latency_ms)}{result.status ? ` · ${result.status}` : ''}{result.error ? ` · ${result.error.code}` : ''}</span>
                      )}
                    </div>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </Page>
  );
}
