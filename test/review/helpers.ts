import { createHash, randomBytes } from 'node:crypto';
import type { Principal } from '../../src/core/index.js';
import { afterAll, beforeAll } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { connectHttp, startServer, type TestServer } from '../mcp/helpers.js';

/** A noop plugin in WAT: its source is recorded, so reviewers get a source diff. */
export const NOOP_V1 = '(module\n  (memory (export "memory") 1)\n  (func (export "handle") (result i32)\n    (i32.const 0)))\n';
export const NOOP_V2 = '(module\n  (memory (export "memory") 1)\n  ;; v2: same behaviour, new comment\n  (func (export "handle") (result i32)\n    (i32.const 0)))\n';

/** Random tokens for a review test. */
export function reviewTokens() {
  const t = () => randomBytes(24).toString('hex');
  return { admin: t(), agent: t(), reviewer: t(), reviewer2: t(), globex: t() };
}

/** UEE_TOKENS for a review test: an admin reviewer, an agent and two human reviewers of acme. */
export function tokensEnv(tk: ReturnType<typeof reviewTokens>): string {
  return `${tk.admin}=admin:reviewer,${tk.agent}=tenant:acme,${tk.reviewer}=tenant:acme:reviewer,${tk.reviewer2}=tenant:acme:reviewer,${tk.globex}=tenant:globex`;
}

/** The principal a token of the test server stands for. */
export function principalOf(s: Pick<TestServer, 'app'>, token: string): Principal {
  const found = s.app.config.mcp.tokens.find((t) => t.principal && t.sha256 === createHashHex(token));
  if (!found) throw new Error('unknown token');
  return found.principal;
}
function createHashHex(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}


/** A server with {@link reviewTokens} and the agent's client, for one describe: started before its tests, closed after. */
export function reviewSite(): { readonly s: TestServer; readonly tk: ReturnType<typeof reviewTokens>; readonly agent: Client } {
  const site = { tk: reviewTokens() } as { s: TestServer; tk: ReturnType<typeof reviewTokens>; agent: Client };
  beforeAll(async () => {
    site.s = await startServer({ UEE_TOKENS: tokensEnv(site.tk) });
    site.agent = await connectHttp(site.s.url, site.tk.agent);
  }, 60_000);
  afterAll(async () => {
    await site.agent?.close();
    await site.s?.close();
  });
  return site;
}
