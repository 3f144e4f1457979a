import { pickWeighted } from '../../src/routing/pick-channel';

/** A seeded PRNG (mulberry32), so the statistics are the same on every run. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('pickWeighted', () => {
  it('splits 10,000 picks of one tier by weight, within 2 points of each share', () => {
    const channels = [
      { id: 'a', priority: 5, weight: 1 },
      { id: 'b', priority: 5, weight: 3 },
      { id: 'c', priority: 5, weight: 6 },
    ];
    const random = seeded(42);
    const counts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 10_000; i++) counts[pickWeighted(channels, random)!.id]! += 1;
    expect(Math.abs(counts.a! / 10_000 - 0.1)).toBeLessThan(0.02);
    expect(Math.abs(counts.b! / 10_000 - 0.3)).toBeLessThan(0.02);
    expect(Math.abs(counts.c! / 10_000 - 0.6)).toBeLessThan(0.02);
  });

  it('only ever picks from the highest priority tier', () => {
    const channels = [
      { id: 'low', priority: 1, weight: 100 },
      { id: 'high', priority: 10, weight: 1 },
    ];
    const random = seeded(7);
    for (let i = 0; i < 1000; i++) expect(pickWeighted(channels, random)!.id).toBe('high');
  });

  it('never picks weight 0 while another channel of the tier has weight', () => {
    const channels = [
      { id: 'zero', priority: 0, weight: 0 },
      { id: 'one', priority: 0, weight: 1 },
    ];
    const random = seeded(3);
    for (let i = 0; i < 1000; i++) expect(pickWeighted(channels, random)!.id).toBe('one');
    expect(pickWeighted(channels, () => 0)!.id).toBe('one');
    expect(pickWeighted(channels, () => 0.999999)!.id).toBe('one');
  });

  it('picks among all-zero weights evenly and returns undefined for no candidates', () => {
    const channels = [
      { id: 'x', priority: 0, weight: 0 },
      { id: 'y', priority: 0, weight: 0 },
    ];
    const random = seeded(11);
    const counts: Record<string, number> = { x: 0, y: 0 };
    for (let i = 0; i < 2000; i++) counts[pickWeighted(channels, random)!.id]! += 1;
    expect(counts.x).toBeGreaterThan(800);
    expect(counts.y).toBeGreaterThan(800);
    expect(pickWeighted([], random)).toBeUndefined();
  });
});
