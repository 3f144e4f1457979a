import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Knex } from '@mikro-orm/postgresql';
import { observeEventLoopDelay } from './event-loop';

/**
 * Prometheus metrics of one process. Counters and histograms are recorded where things happen (HTTP
 * middleware, activities); gauges of shared state (tasks by status, held credits, circuits) are read
 * from PostgreSQL at scrape time, so every API replica reports the same truth.
 */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  tasksFinished: Counter<'kind' | 'model' | 'status'>;
  taskDuration: Histogram<'kind' | 'model' | 'status'>;
  channelFailures: Counter<'channel' | 'code'>;
  creditsCharged: Counter<'category'>;
  /** Binds the database-derived gauges to a connection (the API process). */
  observeDatabase(knex: () => Knex): void;
  /** Reports a Temporal worker's in-flight work and cache (when the worker runs in this process). */
  observeWorker(status: () => WorkerStatusView): void;
  /** Stops this process's samplers (the event-loop delay timer). */
  close(): void;
}

/** The part of the SDK's WorkerStatus we export. */
export interface WorkerStatusView {
  numInFlightWorkflowActivations: number;
  numInFlightActivities: number;
  numInFlightLocalActivities: number;
  numCachedWorkflows: number;
  numHeartbeatingActivities: number;
}

export function createMetrics(opts: { defaultMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (opts.defaultMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'gateway_' });

  const httpRequests = new Counter({
    name: 'gateway_http_requests_total', help: 'HTTP requests by route and status', labelNames: ['method', 'route', 'status'] as const, registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'gateway_http_request_duration_seconds', help: 'HTTP request latency by route', labelNames: ['method', 'route'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30], registers: [registry],
  });
  const tasksFinished = new Counter({
    name: 'gateway_tasks_finished_total', help: 'Media tasks that reached a final status (recorded by the worker)', labelNames: ['kind', 'model', 'status'] as const, registers: [registry],
  });
  const taskDuration = new Histogram({
    name: 'gateway_task_duration_seconds', help: 'Time from admission to final status', labelNames: ['kind', 'model', 'status'] as const,
    buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600], registers: [registry],
  });
  const channelFailures = new Counter({
    name: 'gateway_channel_failures_total', help: 'Provider failures by channel and code', labelNames: ['channel', 'code'] as const, registers: [registry],
  });
  const creditsCharged = new Counter({
    name: 'gateway_credits_charged_total', help: 'Credits captured by this process', labelNames: ['category'] as const, registers: [registry],
  });
  const stopEventLoop = observeEventLoopDelay(registry);

  return {
    registry, httpRequests, httpDuration, tasksFinished, taskDuration, channelFailures, creditsCharged,
    close: stopEventLoop,
    observeWorker(status) {
      new Gauge({
        name: 'gateway_temporal_worker', help: 'Temporal worker state: in-flight activations and activities, cached workflows', labelNames: ['measure'] as const, registers: [registry],
        collect() {
          const now = status();
          this.set({ measure: 'inflight_workflow_activations' }, now.numInFlightWorkflowActivations);
          this.set({ measure: 'inflight_activities' }, now.numInFlightActivities);
          this.set({ measure: 'inflight_local_activities' }, now.numInFlightLocalActivities);
          this.set({ measure: 'cached_workflows' }, now.numCachedWorkflows);
          this.set({ measure: 'heartbeating_activities' }, now.numHeartbeatingActivities);
        },
      });
    },
    observeDatabase(knex) {
      new Gauge({
        name: 'gateway_tasks', help: 'Tasks by kind, model and status (from the database)', labelNames: ['kind', 'model', 'status'] as const, registers: [registry],
        async collect() {
          this.reset();
          const result = await knex().raw(`select kind, model, status, count(*)::int as n from tasks group by kind, model, status`);
          for (const row of result.rows) this.set({ kind: row.kind, model: row.model, status: row.status }, row.n);
        },
      });
      new Gauge({
        name: 'gateway_credits_held', help: 'Credits held by open holds (from the database)', registers: [registry],
        async collect() {
          const result = await knex().raw(`select coalesce(sum(amount), 0)::bigint as held from holds where status = 'open'`);
          this.set(Number(result.rows[0].held));
        },
      });
      new Gauge({
        name: 'gateway_credits_captured', help: 'Credits captured in total (from the ledger)', registers: [registry],
        async collect() {
          const result = await knex().raw(`select coalesce(sum(amount), 0)::bigint as captured from ledger_entries where kind = 'capture'`);
          this.set(Number(result.rows[0].captured));
        },
      });
      new Gauge({
        name: 'gateway_credits_debt', help: 'Credits owed by accounts whose token usage went beyond their wallet (from the database)', registers: [registry],
        async collect() {
          const result = await knex().raw(`select coalesce(sum(debt), 0)::bigint as debt from accounts`);
          this.set(Number(result.rows[0].debt));
        },
      });
      new Gauge({
        name: 'gateway_channel_circuit_open', help: '1 when a channel circuit is open (from the database)', labelNames: ['channel'] as const, registers: [registry],
        async collect() {
          this.reset();
          const result = await knex().raw(`select c.id, coalesce(h.open_until > now(), false) as open from channels c left join channel_health h on h.channel_id = c.id`);
          for (const row of result.rows) this.set({ channel: row.id }, row.open ? 1 : 0);
        },
      });
    },
  };
}
