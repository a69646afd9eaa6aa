/**
 * Unicode property data for the engine's RegExp `\p{…}`, taken from the Node.js that builds the engine
 * (V8's ICU: `process.versions.unicode`, 17.0 on Node 20.20) instead of QuickJS 2021's Unicode 13
 * tables, which lack the scripts and code points added since (`\p{Script=Vithkuqi}` was a SyntaxError,
 * `\p{Script=Khitan_Small_Script}` missed U+18CFF).
 *
 * The property names come from QuickJS's own name tables (general categories, scripts, binary
 * properties, with their aliases) plus the scripts added in Unicode 14-17; a name Node does not accept
 * is left out. Each property's code points are read with Node's own regex over every code point, and
 * emitted as a C table (`uee-unicode-props.h`, sorted keys `gc=Lu`, `sc=Latn`, `scx=Latn`, `bin=Alpha`,
 * ranges as LEB128 deltas) that {@link UNICODE_LOOKUP} consults before QuickJS's tables. Case mapping,
 * identifiers and normalization keep QuickJS's data. Generated at engine-build time (a few seconds),
 * cached per Unicode version under `node_modules/.cache/uee/`; nothing generated is committed.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Scripts added in Unicode 14-17 (QuickJS 2021 stops at 13), long name then alias. */
const NEW_SCRIPTS = [
  'Cypro_Minoan,Cpmn', 'Old_Uyghur,Ougr', 'Tangsa,Tnsa', 'Toto', 'Vithkuqi,Vith', 'Kawi', 'Nag_Mundari,Nagm',
  'Garay,Gara', 'Gurung_Khema,Gukh', 'Kirat_Rai,Krai', 'Ol_Onal,Onao', 'Sunuwar,Sunu', 'Todhri,Todr', 'Tulu_Tigalari,Tutg',
  'Beria_Erfe,Berf', 'Chisoi,Chis', 'Sidetic,Sidt', 'Tai_Yo,Tayo', 'Tolong_Siki,Tols',
];

function nameTable(header: string, table: string): string[][] {
  const body = new RegExp(`static const char ${table}\\[\\] =([\\s\\S]*?);`).exec(header)?.[1] ?? '';
  return [...body.matchAll(/"([^"\\]+)"\s*"\\0"/g)].map((m) => (m[1] ?? '').split(','));
}

const accepts = (pattern: string): boolean => {
  try {
    new RegExp(pattern, 'u');
    return true;
  } catch {
    return false;
  }
};

/** [start, end) ranges of the code points `\p{prop}` matches on this Node. */
function ranges(prop: string, low: string, high: string): number[] {
  const out: number[] = [];
  const add = (a: number, b: number): void => {
    if (out.length > 0 && out[out.length - 1] === a) out[out.length - 1] = b;
    else out.push(a, b);
  };
  const scan = (text: string): void => {
    for (const m of text.matchAll(new RegExp(`\\p{${prop}}+`, 'gu'))) {
      const start = text.codePointAt(m.index) ?? 0;
      const endIdx = m.index + m[0].length - 1;
      const lastUnit = text.charCodeAt(endIdx);
      const last = lastUnit >= 0xdc00 && lastUnit <= 0xdfff && endIdx > 0 ? (text.codePointAt(endIdx - 1) ?? 0) : lastUnit;
      add(start, last + 1);
    }
  };
  scan(low);
  const one = new RegExp(`^\\p{${prop}}$`, 'u');
  for (let c = 0xd800; c <= 0xdfff; c++) if (one.test(String.fromCharCode(c))) add(c, c + 1);
  scan(high);
  return out;
}

/** Appends `n` (a non-negative integer) to `into` as unsigned LEB128. */
export function leb128(n: number, into: number[]): void {
  let v = n;
  while (v >= 0x80) {
    into.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  into.push(v);
}

/** The C header for QuickJS's `libunicode-table.h` text, on this Node. */
export function generateUnicodeProps(quickjsTable: string): string {
  const codePoints = (from: number, to: number): string => {
    const parts: string[] = [];
    for (let c = from; c <= to; c += 4096) parts.push(String.fromCodePoint(...Array.from({ length: Math.min(4096, to - c + 1) }, (_, i) => c + i)));
    return parts.join('');
  };
  const low = codePoints(0, 0xd7ff);
  const high = codePoints(0xe000, 0x10ffff);
  const groups: { keys: string[]; prop: string }[] = [];
  for (const names of nameTable(quickjsTable, 'unicode_gc_name_table')) {
    if (accepts(`\\p{gc=${names[0]}}`)) groups.push({ keys: names.map((n) => `gc=${n}`), prop: `gc=${names[0]}` });
  }
  for (const names of [...nameTable(quickjsTable, 'unicode_script_name_table'), ...NEW_SCRIPTS.map((s) => s.split(','))]) {
    if (!accepts(`\\p{sc=${names[0]}}`)) continue;
    groups.push({ keys: names.map((n) => `sc=${n}`), prop: `sc=${names[0]}` });
    groups.push({ keys: names.map((n) => `scx=${n}`), prop: `scx=${names[0]}` });
  }
  for (const names of nameTable(quickjsTable, 'unicode_prop_name_table')) {
    if (accepts(`\\p{${names[0]}}`)) groups.push({ keys: names.map((n) => `bin=${n}`), prop: names[0] ?? '' });
  }
  for (const name of ['Any', 'Assigned', 'ASCII']) if (accepts(`\\p{${name}}`)) groups.push({ keys: [`bin=${name}`], prop: name });
  const bytes: number[] = [];
  const index: { key: string; offset: number; count: number }[] = [];
  const seen = new Set<string>();
  for (const g of groups) {
    const r = ranges(g.prop, low, high);
    const offset = bytes.length;
    let prev = 0;
    for (const point of r) {
      leb128(point - prev, bytes);
      prev = point;
    }
    for (const key of g.keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      index.push({ key, offset, count: r.length });
    }
  }
  index.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return cByteTable({
    generator: 'engine-unicode.ts',
    data: 'uee_uprop_data',
    bytes,
    index: 'uee_uprop_index',
    keyField: 'key',
    rows: index.map((e) => [e.key, e.offset, e.count]),
  });
}

/**
 * A generated C header: the byte array `data` and the index `index` of `{ keyField, offset, count }`
 * rows naming slices of it, with a comment saying which Node (and Unicode) made it and by which file.
 */
export function cByteTable(t: { generator: string; data: string; bytes: readonly number[]; index: string; keyField: string; rows: ReadonlyArray<readonly [string, number, number]> }): string {
  const lines: string[] = [];
  for (let i = 0; i < t.bytes.length; i += 24) lines.push(`    ${t.bytes.slice(i, i + 24).join(',')},`);
  return [
    `/* Generated at engine-build time from Node ${process.version} (Unicode ${process.versions.unicode}) by src/compiler/${t.generator}. */`,
    `static const uint8_t ${t.data}[${t.bytes.length}] = {`,
    ...lines,
    '};',
    `static const struct { const char *${t.keyField}; uint32_t offset, count; } ${t.index}[] = {`,
    ...t.rows.map(([key, offset, count]) => `    { "${key}", ${offset}, ${count} },`),
    '};',
    '',
  ].join('\n');
}

/**
 * The generated header, cached per Unicode version in `<root>/node_modules/.cache/uee/` (a few
 * seconds to generate; every process that hashes the engine's inputs reads it).
 */
export function unicodePropsHeader(root: string, quickjsTable: string): string {
  return cachedHeader(root, 'uee-unicode-props', () => generateUnicodeProps(quickjsTable));
}

/**
 * A header generated from this Node's Unicode data, cached in `<root>/node_modules/.cache/uee/` as
 * `<name>-<Unicode version>-<ICU version>.h` (written to a temporary file, then renamed, so
 * concurrent builds never read half of one).
 */
export function cachedHeader(root: string, name: string, generate: () => string): string {
  const dir = join(root, 'node_modules', '.cache', 'uee');
  const file = join(dir, `${name}-${process.versions.unicode}-${process.versions.icu}.h`);
  if (existsSync(file)) return readFileSync(file, 'utf8');
  const text = generate();
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${file}.tmp-${process.pid}`, text);
  renameSync(`${file}.tmp-${process.pid}`, file);
  return text;
}

/** C for libregexp.c: `\p{…}` looked up in the generated table first (0 found, -2 not there, -1 OOM). */
export const UNICODE_LOOKUP = String.raw`
#include "uee-unicode-props.h"

static int uee_unicode_lookup(CharRange *cr, void *opaque, const char *name, const char *value)
{
    char key[160];
    int lo, hi, mid, c, pass;
    uint32_t i, point, shift, v;
    const uint8_t *p;

    for (pass = 0; pass < 2; pass++) {
        if (value[0] != '\0') {
            if (pass == 1)
                return -2;
            if (!strcmp(name, "Script") || !strcmp(name, "sc"))
                snprintf(key, sizeof key, "sc=%s", value);
            else if (!strcmp(name, "Script_Extensions") || !strcmp(name, "scx"))
                snprintf(key, sizeof key, "scx=%s", value);
            else if (!strcmp(name, "General_Category") || !strcmp(name, "gc"))
                snprintf(key, sizeof key, "gc=%s", value);
            else
                return -2;
        } else {
            snprintf(key, sizeof key, pass == 0 ? "gc=%s" : "bin=%s", name);
        }
        lo = 0;
        hi = (int)(sizeof(uee_uprop_index) / sizeof(uee_uprop_index[0])) - 1;
        while (lo <= hi) {
            mid = (lo + hi) / 2;
            c = strcmp(key, uee_uprop_index[mid].key);
            if (c == 0) {
                cr_init(cr, opaque, lre_realloc);
                p = uee_uprop_data + uee_uprop_index[mid].offset;
                point = 0;
                for (i = 0; i < uee_uprop_index[mid].count; i++) {
                    v = 0;
                    shift = 0;
                    do {
                        v |= (uint32_t)(*p & 0x7f) << shift;
                        shift += 7;
                    } while (*p++ & 0x80);
                    point += v;
                    if (cr_add_point(cr, point)) {
                        cr_free(cr);
                        return -1;
                    }
                }
                return 0;
            }
            if (c < 0)
                hi = mid - 1;
            else
                lo = mid + 1;
        }
    }
    return -2;
}
`;
