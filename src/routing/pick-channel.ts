/** A channel as routing sees it. */
export interface RoutableChannel {
  id: string;
  priority: number;
  weight: number;
}

/**
 * Chooses among candidates: the highest priority tier first; inside it, weighted random by `weight`.
 * Weight 0 is chosen only when every channel of the tier has weight 0. `random` returns [0, 1).
 */
export function pickWeighted<T extends RoutableChannel>(candidates: readonly T[], random: () => number): T | undefined {
  if (candidates.length === 0) return undefined;
  const top = Math.max(...candidates.map((c) => c.priority));
  const tier = candidates.filter((c) => c.priority === top);
  const total = tier.reduce((sum, c) => sum + Math.max(0, c.weight), 0);
  if (total === 0) return tier[Math.floor(random() * tier.length)];
  let point = random() * total;
  for (const channel of tier) {
    point -= Math.max(0, channel.weight);
    if (point < 0 && channel.weight > 0) return channel;
  }
  return tier.filter((c) => c.weight > 0).at(-1);
}
