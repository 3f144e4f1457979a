import type { Config } from '../config';
import { createLocalAssetStore, type AssetStore } from './asset-store';
import { createS3AssetStore } from './s3-asset-store';

/** The store ASSET_STORE names: the API and every worker build theirs here, so they agree. */
export function createAssetStore(config: Pick<Config, 'assetDir' | 'storage'>): AssetStore {
  return config.storage.s3 ? createS3AssetStore(config.storage.s3) : createLocalAssetStore(config.assetDir);
}
