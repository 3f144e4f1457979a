/**
 * Chat on one core, non-streaming and streaming, small bodies. The API under test runs alone on one core
 * (`taskset -c 1`); the load generator, the fake upstream, PostgreSQL, Temporal and every other process
 * of the run are moved to the other (bench/lib/affinity.ts). Two API processes, one after the other:
 * `npm start` as shipped (API and worker in one process, RUN_WORKER on) and an API-only process
 * (RUN_WORKER=0). Baseline: the same request to the fake upstream directly, at the same fixed rate, from
 * the same kind of load process. Added latency = gateway - direct, per percentile. The API's event-loop
 * delay over each load comes from its /metrics when it exports one. Then the most the API-only process
 * carries (closed loop).
 */
import type { BenchEnv } from '../lib/bench-env';
import type { Durations } from '../lib/durations';
import { eventLoopDelayBetween, type EventLoopDelay } from '../lib/event-loop';
import type { LoadResult, LoadSpec } from '../lib/load-spec';
import { pinRunProcesses, pinningCores } from '../lib/affinity';
import { added } from '../lib/stats';
import { withCpu } from '../lib/cpu';

export const CHAT_RATE = 500;
const MAX_CONNECTIONS = 32;
export const CHAT_VARIANTS = ['json', 'stream'] as const;
export type ChatVariant = (typeof CHAT_VARIANTS)[number];
export const CHAT_PROCESSES = ['shipped', 'apiOnly'] as const;
export type ChatProcess = (typeof CHAT_PROCESSES)[number];

export interface ChatVariantResult {
  paced: { gateway: LoadResult; added: ReturnType<typeof added>; cpu: Record<string, number>; eventLoop: EventLoopDelay | null };
  /** Closed loop (API-only process only). */
  max?: { gateway: LoadResult; cpu: Record<string, number> };
}

export interface ChatResult {
  rate: number;
  /** The core of the API and the core of everything else, or null when nothing could be pinned. */
  pinning: { api: string; rest: string } | null;
  /** The fake upstream directly, at the same rate. */
  direct: Record<ChatVariant, LoadResult>;
  shipped: Record<ChatVariant, ChatVariantResult>;
  apiOnly: Record<ChatVariant, ChatVariantResult>;
}

/** The request bodies: what a client sends the gateway, and what the gateway sends upstream. */
export function chatBodies(env: BenchEnv, stream: boolean) {
  const base = { messages: [{ role: 'user', content: 'Say hello to the benchmark.' }], max_tokens: 64 };
  const gateway = { model: env.fixture.chatModel, ...base, ...(stream ? { stream: true } : {}) };
  // The gateway always asks a stream for its usage; the direct call asks the same, so the upstream does the same work.
  const direct = { model: 'gpt-4o-mini', ...base, ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}) };
  return { gateway: JSON.stringify(gateway), direct: JSON.stringify(direct) };
}

export function chatSpecs(env: BenchEnv, stream: boolean, origin = env.api.origin) {
  const bodies = chatBodies(env, stream);
  const fakePath = new URL(env.fake.url).pathname.replace(/\/$/, '');
  const gateway = {
    origin, method: 'POST' as const, paths: ['/v1/chat/completions'], body: bodies.gateway,
    headers: { authorization: `Bearer ${env.fixture.key}`, 'content-type': 'application/json' },
  };
  const direct = {
    origin: env.fake.origin, method: 'POST' as const, paths: [`${fakePath}/chat/completions`], body: bodies.direct,
    headers: { authorization: `Bearer ${env.fake.apiKey}`, 'content-type': 'application/json' },
  };
  return { gateway, direct };
}

async function scrapeMetrics(env: BenchEnv, origin: string): Promise<string> {
  try {
    const response = await fetch(`${origin}/metrics`, { headers: { authorization: `Bearer ${env.serviceEnv.METRICS_TOKEN}` } });
    return response.ok ? await response.text() : '';
  } catch {
    return '';
  }
}

export async function runChat(env: BenchEnv, d: Durations): Promise<ChatResult> {
  const cores = pinningCores();
  const paced = (base: Omit<LoadSpec, 'mode' | 'durationS' | 'warmupS'>): LoadSpec => ({ ...base, mode: 'paced', rate: CHAT_RATE, durationS: d.measureS, warmupS: d.warmupS });
  const max = (base: Omit<LoadSpec, 'mode' | 'durationS' | 'warmupS'>): LoadSpec => ({ ...base, mode: 'max', connections: MAX_CONNECTIONS, durationS: d.measureS, warmupS: d.warmupS });
  const loadOpts = { cpuList: cores?.rest };
  env.log(cores ? `chat: API on core ${cores.test}, everything else on core ${cores.rest}` : 'chat: taskset or a second core missing: nothing pinned');

  const direct = {} as ChatResult['direct'];
  const measured = {} as Record<ChatProcess, Record<ChatVariant, ChatVariantResult>>;
  // Everything of the run except the API under test goes to the other core; each API is started
  // pinned to its own, after the move, so the move never touches it.
  const pins = cores ? pinRunProcesses(cores.rest, []) : null;
  try {
    for (const variant of CHAT_VARIANTS) {
      env.log(`chat ${variant}: ${CHAT_RATE} req/s to the fake directly`);
      direct[variant] = await env.load(`chat-${variant}-direct-paced`, paced(chatSpecs(env, variant === 'stream').direct), loadOpts);
    }
    for (const which of CHAT_PROCESSES) {
      // RUN_WORKER on is `npm start`'s default: the worker runs in the API process.
      const api = await env.startApi(`api-chat-${which}`, [], { env: { RUN_WORKER: which === 'shipped' ? 'true' : 'false' }, cpuList: cores?.test });
      try {
        measured[which] = await measureProcess(which, api.origin);
      } finally {
        await api.child.stop();
      }
    }
  } finally {
    pins?.restore();
  }
  return { rate: CHAT_RATE, pinning: cores ? { api: cores.test, rest: cores.rest } : null, direct, shipped: measured.shipped, apiOnly: measured.apiOnly };

  async function measureProcess(which: ChatProcess, origin: string): Promise<Record<ChatVariant, ChatVariantResult>> {
    const out = {} as Record<ChatVariant, ChatVariantResult>;
    for (const variant of CHAT_VARIANTS) {
      const { gateway } = chatSpecs(env, variant === 'stream', origin);
      const before = await scrapeMetrics(env, origin);
      const run = await withCpu(() => env.load(`chat-${variant}-${which}-paced`, paced(gateway), loadOpts));
      const eventLoop = eventLoopDelayBetween(before, await scrapeMetrics(env, origin));
      out[variant] = { paced: { gateway: run.value, added: added(run.value.latency, direct[variant].latency), cpu: withLoad(run.cpu, run.value), eventLoop } };
      env.log(`chat ${variant}, ${which}: added p50 ${out[variant].paced.added.p50} ms, p99 ${out[variant].paced.added.p99} ms at ${CHAT_RATE}/s` +
        (eventLoop ? `; event-loop delay p99 ${eventLoop.p99Ms} ms` : ''));
      if (which === 'apiOnly') {
        const most = await withCpu(() => env.load(`chat-${variant}-${which}-max`, max(gateway), loadOpts));
        out[variant].max = { gateway: most.value, cpu: withLoad(most.cpu, most.value) };
        env.log(`chat ${variant}, ${which}: max ${most.value.rps} req/s`);
      }
    }
    return out;
  }
}

/** The load process's own CPU, which the /proc snapshot misses once it has exited. */
export function withLoad(cpu: Record<string, number>, load: LoadResult): Record<string, number> {
  return load.selfCpu !== undefined ? { ...cpu, 'load generator': load.selfCpu } : cpu;
}
