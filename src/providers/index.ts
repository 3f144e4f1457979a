import { createArkProvider } from './ark';
import { createFalProvider } from './fal';
import { createMockProvider } from './mock';
import { createOpenAIProvider } from './openai';
import { createReplicateProvider } from './replicate';
import { createProviderRegistry, type ProviderRegistry } from './registry';

/** Every provider the gateway ships: the built-in mock and the real protocols. */
export function createDefaultProviders(): ProviderRegistry {
  return createProviderRegistry([
    createMockProvider(),
    createOpenAIProvider(),
    createArkProvider(),
    createReplicateProvider(),
    createFalProvider(),
  ]);
}
