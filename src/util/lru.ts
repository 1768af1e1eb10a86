/**
 * A bounded least-recently-used map: the engine caches pages and translations, never without a bound.
 *
 * Recency is kept in an intrusive doubly linked list rather than by deleting and re-inserting Map keys:
 * V8's ordered hash tables leave a tombstone per delete at the front, and `keys().next()` has to skip
 * them all, which made eviction cost grow with the capacity.
 */
interface Entry<K, V> {
  key: K;
  value: V;
  newer: Entry<K, V> | undefined;
  older: Entry<K, V> | undefined;
}

export class LruCache<K, V> {
  private readonly map = new Map<K, Entry<K, V>>();
  private newest: Entry<K, V> | undefined;
  private oldest: Entry<K, V> | undefined;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new RangeError('LRU capacity must be at least 1');
  }

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.touch(entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    const existing = this.map.get(key);
    if (existing !== undefined) {
      existing.value = value;
      this.touch(existing);
      return;
    }
    const entry: Entry<K, V> = { key, value, newer: undefined, older: this.newest };
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    if (!this.oldest) this.oldest = entry;
    this.map.set(key, entry);
    if (this.map.size > this.capacity && this.oldest) {
      const evicted = this.oldest;
      this.unlink(evicted);
      this.map.delete(evicted.key);
    }
  }

  clear(): void {
    this.map.clear();
    this.newest = undefined;
    this.oldest = undefined;
  }

  private touch(entry: Entry<K, V>): void {
    if (entry === this.newest) return;
    this.unlink(entry);
    entry.older = this.newest;
    entry.newer = undefined;
    if (this.newest) this.newest.newer = entry;
    this.newest = entry;
    if (!this.oldest) this.oldest = entry;
  }

  private unlink(entry: Entry<K, V>): void {
    if (entry.newer) entry.newer.older = entry.older;
    else this.newest = entry.older;
    if (entry.older) entry.older.newer = entry.newer;
    else this.oldest = entry.newer;
    entry.newer = undefined;
    entry.older = undefined;
  }
}
