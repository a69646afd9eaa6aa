import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type * as TS from 'typescript';
import { describe, expect, it } from 'vitest';
import { loadTypeScript } from '../../src/compiler/ts-loader.js';
import { ENGINE_LIBS, stripLibComments, typeCheckTs } from '../../src/compiler/typecheck-ts.js';

/** Declared names of a lib file with their kinds and member counts: what the checker sees of it. */
function declarations(ts: typeof TS, sf: TS.SourceFile): string[] {
  const out: string[] = [];
  const printer = ts.createPrinter({ removeComments: true });
  const typeText = (t: TS.TypeNode | undefined): string => (t ? printer.printNode(ts.EmitHint.Unspecified, t, sf).replace(/\s+/g, ' ') : '');
  const visit = (node: TS.Node, prefix: string): void => {
    const named = node as TS.Node & { name?: TS.Node; members?: TS.NodeArray<TS.Node> };
    const name = named.name && (ts.isIdentifier(named.name) || ts.isStringLiteral(named.name)) ? named.name.text : '';
    if (ts.isVariableStatement(node)) for (const d of node.declarationList.declarations) out.push(`${prefix}var ${d.name.getText(sf)}: ${typeText(d.type)}`);
    else if (name !== '') out.push(`${prefix}${ts.SyntaxKind[node.kind]} ${name} (${named.members?.length ?? 0} members)`);
    if (ts.isModuleDeclaration(node) && node.body && ts.isModuleBlock(node.body)) for (const st of node.body.statements) visit(st, `${prefix}${name}.`);
  };
  for (const st of sf.statements) visit(st, '');
  return out;
}

describe('the type checker\'s comment-free lib', () => {
  const ts = loadTypeScript();
  const libDir = dirname(ts.getDefaultLibFilePath({}));

  it('TSLIB-1: each engine lib declares the same names, kinds, member counts and lib references without its comments, and is smaller', () => {
    let before = 0;
    let after = 0;
    for (const lib of ENGINE_LIBS) {
      const text = readFileSync(join(libDir, lib), 'utf8');
      const stripped = stripLibComments(ts, text);
      before += text.length;
      after += stripped.length;
      const a = ts.createSourceFile(lib, text, ts.ScriptTarget.Latest, true);
      const b = ts.createSourceFile(lib, stripped, ts.ScriptTarget.Latest, true);
      expect(declarations(ts, b), lib).toEqual(declarations(ts, a));
      expect(b.libReferenceDirectives.map((r) => r.fileName), lib).toEqual(a.libReferenceDirectives.map((r) => r.fileName));
      expect(b.hasNoDefaultLib, lib).toBe(a.hasNoDefaultLib);
    }
    expect(after).toBeLessThan(before / 2);
  });

  it('TSLIB-2: a check against it still knows ES2023 built-ins and still reports misuse of them', async () => {
    const sdk = join(import.meta.dirname, '..', '..', 'sdk');
    const ok = await typeCheckTs({ 'main.ts': 'export const n: number = [3, 1, 2].toSorted((a, b) => a - b).at(-1) ?? 0;\nexport const m = new Map<string, bigint>([["a", 1n]]);\n' }, 'main.ts', sdk);
    expect(ok.diagnostics).toEqual([]);
    const bad = await typeCheckTs({ 'main.ts': 'export const s: string = [1, 2].findLast((x) => x > 1);\n' }, 'main.ts', sdk);
    expect(bad.diagnostics.map((d) => d.code)).toEqual(['TS2322']);
  });
});
