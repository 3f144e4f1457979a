import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';

/** /metrics in Prometheus text format exposes what operators watch. */
describe('/metrics', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /** The value of one sample line, e.g. metric{a="b"} 3. */
  function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      const ok = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
      if (ok) return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return undefined;
  }

  it('counts requests by route, tasks by outcome, credits and worker state after tasks run', async () => {
    const { model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 2 }, defaultDuration: 3, settings: { durationMs: 100 } });
    const customer = await createCustomer(gw, { credits: 100 });
    const ok = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'fine' } });
    const bad = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'broken [mock:fail=infra]' } });
    expect((await waitForTask(gw, customer.key, ok.body.id)).status).toBe('succeeded');
    expect((await waitForTask(gw, customer.key, bad.body.id)).status).toBe('failed');

    const response = await fetch(`${gw.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(sample(text, 'gateway_http_requests_total', { method: 'POST', route: '/v1/videos', status: '200' })).toBeGreaterThanOrEqual(2);
    expect(sample(text, 'gateway_tasks_finished_total', { model, status: 'succeeded' })).toBe(1);
    expect(sample(text, 'gateway_tasks_finished_total', { model, status: 'failed' })).toBe(1);
    expect(sample(text, 'gateway_tasks', { model, status: 'succeeded' })).toBe(1);
    expect(sample(text, 'gateway_task_duration_seconds_count', { model, status: 'succeeded' })).toBe(1);
    expect(sample(text, 'gateway_channel_failures_total', { code: 'upstream_unavailable' })).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/gateway_credits_captured \d+/);
    expect(text).toMatch(/gateway_credits_held \d+/);
    expect(text).toMatch(/gateway_temporal_worker\{measure="cached_workflows"\} \d+/);
    expect(text).toContain('gateway_channel_circuit_open{channel=');
  });

  it('shows an event-loop stall in the event-loop delay histogram', async () => {
    const read = async () => {
      const text = await (await fetch(`${gw.url}/metrics`)).text();
      const count = Number(/^gateway_event_loop_delay_seconds_count (\S+)$/m.exec(text)?.[1]);
      const underTenth = Number(/^gateway_event_loop_delay_seconds_bucket\{le="0.1"\} (\S+)$/m.exec(text)?.[1]);
      return { count, late: count - underTenth };
    };
    const before = await read();
    expect(before.count).toBeGreaterThan(0);
    // The gateway runs in this process: hold its event loop for 250 ms, as a long synchronous job would.
    const until = Date.now() + 250;
    while (Date.now() < until) {
      // busy
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = await read();
    expect(after.late).toBeGreaterThan(before.late);
  });
});
