import { describe, expect, it } from 'vitest';
import { hashToken, loadConfig } from '../../src/config/index.js';
import { isUeeError } from '../../src/core/index.js';

const T1 = 'a'.repeat(20);
const T2 = 'b'.repeat(20);

function configError(env: Record<string, string>, flags: Record<string, string> = {}): unknown {
  try {
    loadConfig(flags, env);
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('MCP settings', () => {
  it('CFG-MCP-1: UEE_TOKENS list and JSON forms map tokens (kept hashed) to principals', () => {
    const list = loadConfig({}, { UEE_TOKENS: `${T1}=admin, ${T2}=tenant:acme:ro` }).mcp;
    expect(list.tokens).toEqual([
      { sha256: hashToken(T1), principal: { kind: 'admin', id: `token:${hashToken(T1).slice(0, 12)}` } },
      { sha256: hashToken(T2), principal: { kind: 'tenant', id: `token:${hashToken(T2).slice(0, 12)}`, tenantId: 'acme', readOnly: true } },
    ]);
    expect(JSON.stringify(list)).not.toContain(T1);
    const json = loadConfig({}, { UEE_TOKENS: JSON.stringify({ [T1]: 'tenant:globex', [T2]: { kind: 'admin' } }) }).mcp;
    expect(json.tokens.map((t) => t.principal.kind)).toEqual(['tenant', 'admin']);
  });

  it('CFG-MCP-2: defaults: no tokens, no anonymous access, stdio admin, fixtures off', () => {
    const mcp = loadConfig({}, {}).mcp;
    expect(mcp).toMatchObject({ tokens: [], anonymous: null, stdioPrincipal: { kind: 'admin' }, conformanceFixtures: false });
  });

  it('CFG-MCP-3: bad settings are CONFIG_INVALID naming the variable, without echoing the token', () => {
    const cases: Array<[Record<string, string>, Record<string, string>, string]> = [
      [{ UEE_TOKENS: 'short=admin' }, {}, 'UEE_TOKENS'],
      [{ UEE_TOKENS: `${T1}=root` }, {}, 'UEE_TOKENS'],
      [{ UEE_TOKENS: `${T1}=admin,${T1}=tenant:x` }, {}, 'UEE_TOKENS'],
      [{ UEE_TOKENS: '{nope' }, {}, 'UEE_TOKENS'],
      [{ UEE_TOKENS: `${T1}=tenant:bad tenant` }, {}, 'UEE_TOKENS'],
      [{ UEE_MCP_ANONYMOUS: 'admin' }, { host: '0.0.0.0' }, 'UEE_MCP_ANONYMOUS'],
      [{ UEE_MCP_IDENTITY: 'tenant:' }, {}, 'UEE_MCP_IDENTITY'],
      [{ UEE_TOKENS: `${T1}=admin` }, { token: T2 }, 'UEE_MCP_TOKEN'],
      [{ UEE_MCP_ALLOWED_ORIGINS: 'not a url' }, {}, 'UEE_MCP_ALLOWED_ORIGINS'],
    ];
    for (const [env, flags, name] of cases) {
      const err = configError(env, flags);
      expect(isUeeError(err, 'CONFIG_INVALID'), JSON.stringify(env)).toBe(true);
      expect((err as Error).message).toContain(name);
      expect((err as Error).message).not.toContain(T1);
    }
  });

  it('CFG-MCP-4: --token selects a configured principal for stdio; --identity a spec', () => {
    const byToken = loadConfig({ token: T2 }, { UEE_TOKENS: `${T1}=admin,${T2}=tenant:acme` }).mcp.stdioPrincipal;
    expect(byToken).toMatchObject({ kind: 'tenant', tenantId: 'acme', readOnly: false });
    const byIdentity = loadConfig({ identity: 'tenant:acme:ro' }, {}).mcp.stdioPrincipal;
    expect(byIdentity).toMatchObject({ kind: 'tenant', tenantId: 'acme', readOnly: true });
  });
});
