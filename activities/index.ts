import { createAssetActivities } from './asset.activities';
import { createBillingActivities } from './billing.activities';
import { createCallbackActivities } from './callback.activities';
import type { ActivityDeps } from './deps';
import { createProviderActivities } from './provider.activities';

export type { ActivityDeps } from './deps';

/** Every activity of the media-task workflow, bound to its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createBillingActivities(deps),
    ...createProviderActivities(deps),
    ...createAssetActivities(deps),
    ...createCallbackActivities(deps),
  };
}

/** The activity interface the workflow proxies (types only cross into workflow code). */
export type MediaActivities = ReturnType<typeof createActivities>;
