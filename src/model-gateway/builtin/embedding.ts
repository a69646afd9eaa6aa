/**
 * A deterministic text embedding: hashed character n-grams (3- and 4-grams of the lower-cased,
 * space-padded text, plus whole words) projected into a fixed number of signed buckets and
 * L2-normalised. No weights, no network: similar spellings land close, meaning does not. It is a
 * lexical baseline for search and dedupe, not a semantic model.
 */

/** Default vector size of `embed.small`. */
export const DEFAULT_EMBEDDING_DIMENSIONS = 256;

/** FNV-1a, 32 bits. */
function fnv1a(text: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/** Embeds one text into `dimensions` floats with unit L2 norm (all zeros for an empty text). */
export function hashedNgramEmbedding(text: string, dimensions = DEFAULT_EMBEDDING_DIMENSIONS): number[] {
  const v = new Float64Array(dimensions);
  const normalized = text.toLowerCase().normalize('NFKC').replace(/\s+/g, ' ').trim();
  const add = (feature: string, weight: number): void => {
    const h = fnv1a(feature);
    const sign = fnv1a(feature, 0x9747b28c) & 1 ? 1 : -1;
    v[h % dimensions]! += sign * weight;
  };
  const padded = ` ${normalized} `;
  for (const n of [3, 4]) for (let i = 0; i + n <= padded.length; i++) add(`${n}:${padded.slice(i, i + n)}`, 1);
  for (const word of normalized.split(' ')) if (word) add(`w:${word}`, 2);
  let norm = 0;
  for (const x of v) norm += x * x;
  norm = Math.sqrt(norm);
  return Array.from(v, (x) => (norm === 0 ? 0 : Math.fround(x / norm)));
}

/** Cosine similarity of two equal-length vectors. */
export function cosine(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * (b[i] ?? 0);
    na += a[i]! ** 2;
    nb += (b[i] ?? 0) ** 2;
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}
