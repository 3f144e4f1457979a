import { createMockProvider } from './mock';
import { createProviderRegistry, type ProviderRegistry } from './registry';

/** Every provider the gateway ships: the built-in mock and the real protocols. */
export function createDefaultProviders(): ProviderRegistry {
  return createProviderRegistry([createMockProvider()]);
}
