/**
 * A bounded map that forgets its least recently used entry when full (a Map keeps insertion order: a
 * hit moves its entry to the end, the first entry is the oldest).
 */
export class Lru<K, V> {
  private readonly entries = new Map<K, V>();

  constructor(private readonly capacity: number) {
    if (capacity < 1) throw new Error('An LRU needs room for one entry');
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    this.entries.delete(key);
    this.entries.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  /** Deletes every entry whose value matches (a scan: for rare events such as an admin change). */
  deleteWhere(match: (value: V) => boolean): void {
    for (const [key, value] of this.entries) if (match(value)) this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
