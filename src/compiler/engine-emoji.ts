/**
 * The strings behind the RegExp `v` flag's properties of strings (`\p{RGI_Emoji}`, `\p{Basic_Emoji}`,
 * `\p{Emoji_Keycap_Sequence}`, `\p{RGI_Emoji_Flag_Sequence}`, `\p{RGI_Emoji_Modifier_Sequence}`,
 * `\p{RGI_Emoji_Tag_Sequence}`, `\p{RGI_Emoji_ZWJ_Sequence}`), taken from the Node.js that builds the
 * engine: every string is one that Node's own `/^\p{…}$/v` accepts (V8 reads them from ICU), so the
 * engine answers as Node does on the same Unicode version. No emoji data is copied from elsewhere.
 *
 * A property of strings cannot be listed through a regex, only tested, so candidates are built from
 * the shapes UTS #51 gives these sequences and each is kept only if Node matches it:
 * - Basic_Emoji: every `\p{Emoji}` code point, alone and followed by U+FE0F;
 * - keycaps: each `\p{Emoji}` code point + U+FE0F + U+20E3; flags: every pair of regional indicators;
 * - modifier sequences: every `\p{Emoji_Modifier_Base}` + each `\p{Emoji_Modifier}`;
 * - tag sequences: U+1F3F4 + a subdivision id in tag characters (a region Intl knows, 1-3 letters or
 *   digits) + U+E007F;
 * - ZWJ sequences of emoji elements (an emoji, emoji + U+FE0F, or a modifier sequence): every pair;
 *   person, anything, person (holding hands, couples with a heart: their two-element parts are not
 *   sequences); then every sequence one element longer than a found one of two or three elements
 *   (the element inserted anywhere: families, kisses, "facing right").
 * On Node 20.20 (Unicode 17) this finds all 1,614 ZWJ sequences of emoji-zwj-sequences.txt (checked
 * against test262's generated list when written). Generated at engine-build time (~20-40 s), cached
 * per Unicode version beside the property table in `node_modules/.cache/uee/`; nothing is committed.
 */
import { cachedHeader, cByteTable, leb128 } from './engine-unicode.js';

/** The properties of strings, in the order of the generated table; RGI_Emoji is their union. */
export const STRING_PROPERTIES = [
  'Basic_Emoji',
  'Emoji_Keycap_Sequence',
  'RGI_Emoji_Flag_Sequence',
  'RGI_Emoji_Modifier_Sequence',
  'RGI_Emoji_Tag_Sequence',
  'RGI_Emoji_ZWJ_Sequence',
] as const;

const ZWJ = '\u200D';
const VS16 = '\uFE0F';

const fullMatch = (prop: string): ((s: string) => boolean) => {
  const re = new RegExp(`^\\p{${prop}}$`, 'v');
  return (s) => re.test(s);
};

/** Every string of each property of strings on this Node. */
export function emojiStrings(): Record<(typeof STRING_PROPERTIES)[number], string[]> {
  const cps = (prop: string): number[] => {
    const re = new RegExp(`^\\p{${prop}}$`, 'u');
    const out: number[] = [];
    for (let c = 0; c <= 0x10ffff; c++) if ((c < 0xd800 || c > 0xdfff) && re.test(String.fromCodePoint(c))) out.push(c);
    return out;
  };
  const emoji = cps('Emoji').map((c) => String.fromCodePoint(c));
  const modifiers = cps('Emoji_Modifier').map((c) => String.fromCodePoint(c));
  const bases = cps('Emoji_Modifier_Base').map((c) => String.fromCodePoint(c));
  const keep = (prop: string, candidates: Iterable<string>): string[] => {
    const test = fullMatch(prop);
    const out = new Set<string>();
    for (const s of candidates) if (test(s)) out.add(s);
    return [...out];
  };

  const basic = keep('Basic_Emoji', emoji.flatMap((e) => [e, e + VS16]));
  const keycaps = keep('Emoji_Keycap_Sequence', emoji.map((e) => `${e}${VS16}\u20E3`));
  const ri = Array.from({ length: 26 }, (_, i) => String.fromCodePoint(0x1f1e6 + i));
  const flags = keep('RGI_Emoji_Flag_Sequence', ri.flatMap((a) => ri.map((b) => a + b)));
  const modified = keep('RGI_Emoji_Modifier_Sequence', bases.flatMap((b) => modifiers.map((m) => b + m)));

  const tag = (s: string): string => [...s].map((ch) => String.fromCodePoint(0xe0000 + (ch.codePointAt(0) ?? 0))).join('');
  const alnum = 'abcdefghijklmnopqrstuvwxyz0123456789'.split('');
  const suffixes = [...alnum, ...alnum.flatMap((a) => alnum.map((b) => a + b)), ...alnum.flatMap((a) => alnum.flatMap((b) => alnum.map((c) => a + b + c)))];
  const regionNames = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
  const regions: string[] = [];
  for (const a of 'abcdefghijklmnopqrstuvwxyz') for (const b of 'abcdefghijklmnopqrstuvwxyz') if (regionNames.of((a + b).toUpperCase()) !== undefined) regions.push(a + b);
  const tagTest = fullMatch('RGI_Emoji_Tag_Sequence');
  const tags: string[] = [];
  for (const r of regions) for (const s of suffixes) {
    const candidate = `\u{1F3F4}${tag(r + s)}\u{E007F}`;
    if (tagTest(candidate)) tags.push(candidate);
  }

  const elements = [...emoji.flatMap((e) => [e, e + VS16]), ...bases.flatMap((b) => modifiers.map((m) => b + m))];
  const zwjTest = fullMatch('RGI_Emoji_ZWJ_Sequence');
  const zwj = new Set<string>();
  for (const a of elements) for (const b of elements) if (zwjTest(a + ZWJ + b)) zwj.add(a + ZWJ + b);
  // people (man, woman, person, boy, girl, child, with every modifier) around any element: holding
  // hands, couples with a heart and the like, whose two-element parts are not sequences
  const people = [0x1f468, 0x1f469, 0x1f9d1, 0x1f466, 0x1f467, 0x1f9d2].flatMap((c) => [String.fromCodePoint(c), ...modifiers.map((m) => String.fromCodePoint(c) + m)]);
  for (const a of people) for (const e of elements) for (const b of people) {
    const candidate = a + ZWJ + e + ZWJ + b;
    if (zwjTest(candidate)) zwj.add(candidate);
  }
  // one element more, inserted anywhere: three elements from two, then four from three
  for (const length of [2, 3]) {
    for (const s of [...zwj]) {
      const parts = s.split(ZWJ);
      if (parts.length !== length) continue;
      for (let at = 0; at <= parts.length; at++) {
        for (const e of elements) {
          const candidate = [...parts.slice(0, at), e, ...parts.slice(at)].join(ZWJ);
          if (!zwj.has(candidate) && zwjTest(candidate)) zwj.add(candidate);
        }
      }
    }
  }
  return {
    Basic_Emoji: basic,
    Emoji_Keycap_Sequence: keycaps,
    RGI_Emoji_Flag_Sequence: flags,
    RGI_Emoji_Modifier_Sequence: modified,
    RGI_Emoji_Tag_Sequence: tags,
    RGI_Emoji_ZWJ_Sequence: [...zwj],
  };
}

/**
 * The C header: `uee_emoji_data` holds each property's strings (code point count, then the code
 * points as LEB128), `uee_emoji_index` names each property's slice, in {@link STRING_PROPERTIES} order.
 */
export function generateEmojiHeader(): string {
  const strings = emojiStrings();
  const bytes: number[] = [];
  const index: Array<[string, number, number]> = [];
  for (const prop of STRING_PROPERTIES) {
    const list = strings[prop].slice().sort();
    const offset = bytes.length;
    for (const s of list) {
      const points = [...s].map((ch) => ch.codePointAt(0) ?? 0);
      leb128(points.length, bytes);
      for (const p of points) leb128(p, bytes);
    }
    index.push([prop, offset, list.length]);
  }
  return cByteTable({ generator: 'engine-emoji.ts', data: 'uee_emoji_data', bytes, index: 'uee_emoji_index', keyField: 'name', rows: index });
}

/** The generated header, cached per Unicode version in `<root>/node_modules/.cache/uee/`. */
export function emojiStringsHeader(root: string): string {
  return cachedHeader(root, 'uee-emoji-strings', generateEmojiHeader);
}
