import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/client';
import { chromium, type Browser, type Page } from 'playwright-core';
import { loadConfig } from '../../src/config/index.js';
import { UeeApp } from '../../src/app/index.js';
import { silentLogger } from '../../src/core/index.js';
import { HttpServer, mountReviewPage } from '../../src/server/index.js';
import { McpHost, mountMcp, type McpHttpEndpoints } from '../../src/server/mcp/index.js';
import { tempDir } from '../helpers.js';
import { call, connectHttp, sc } from '../mcp/helpers.js';
import { NOOP_V1, NOOP_V2, reviewTokens, tokensEnv } from './helpers.js';
import { LOOP, NOTES_V1, NOTES_V2 } from './plugins.js';

/** Screenshots of the browser tests (git-ignored). */
const ARTIFACTS = join(import.meta.dirname, '..', '..', '.artifacts', 'review');

describe('REVIEW-PAGE: the review page in headless Chromium', () => {
  const tk = reviewTokens();
  const dir = tempDir('uee-review');
  let app: UeeApp;
  let http: HttpServer;
  let host: McpHost;
  let endpoints: McpHttpEndpoints;
  let url = '';
  let agent: Client;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const config = loadConfig({ dataDir: dir.path, port: '0', tenants: 'acme,globex' }, { UEE_TOKENS: tokensEnv(tk) });
    app = await UeeApp.create(config, silentLogger);
    http = new HttpServer(silentLogger);
    host = McpHost.create(app, silentLogger);
    endpoints = mountMcp(http, host, silentLogger);
    mountReviewPage(http, { app, door: endpoints.door, review: host.review, tools: host.tools, logger: silentLogger });
    const address = await http.listen('127.0.0.1', 0);
    url = `http://127.0.0.1:${address.port}`;
    agent = await connectHttp(url, tk.agent);
    const put = await fetch(`${url}/review/api/policy?tenantId=acme`, { method: 'PUT', headers: { authorization: `Bearer ${tk.admin}` }, body: JSON.stringify({ mode: 'risky', capabilityIncrease: true }) });
    expect(put.status).toBe(200);
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await agent?.close();
    await endpoints?.close();
    http?.destroy();
    await http?.close();
    await app?.close();
    dir[Symbol.dispose]();
  });

  it('REVIEW-PAGE-1: open the page, find the pending proposal, read its side-by-side diff with the capability highlighted, approve it, see the plugin deployed', async () => {
    const v1 = sc(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Noop', subscribeTo: ['Ping'] }, source: { language: 'wat', files: { 'main.wat': NOOP_V1 } } }));
    expect(v1.applied).toBe(true);
    const held = sc(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Noop', subscribeTo: ['Ping'], capabilities: ['invokeModels'] }, source: { language: 'wat', files: { 'main.wat': NOOP_V2 } }, rationale: 'summaries need a model' }));
    expect(held.proposal.status).toBe('pending');

    await page.goto(`${url}/review#token=${tk.reviewer}`);
    expect(page.url()).not.toContain('token=');
    const row = page.locator(`#proposals tr[data-id="${held.proposal.id}"]`);
    await row.waitFor();
    expect(await row.textContent()).toContain('adds capabilities invokeModels');
    await row.click();
    await page.locator('table.diff').waitFor();
    const changed = page.locator('table.diff tr.add td.r, table.diff tr.change td.r');
    expect(await changed.allTextContents()).toContain('  ;; v2: same behaviour, new comment');
    expect(await page.locator('.caps .cap-added').allTextContents()).toEqual(['+ invokeModels']);
    // only what changes is listed: the capabilities, not the defaults both versions share
    expect(await page.locator('#manifest-diff tbody td:first-child').allTextContents()).toEqual(['capabilities']);
    await page.screenshot({ path: join(ARTIFACTS, 'proposal.png'), fullPage: true });

    await page.fill('#comment', 'ok for the summary feature');
    await page.click('#approve');
    await page.locator('#result[data-status="applied"]').waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'approved.png'), fullPage: true });

    await page.click('#tabs button[data-tab="plugins"]');
    await page.locator('#plugins tr[data-plugin="Acme.Noop@2"]').waitFor();
    const deployed = (await app.registry.versions({ tenantId: 'acme', actor: 't' }, 'Acme.Noop')).map((p) => [p.attributes.pluginVersion, p.attributes.capabilities]);
    expect(deployed).toContainEqual([2, ['invokeModels']]);
    await page.click('#tabs button[data-tab="audit"]');
    await page.locator('#audit tbody tr').first().waitFor();
    const audit = await page.locator('#audit tbody').textContent();
    expect(audit).toContain('approved');
    expect(audit).toContain('applied');
  }, 120_000);

  it('REVIEW-PAGE-2: the proposing agent\'s token cannot approve from the page; without a token the API answers 401', async () => {
    const held = sc(await call(agent, 'plugin_deploy', { manifest: { name: 'Acme.Noop', subscribeTo: ['Ping'], capabilities: ['invokeModels', 'readEntities'] }, source: { language: 'wat', files: { 'main.wat': NOOP_V1 } }, rationale: 'reads' }));
    const agentPage = await browser.newPage();
    await agentPage.goto(`${url}/review#token=${tk.agent}`);
    await agentPage.locator(`#proposals tr[data-id="${held.proposal.id}"]`).click();
    await agentPage.click('#approve');
    await agentPage.locator('#result[data-status="error"]').waitFor();
    expect(await agentPage.locator('#result').textContent()).toContain('TENANT_FORBIDDEN');
    await agentPage.close();
    expect((await fetch(`${url}/review/api/proposals`)).status).toBe(401);
    const versions = await app.registry.versions({ tenantId: 'acme', actor: 't' }, 'Acme.Noop');
    expect(versions.map((v) => v.attributes.pluginVersion).sort()).toEqual([1, 2]);
  }, 60_000);

  it('REVIEW-PAGE-3: live per-plugin latency and error charts are drawn by uPlot once the plugin handles events', async () => {
    const emitted = await call(agent, 'event_emit', { type: 'Ping', payload: {} });
    expect(emitted.isError).toBeFalsy();
    await expect.poll(() => (app.runtime?.router.metrics.snapshot() ?? []).some((m) => m.name === 'Acme.Noop' && m.invocations > 0), { timeout: 20_000 }).toBe(true);
    await page.click('#tabs button[data-tab="metrics"]');
    await page.locator('.plugin-charts .chart.latency .uplot canvas').first().waitFor({ timeout: 20_000 });
    await page.locator('.plugin-charts .chart.errors .uplot canvas').first().waitFor();
    await page.screenshot({ path: join(ARTIFACTS, 'metrics.png'), fullPage: true });
  }, 60_000);
  it('REVIEW-PAGE-4: the bundle\'s simulation on recorded events, model cost and chain warnings are on the page', async () => {
    const ts = (text: string) => ({ language: 'ts', files: { 'main.ts': text } });
    const slow = { timeout: 120_000 };
    const policy = (mode: string) => fetch(`${url}/review/api/policy?tenantId=acme`, { method: 'PUT', headers: { authorization: `Bearer ${tk.admin}` }, body: JSON.stringify({ mode }) });
    expect((await policy('auto')).status).toBe(200);
    const v1 = sc(await agent.callTool({ name: 'plugin_deploy', arguments: { manifest: { name: 'Acme.Notes', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities'] }, source: ts(NOTES_V1) } }, slow));
    expect(v1.applied, JSON.stringify(v1)).toBe(true);
    for (const title of ['a', 'b', 'c']) await call(agent, 'event_emit', { type: 'TaskCreated', payload: { title } });
    await expect.poll(async () => ((await app.store.query({ tenantId: 'acme', actor: 't' }, { entityTypeId: 'Note', limit: 10 })).items.length), { timeout: 30_000 }).toBe(3);
    expect((await policy('risky')).status).toBe(200);
    const held = sc(await agent.callTool({ name: 'plugin_deploy', arguments: { manifest: { name: 'Acme.Notes', subscribeTo: ['TaskCreated'], capabilities: ['writeEntities', 'invokeModels'] }, source: ts(NOTES_V2), rationale: 'score tasks' } }, slow));
    expect(held.applied).toBe(false);
    const loop = sc(await agent.callTool({ name: 'plugin_deploy', arguments: { manifest: { name: 'Acme.Loop', subscribeTo: ['Looped'], emits: ['Looped'], capabilities: ['emitEvents'] }, source: ts(LOOP), rationale: 'loop' } }, slow));
    expect(loop.applied).toBe(false);

    await page.click('#tabs button[data-tab="proposals"]');
    await page.locator(`#proposals tr[data-id="${held.proposal.id}"]`).click();
    await page.locator('#simulation table.simulation').waitFor();
    expect(await page.locator('#simulation tbody tr').count()).toBe(3);
    expect(await page.locator('#simulation tbody tr.sim-differs').count()).toBe(3);
    expect(await page.locator('#simulation-summary').textContent()).toContain('v1 → v2');
    expect(await page.locator('#simulation tbody tr').first().textContent()).toContain('1 model call(s)');
    expect(await page.locator('#cost-per-day').textContent()).toMatch(/model calls\/day/);
    await page.screenshot({ path: join(ARTIFACTS, 'simulation.png'), fullPage: true });

    await page.locator(`#proposals tr[data-id="${loop.proposal.id}"]`).click();
    await page.locator('#chain .chain-warning').first().waitFor();
    expect(await page.locator('#chain').textContent()).toContain('cycle');
    expect(await page.locator('#detail').textContent()).toContain('no retained event of Looped');
    await page.screenshot({ path: join(ARTIFACTS, 'chain.png'), fullPage: true });
  }, 180_000);

  it('REVIEW-PAGE-5: an experiment\'s report with confidence-interval plots drawn by uPlot', async () => {
    const started = sc(await call(agent, 'experiment_start', { id: 'noop-ab', plugins: ['Acme.Noop'], key: 'correlation', variants: [{ name: 'control', version: 1 }, { name: 'candidate', version: 2 }] }));
    expect(started.applied).toBe(true);
    for (let i = 0; i < 16; i++) await call(agent, 'event_emit', { type: 'Ping', payload: { i } });
    await expect
      .poll(async () => {
        const r = sc(await call(agent, 'experiment_report', { id: 'noop-ab' }));
        return (r.variants as Array<{ exposures: number }>).every((v) => v.exposures > 0);
      }, { timeout: 30_000 })
      .toBe(true);
    await page.click('#tabs button[data-tab="experiments"]');
    const card = page.locator('article.experiment[data-id="noop-ab"]');
    await card.waitFor();
    await card.locator('.ci-chart .uplot canvas').nth(1).waitFor();
    expect(await card.locator('.ci-chart').count()).toBe(2);
    expect(await card.locator('table.variants tbody tr').count()).toBe(2);
    expect(await card.locator('table.variants tbody tr').nth(1).textContent()).toMatch(/p=/);
    await page.screenshot({ path: join(ARTIFACTS, 'experiment.png'), fullPage: true });
  }, 120_000);
});
