import type { MikroORM } from '@mikro-orm/postgresql';
import type { Logger } from '../src/log';
import type { ProviderRegistry } from '../src/providers/registry';
import type { AssetStore } from '../src/storage/asset-store';
import type { SecretBox } from '../src/security/secrets';
import type { OutboundGuard } from '../src/net/outbound-guard';
import type { Metrics } from '../src/metrics/metrics';

/** What the activities need; the worker builds it once, tests pass their own. */
export interface ActivityDeps {
  orm: MikroORM;
  providers: ProviderRegistry;
  store: AssetStore;
  box: SecretBox;
  log: Logger;
  /** Base of asset links in callbacks, and of the provider callback URLs. */
  publicUrl: string;
  /** Whether providers can reach `publicUrl` (PUBLIC_URL was set): only then are callbacks asked for. */
  providerCallbacks?: boolean;
  /**
   * How a polled provider's job is waited on: `shared`, by the worker's shared poller (the job is
   * registered for it and the workflow waits for its signal, holding no activity slot); `activity`
   * (absent), by one heartbeating waitForProvider activity per job.
   */
  providerPoller?: 'shared' | 'activity';
  /** Checks URLs we did not choose (callbacks, provider outputs and their redirects) at send time. */
  outbound: OutboundGuard;
  /** Random numbers for weighted routing (tests may fix it). */
  random?: () => number;
  /** Where task outcomes and channel failures are counted (absent: not counted). */
  metrics?: Metrics;
  /** Largest asset accepted, bytes (absent: no limit, for tests that don't care). */
  maxAssetBytes?: number;
  /** Time one output download may take, headers and body (absent: 100 s). */
  assetDownloadTimeoutMs?: number;
}
