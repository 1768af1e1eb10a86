import { describe, expect, it } from 'vitest';
import { LruCache } from '../../src/util/lru';

describe('LruCache', () => {
  it('evicts the least recently used key; get and set refresh recency', () => {
    const lru = new LruCache<string, number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    expect(lru.get('a')).toBe(1); // a is now newest: b is the oldest
    lru.set('d', 4);
    expect(lru.get('b')).toBeUndefined();
    lru.set('c', 30); // update refreshes c: a is the oldest now
    lru.set('e', 5);
    expect(lru.get('a')).toBeUndefined();
    expect([lru.get('c'), lru.get('d'), lru.get('e')]).toEqual([30, 4, 5]);
    expect(lru.size).toBe(3);
  });

  it('capacity 1 keeps only the last key; clear empties it; capacity 0 is refused', () => {
    const lru = new LruCache<number, string>(1);
    lru.set(1, 'x');
    lru.set(2, 'y');
    expect(lru.get(1)).toBeUndefined();
    expect(lru.get(2)).toBe('y');
    lru.clear();
    expect(lru.size).toBe(0);
    lru.set(3, 'z');
    expect(lru.get(3)).toBe('z');
    expect(() => new LruCache(0)).toThrow(RangeError);
  });

  it('agrees with a simple reference model over a long random sequence', () => {
    const capacity = 17;
    const lru = new LruCache<number, number>(capacity);
    const model: [number, number][] = []; // oldest first
    let seed = 12345;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 20000; i++) {
      const key = rand(40);
      const at = model.findIndex(([k]) => k === key);
      if (rand(2) === 0) {
        const expected = at >= 0 ? model[at][1] : undefined;
        expect(lru.get(key)).toBe(expected);
        if (at >= 0) model.push(model.splice(at, 1)[0]);
      } else {
        lru.set(key, i);
        if (at >= 0) model.splice(at, 1);
        model.push([key, i]);
        if (model.length > capacity) model.shift();
      }
      expect(lru.size).toBe(model.length);
    }
  });

  it('with weights, evicts the oldest entries until the total fits, but keeps the newest however heavy', () => {
    const lru = new LruCache<string, number[]>(10, { weigh: (v) => v.length, maxWeight: 5 });
    lru.set('a', [1, 2]);
    lru.set('b', [1, 2]);
    expect(lru.totalWeight).toBe(4);
    lru.set('c', [1, 2]); // 6 > 5: a goes
    expect(lru.get('a')).toBeUndefined();
    expect(lru.totalWeight).toBe(4);
    lru.set('b', [1]); // replacing re-weighs
    expect(lru.totalWeight).toBe(3);
    lru.set('huge', new Array(9).fill(0)); // alone over budget: everything older goes, it stays
    expect(lru.size).toBe(1);
    expect(lru.get('huge')).toHaveLength(9);
    lru.delete('huge');
    expect(lru.size).toBe(0);
    expect(lru.totalWeight).toBe(0);
  });
});
