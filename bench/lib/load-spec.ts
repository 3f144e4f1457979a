import type { LatencySummary } from './stats';

/**
 * What a load process does. `max`: autocannon, closed loop, as many requests as `connections` allow.
 * `paced`: an open loop at a fixed `rate`, each request timed from the moment it was due (so a stalled
 * server shows as latency, not as fewer requests: no coordinated omission).
 */
export interface LoadSpec {
  mode: 'max' | 'paced';
  /** Origin, e.g. http://127.0.0.1:3000. */
  origin: string;
  method: 'GET' | 'POST';
  /** Request paths, used in turn (e.g. many task ids). */
  paths: string[];
  headers: Record<string, string>;
  body?: string;
  /** Seconds of load that are measured. */
  durationS: number;
  /** Seconds of the same load before, discarded. */
  warmupS: number;
  /** `max`: concurrent connections. */
  connections?: number;
  /** `paced`: requests per second. */
  rate?: number;
  /** `paced`: most requests open at once (sockets in the keep-alive pool). */
  maxInflight?: number;
}

/** What a load process reports. */
export interface LoadResult {
  mode: 'max' | 'paced';
  /** 2xx answers in the measured window. */
  ok: number;
  /** Other answers and socket errors in the measured window, by status (`error` for sockets). */
  failed: Record<string, number>;
  durationS: number;
  /** 2xx answers per second. */
  rps: number;
  /** Full response time (last byte) of 2xx answers; paced runs count from when the request was due. */
  latency: LatencySummary;
  /** Time to the response headers (paced runs only). */
  firstByte?: LatencySummary;
  /** A failed answer, to say why. */
  sampleFailure?: string;
  /** Cores the load process itself used over its life (warm-up included). */
  selfCpu?: number;
  /** Baseline starts: workflows started in all (warm-up included), to divide a worker's CPU by. */
  started?: number;
  /** Baseline starts with `awaitResult`: from when the start was due to the workflow's result. */
  resultLatency?: LatencySummary;
  /** Baseline starts: ids of the last few measured workflows, to read their histories. */
  sampleIds?: string[];
  /** autocannon's own whole-millisecond histogram (max runs only), for reference. */
  autocannon?: { p50: number; p90: number; p99: number; max: number; rps: number };
}
