import { readFileSync } from 'node:fs';
import wabtInit from 'wabt';

const DIR = new URL('../fixtures/wat/', import.meta.url);
let wabt: ReturnType<typeof wabtInit> | null = null;

/** Escapes a string for a WAT data segment (bytes as `\hh` where needed). */
function watString(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    const ch = String.fromCharCode(byte);
    out += byte >= 0x20 && byte < 0x7f && ch !== '"' && ch !== '\\' ? ch : `\\${byte.toString(16).padStart(2, '0')}`;
  }
  return out;
}

/**
 * Builds `test/fixtures/wat/<name>.wat` with wabt. `{{PRELUDE}}` splices the shared Extism helpers;
 * each other `{{KEY}}` takes `vars[KEY]` as a data-segment string and `{{KEY_LEN}}` its byte length,
 * except `FN` and keys starting with `RAW_`, which are spliced in as WAT text.
 */
export async function buildWat(name: string, vars: Record<string, string> = {}): Promise<Uint8Array> {
  wabt ??= wabtInit();
  const w = await wabt;
  let source = readFileSync(new URL(`${name}.wat`, DIR), 'utf8');
  source = source.replace('{{PRELUDE}}', () => readFileSync(new URL('_prelude.wat', DIR), 'utf8'));
  for (const [key, value] of Object.entries(vars)) {
    source = source.replaceAll(`{{${key}_LEN}}`, String(Buffer.byteLength(value))).replaceAll(`{{${key}}}`, key === 'FN' || key.startsWith('RAW_') ? value : watString(value));
  }
  const parsed = w.parseWat(`${name}.wat`, source);
  try {
    parsed.resolveNames();
    parsed.validate();
    return new Uint8Array(parsed.toBinary({}).buffer);
  } finally {
    parsed.destroy();
  }
}
