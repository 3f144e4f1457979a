/**
 * Chat, non-streaming and streaming, small bodies. Baseline: the same request to the fake upstream
 * directly, at the same fixed rate, from the same kind of load process. Added latency = gateway - direct,
 * per percentile. Then the most each carries (closed loop).
 */
import type { BenchEnv } from '../lib/bench-env';
import type { Durations } from '../lib/durations';
import type { LoadResult, LoadSpec } from '../lib/load-spec';
import { added } from '../lib/stats';
import { withCpu } from '../lib/cpu';

export const CHAT_RATE = 500;
const MAX_CONNECTIONS = 32;

export interface ChatVariantResult {
  paced: { rate: number; direct: LoadResult; gateway: LoadResult; added: ReturnType<typeof added>; cpu: Record<string, number> };
  max: { direct: LoadResult; gateway: LoadResult; cpu: Record<string, number> };
}

export type ChatResult = Record<'json' | 'stream', ChatVariantResult>;

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

export async function runChat(env: BenchEnv, d: Durations): Promise<ChatResult> {
  const out = {} as ChatResult;
  for (const variant of ['json', 'stream'] as const) {
    const { gateway, direct } = chatSpecs(env, variant === 'stream');
    const paced = (base: Omit<LoadSpec, 'mode' | 'durationS' | 'warmupS'>): LoadSpec => ({ ...base, mode: 'paced', rate: CHAT_RATE, durationS: d.measureS, warmupS: d.warmupS });
    const max = (base: Omit<LoadSpec, 'mode' | 'durationS' | 'warmupS'>): LoadSpec => ({ ...base, mode: 'max', connections: MAX_CONNECTIONS, durationS: d.measureS, warmupS: d.warmupS });

    env.log(`chat ${variant}: ${CHAT_RATE} req/s direct, then through the gateway`);
    const pacedDirect = await env.load(`chat-${variant}-direct-paced`, paced(direct));
    const pacedGateway = await withCpu(() => env.load(`chat-${variant}-gateway-paced`, paced(gateway)));
    env.log(`chat ${variant}: max throughput, gateway then direct`);
    const maxGateway = await withCpu(() => env.load(`chat-${variant}-gateway-max`, max(gateway)));
    const maxDirect = await env.load(`chat-${variant}-direct-max`, max(direct));
    out[variant] = {
      paced: {
        rate: CHAT_RATE, direct: pacedDirect, gateway: pacedGateway.value, added: added(pacedGateway.value.latency, pacedDirect.latency),
        cpu: withLoad(pacedGateway.cpu, pacedGateway.value),
      },
      max: { direct: maxDirect, gateway: maxGateway.value, cpu: withLoad(maxGateway.cpu, maxGateway.value) },
    };
    env.log(
      `chat ${variant}: added p50 ${out[variant].paced.added.p50} ms, p99 ${out[variant].paced.added.p99} ms at ${CHAT_RATE}/s; ` +
        `max ${maxGateway.value.rps} req/s (direct ${maxDirect.rps})`,
    );
  }
  return out;
}

/** The load process's own CPU, which the /proc snapshot misses once it has exited. */
export function withLoad(cpu: Record<string, number>, load: LoadResult): Record<string, number> {
  return load.selfCpu !== undefined ? { ...cpu, 'load generator': load.selfCpu } : cpu;
}
