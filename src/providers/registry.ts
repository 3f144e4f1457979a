import type { MediaProvider } from './types';

/** Looks providers up by the channel's `provider` id. */
export interface ProviderRegistry {
  get(id: string): MediaProvider;
  has(id: string): boolean;
  ids(): string[];
}

export class UnknownProviderError extends Error {
  constructor(id: string, known: string[]) {
    super(`Unknown provider "${id}"; known providers: ${known.join(', ')}`);
    this.name = 'UnknownProviderError';
  }
}

export function createProviderRegistry(providers: readonly MediaProvider[]): ProviderRegistry {
  const byId = new Map(providers.map((provider) => [provider.id, provider]));
  return {
    get(id) {
      const provider = byId.get(id);
      if (!provider) throw new UnknownProviderError(id, [...byId.keys()]);
      return provider;
    },
    has: (id) => byId.has(id),
    ids: () => [...byId.keys()],
  };
}
