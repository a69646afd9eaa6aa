/**
 * A fast, well-spread, unsigned 32-bit hash of a string: FNV-1a over its UTF-16 code units, then
 * murmur3's fmix32 finalizer to spread the bits. Stable across processes and versions — experiment
 * assignment and queue ownership depend on every process computing the same value — so never change it.
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
