import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readStamp, writeStamp } from '../../src/compiler/input-stamp.js';

/** STAMP-1..4: the input stamps that let a process skip the engine hash and the worker bundle. */
describe('input stamps', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uee-stamp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const a = join(dir, 'a.c');
  const b = join(dir, 'b.h');
  const stamp = join(dir, 'stamp.json');

  it('STAMP-1: the value comes back while the salt and every input are unchanged', () => {
    writeFileSync(a, 'int a;');
    writeFileSync(b, 'int b;');
    writeStamp(stamp, 'salt-1', [a, b], 'hash-1');
    expect(readStamp(stamp, 'salt-1')).toBe('hash-1');
    expect(readStamp(stamp, 'salt-2')).toBeUndefined();
  });

  it('STAMP-2: an edited input (same size, other mtime; or other size) is a miss', () => {
    writeStamp(stamp, 's', [a, b], 'v');
    const later = new Date(Date.now() + 5000);
    utimesSync(b, later, later);
    expect(readStamp(stamp, 's')).toBeUndefined();
    writeStamp(stamp, 's', [a, b], 'v');
    expect(readStamp(stamp, 's')).toBe('v');
    writeFileSync(a, 'int aa;');
    expect(readStamp(stamp, 's')).toBeUndefined();
  });

  it('STAMP-3: a missing input or a corrupt stamp is a miss; a stamp with an unreadable input is not written', () => {
    writeStamp(stamp, 's', [a, b], 'v');
    rmSync(b);
    expect(readStamp(stamp, 's')).toBeUndefined();
    writeFileSync(stamp, '{not json');
    expect(readStamp(stamp, 's')).toBeUndefined();
    writeStamp(stamp, 's', [a, join(dir, 'missing.c')], 'v');
    expect(readStamp(stamp, 's')).toBeUndefined();
  });

  it('STAMP-4: with the expected inputs given, a stamp over other paths (another checkout\'s copy) is a miss', () => {
    writeFileSync(a, 'int a;');
    writeFileSync(b, 'int b;');
    writeStamp(stamp, 's', [a, b], 'v');
    expect(readStamp(stamp, 's', [a, b])).toBe('v');
    expect(readStamp(stamp, 's', [a, join(dir, 'elsewhere', 'b.h')])).toBeUndefined();
    expect(readStamp(stamp, 's', [a])).toBeUndefined();
  });
});
