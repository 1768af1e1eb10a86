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
  weight: number;
  newer: Entry<K, V> | undefined;
  older: Entry<K, V> | undefined;
}

export interface LruWeightOptions<V> {
  /** The cost of a value (e.g. its byte size); entries are evicted while the total exceeds `maxWeight`. */
  weigh: (value: V) => number;
  maxWeight: number;
}

export class LruCache<K, V> {
  private readonly map = new Map<K, Entry<K, V>>();
  private newest: Entry<K, V> | undefined;
  private oldest: Entry<K, V> | undefined;
  private weightSum = 0;

  /**
   * At most `capacity` entries, and with `weights` at most `maxWeight` in total — except that the entry
   * just set is always kept, however heavy.
   */
  constructor(
    readonly capacity: number,
    private readonly weights?: LruWeightOptions<V>,
  ) {
    if (!(capacity >= 1)) throw new RangeError('LRU capacity must be at least 1');
  }

  get size(): number {
    return this.map.size;
  }

  /** Sum of the weights of the entries held (0 without weights). */
  get totalWeight(): number {
    return this.weightSum;
  }

  get(key: K): V | undefined {
    const entry = this.map.get(key);
    if (entry === undefined) return undefined;
    this.touch(entry);
    return entry.value;
  }

  set(key: K, value: V): void {
    const weight = this.weights ? this.weights.weigh(value) : 0;
    const existing = this.map.get(key);
    if (existing !== undefined) {
      this.weightSum += weight - existing.weight;
      existing.value = value;
      existing.weight = weight;
      this.touch(existing);
    } else {
      const entry: Entry<K, V> = { key, value, weight, newer: undefined, older: this.newest };
      if (this.newest) this.newest.newer = entry;
      this.newest = entry;
      if (!this.oldest) this.oldest = entry;
      this.map.set(key, entry);
      this.weightSum += weight;
    }
    const maxWeight = this.weights?.maxWeight ?? Number.POSITIVE_INFINITY;
    while (
      this.oldest &&
      this.oldest !== this.newest &&
      (this.map.size > this.capacity || this.weightSum > maxWeight)
    ) {
      const evicted = this.oldest;
      this.unlink(evicted);
      this.map.delete(evicted.key);
      this.weightSum -= evicted.weight;
    }
  }

  delete(key: K): void {
    const entry = this.map.get(key);
    if (!entry) return;
    this.unlink(entry);
    this.map.delete(key);
    this.weightSum -= entry.weight;
  }

  clear(): void {
    this.weightSum = 0;
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
