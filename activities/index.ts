import { createAssetActivities } from './asset.activities';
import { createBillingActivities } from './billing.activities';
import { createCallbackActivities } from './callback.activities';
import type { ActivityDeps } from './deps';
import { createProviderActivities } from './provider.activities';
import { useProviderOutboundGuard } from '../src/providers/transport';

export type { ActivityDeps } from './deps';

/** Every activity of the media-task workflow, bound to its dependencies. */
export function createActivities(deps: ActivityDeps) {
  // Provider API calls follow redirects only where this process's guard lets consumer URLs go.
  useProviderOutboundGuard(deps.outbound);
  return {
    ...createBillingActivities(deps),
    ...createProviderActivities(deps),
    ...createAssetActivities(deps),
    ...createCallbackActivities(deps),
  };
}

/** The activity interface the workflow proxies (types only cross into workflow code). */
export type MediaActivities = ReturnType<typeof createActivities>;
