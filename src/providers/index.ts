import { createArkProvider } from './ark';
import { createElevenLabsProvider } from './elevenlabs';
import { createFalProvider } from './fal';
import { createLumaProvider } from './luma';
import { createMockProvider } from './mock';
import { createOpenAIProvider } from './openai';
import { createReplicateProvider } from './replicate';
import { createGeminiProvider } from './gemini';
import { createKlingProvider } from './kling';
import { createMiniMaxProvider } from './minimax';
import { createDashScopeProvider } from './dashscope';
import { createRunwayProvider } from './runway';
import { createStabilityProvider } from './stability';
import { createProviderRegistry, type ProviderRegistry } from './registry';

/** Every provider the gateway ships: the built-in mock and the real protocols. */
export function createDefaultProviders(): ProviderRegistry {
  return createProviderRegistry([
    createMockProvider(),
    createOpenAIProvider(),
    createArkProvider(),
    createReplicateProvider(),
    createFalProvider(),
    createGeminiProvider(),
    createKlingProvider(),
    createMiniMaxProvider(),
    createDashScopeProvider(),
    createRunwayProvider(),
    createElevenLabsProvider(),
    createLumaProvider(),
    createStabilityProvider(),
  ]);
}

/**
 * Every body field that decides a price or the upstream model in any shipped protocol's own spelling
 * (each adapter's `pricedKeys`). A task is admitted before its channel is chosen, so the API refuses
 * `options` or unknown fields naming any of them, whichever provider ends up serving the task.
 */
export const MEDIA_PRICED_KEYS: ReadonlySet<string> = (() => {
  const registry = createDefaultProviders();
  return new Set(registry.ids().flatMap((id) => registry.get(id).pricedKeys));
})();
