import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startOpenAIFake, type OpenAIFake } from '../fakes/openai-fake';
import { createCustomer, createMockModel, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';
import { recordSecret } from '../support/leak-watch';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const outputDir = path.resolve(__dirname, '../../.test-output/console');
const AXE = require.resolve('axe-core/axe.min.js');
const TEMPORAL_UI = 'http://127.0.0.1:8233';

/** Chromium from Debian's package; .ci/run installs it when missing. */
const CHROMIUM = '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];

const fmt = (n: number) => new Intl.NumberFormat('en-US').format(n);

/** Retries a block of expectations until they pass (numbers settle a moment after the action that moves them). */
async function settled(check: () => Promise<void>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/**
 * The web console in real Chromium against the real gateway (PostgreSQL, Temporal, the worker, the mock
 * provider and a fake OpenAI upstream): every page of both roles, the numbers it shows against the API's,
 * a playground task watched to the end, a video seeked, a key revoked and refused, a channel tested.
 * Each page is screenshotted into .test-output/console/ and checked with axe-core.
 */
describe('web console in Chromium', () => {
  let gw: TestGateway;
  let browser: Browser;
  let openai: OpenAIFake;
  let receiver: WebhookReceiver;
  let customer: Awaited<ReturnType<typeof createCustomer>>;
  const models: Record<'image' | 'video' | 'music' | 'chat', string> = { image: '', video: '', music: '', chat: '' };
  let videoChannel = '';
  let imageChannel = '';
  const taskIds: Record<string, string> = {};
  const problems: string[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ env: { TEMPORAL_UI_URL: TEMPORAL_UI } });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    openai = await startOpenAIFake();
    receiver = await startWebhookReceiver();
    await mkdir(outputDir, { recursive: true });

    const image = await createMockModel(gw, { category: 'image', pricing: { per_image: 10 }, settings: { durationMs: 200 } });
    models.image = image.model;
    imageChannel = image.channelId;
    const video = await createMockModel(gw, { category: 'video', pricing: { per_second: 5 }, defaultDuration: 2, settings: { durationMs: 1500 } });
    models.video = video.model;
    videoChannel = video.channelId;
    await gw.admin('PATCH', `/admin/channels/${videoChannel}`, { upstream_pricing: { per_second: 2 } });
    models.music = (await createMockModel(gw, { category: 'music', pricing: { per_second: 2 }, defaultDuration: 3, settings: { durationMs: 200 } })).model;
    models.chat = uniqueId('chat');
    await gw.admin('POST', '/admin/models', { id: models.chat, category: 'chat', pricing: { per_1k_input_tokens: 10, per_1k_output_tokens: 10 } });
    await gw.admin('POST', '/admin/channels', { name: 'fake openai', provider: 'openai', base_url: openai.url, api_key: openai.apiKey, models: [models.chat] });

    customer = await createCustomer(gw, { credits: 5000, key: { budget: 3000, models: Object.values(models) } });
    for (const [kind, route, body] of [
      ['image', '/v1/images/generations', { model: models.image, prompt: 'a lighthouse at dusk', n: 1, callback_url: receiver.url('/hooks/image') }],
      ['video', '/v1/videos', { model: models.video, prompt: 'waves on a beach', duration: 2 }],
      ['music', '/v1/music/generations', { model: models.music, prompt: 'a calm piano', duration: 3 }],
    ] as const) {
      const created = await gw.request('POST', route, { key: customer.key, body });
      taskIds[kind] = created.body.id;
    }
    for (const id of Object.values(taskIds)) expect((await waitForTask(gw, customer.key, id)).status).toBe('succeeded');
    await receiver.waitFor(1, (hook) => hook.path === '/hooks/image', 20_000);
  });
  afterAll(async () => {
    await browser?.close();
    await openai?.close();
    await receiver?.stop();
    await gw?.stop();
  });
  afterEach(() => {
    expect(problems.splice(0)).toEqual([]);
  });

  /** A fresh browser context signed in with `credential`; requests anywhere but the gateway fail the test. */
  async function signIn(credential: string, landing: string): Promise<{ context: BrowserContext; page: Page }> {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (url.startsWith(`${gw.url}/`)) return route.continue();
      problems.push(`request outside the gateway: ${url}`);
      return route.abort();
    });
    const page = await context.newPage();
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // A refused API call logs its status; the tests that expect one check it themselves.
      if (message.type() === 'error' && !/status of 40[0-9]/.test(message.text())) problems.push(`console: ${message.text()}`);
    });
    await page.goto(`${gw.url}/console`);
    await page.fill('#credential', credential);
    await page.click('button[type=submit]');
    await page.waitForSelector(`nav a[href="#/${landing}"][aria-current="page"]`);
    // Neither the key nor the session token ever appears in the address bar.
    expect(page.url()).not.toContain(credential);
    return { context, page };
  }

  /** Screenshot into the test output, then axe-core: no serious or critical violation. */
  async function check(page: Page, name: string): Promise<void> {
    await page.waitForLoadState('networkidle');
    await page.screenshot({ path: path.join(outputDir, `${name}.png`), fullPage: true });
    // Runtime.evaluate is outside the page's CSP, so axe runs without weakening it.
    if (!(await page.evaluate('"axe" in window'))) await page.evaluate(await readFile(AXE, 'utf8'));
    const violations = await page.evaluate<string[]>(`axe.run(document, { resultTypes: ['violations'] }).then((result) => result.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => v.id + ': ' + v.nodes.map((n) => n.target.join(' ')).join(', ')))`);
    expect({ page: name, violations }).toEqual({ page: name, violations: [] });
  }

  async function visit(page: Page, hash: string): Promise<void> {
    await page.evaluate(`location.hash = ${JSON.stringify(hash)}`);
    await page.waitForSelector(`nav a[href="#/${hash.split('/')[1]}"][aria-current="page"]`);
  }

  it('refuses inline script: the CSP blocks an injected one', async () => {
    const { context, page } = await signIn(customer.key, 'credits');
    const outcome = await page.evaluate<{ directive: string; ran: boolean }>(`new Promise((resolve) => {
      document.addEventListener('securitypolicyviolation', (e) => resolve({ directive: e.effectiveDirective, ran: 'injected' in window }), { once: true });
      const script = document.createElement('script');
      script.textContent = 'window.injected = true';
      document.body.append(script);
    })`);
    expect(outcome).toEqual({ directive: 'script-src-elem', ran: false });
    expect(await page.evaluate("'injected' in window")).toBe(false);
    // Chromium reports the blocked script on the console: the one problem this test expects.
    expect(problems.splice(0)).toEqual([expect.stringMatching(/^console: Executing inline script violates the following Content Security Policy/)]);
    await context.close();
  });

  it('shows a consumer their credits, usage, tasks and task pages with the numbers the API returns', async () => {
    const chat = await gw.request('POST', '/v1/chat/completions', { key: customer.key, body: { model: models.chat, messages: [{ role: 'user', content: 'hello there' }] } });
    expect(chat.status).toBe(200);
    const { context, page } = await signIn(customer.key, 'credits');

    const credits = (await gw.request('GET', '/v1/console/credits', { key: customer.key })).body;
    await expect(page.textContent('[data-testid=balance]')).resolves.toBe(fmt(credits.account.balance));
    await expect(page.textContent('[data-testid=reserved]')).resolves.toBe(fmt(credits.account.reserved));
    await expect(page.textContent('[data-testid=budget]')).resolves.toBe('3,000');
    await expect(page.textContent('[data-testid=budget-left]')).resolves.toBe(fmt(credits.key.budget_left));
    expect(credits.account.balance).toBe(5000 - credits.key.budget_spent - credits.account.reserved);
    await check(page, 'consumer-credits');

    await visit(page, '#/usage');
    await settled(async () => {
      const usage = (await gw.request('GET', '/v1/usage', { key: customer.key })).body;
      expect(usage.total.requests).toBe(4);
      await page.reload();
      await expect(page.textContent('[data-testid=usage-requests]')).resolves.toBe(fmt(usage.total.requests));
      await expect(page.textContent('[data-testid=usage-credits]')).resolves.toBe(fmt(usage.total.credits));
    });
    expect(await page.locator('figure.chart canvas').count()).toBe(1);
    expect(await page.locator('table[aria-label="Usage by day and model"] tbody tr').count()).toBe(4);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('text=Export CSV')]);
    const csv = await readFile((await download.path())!, 'utf8');
    const lines = csv.trim().split('\r\n');
    expect(lines[0]).toBe('date,model,requests,credits,units');
    expect(lines.slice(1).map((l) => l.split(',')[1]).sort()).toEqual(Object.values(models).sort());
    await check(page, 'consumer-usage');

    await visit(page, '#/tasks');
    await page.waitForSelector(`li[data-task-id="${taskIds.image}"] img`);
    expect(await page.locator('ul.gallery > li').count()).toBe(3);
    await settled(async () => expect(await page.evaluate<number>(`document.querySelector('li[data-task-id="${taskIds.image}"] img').naturalWidth`)).toBeGreaterThan(0));
    expect(await page.locator(`li[data-task-id="${taskIds.video}"] video`).count()).toBe(1);
    expect(await page.locator(`li[data-task-id="${taskIds.music}"] audio`).count()).toBe(1);
    await check(page, 'consumer-tasks');
    await page.selectOption('#f-kind', 'music');
    await page.click('form.filters button[type=submit]');
    await settled(async () => expect(await page.locator('ul.gallery > li').evaluateAll((items) => items.map((li) => li.getAttribute('data-task-id')))).toEqual([taskIds.music]));
    await page.selectOption('#f-kind', '');
    await page.selectOption('#f-status', 'failed');
    await page.click('form.filters button[type=submit]');
    await page.waitForSelector('text=No tasks match.');

    await visit(page, `#/tasks/${taskIds.image}`);
    await page.waitForSelector('ol.timeline li');
    const task = (await gw.request('GET', `/v1/console/tasks/${taskIds.image}`, { key: customer.key })).body;
    expect(await page.locator('ol.timeline li').count()).toBe(task.timeline.length);
    await expect(page.textContent('[data-testid=cost-charged]')).resolves.toBe(fmt(task.credits.charged));
    expect(await page.locator('.task-detail img.full').count()).toBe(1);
    // The callback's delivery, as the gateway recorded it once the receiver answered.
    await settled(async () => {
      const delivered = (await gw.request('GET', `/v1/console/tasks/${taskIds.image}`, { key: customer.key })).body.deliveries;
      expect(delivered).toEqual([expect.objectContaining({ url: receiver.url('/hooks/image'), last_status: 200, event_type: 'task.succeeded' })]);
      await page.reload();
      await expect(page.textContent('table[aria-label="Callback deliveries"] tbody')).resolves.toContain(receiver.url('/hooks/image'));
    });
    await check(page, 'consumer-task');
    await context.close();
  });

  it('creates a video in the playground with its price shown first, watches it finish, and seeks the video', async () => {
    const { context, page } = await signIn(customer.key, 'credits');
    await visit(page, '#/playground');
    await page.selectOption('#pg-model', models.video);
    await page.fill('#pg-prompt', 'a paper boat on a river');
    await page.fill('#pg-duration', '3');
    await expect(page.textContent('[data-testid=price]')).resolves.toBe('15');
    await check(page, 'consumer-playground');
    await page.click('form[aria-label="Create a media task"] button[type=submit]');
    await page.waitForSelector('[data-testid=playground-task]');
    // Progress arrives while it runs (the mock takes 1.5 s), then the final state.
    await page.waitForSelector('[data-testid=playground-task][data-status=succeeded]', { timeout: 60_000 });
    const taskId = (await page.textContent('[data-testid=playground-task] a'))!;
    const task = (await gw.request('GET', `/v1/tasks/${taskId}`, { key: customer.key })).body;
    expect(task).toMatchObject({ status: 'succeeded', model: models.video, credits: { charged: 15 } });

    const played = await page.evaluate<{ duration: number; currentTime: number; error: number | null }>(`(async () => {
      const video = document.querySelector('.result video');
      if (video.readyState < 1) await new Promise((resolve) => video.addEventListener('loadedmetadata', resolve, { once: true }));
      video.muted = true;
      await video.play();
      video.pause();
      const seeked = new Promise((resolve) => video.addEventListener('seeked', resolve, { once: true }));
      video.currentTime = 2;
      await seeked;
      return { duration: video.duration, currentTime: video.currentTime, error: video.error ? video.error.code : null };
    })()`);
    expect(played.error).toBeNull();
    expect(played.duration).toBeCloseTo(3, 0);
    // Chromium seeks a video only when its server answers Range requests; without them the seek stays at 0.
    const asset = await fetch(task.output[0].url, { headers: { range: 'bytes=0-0' } });
    await asset.body?.cancel();
    if (asset.status === 206) expect(played.currentTime).toBeCloseTo(2, 0);
    else expect({ rangeSupport: asset.headers.get('accept-ranges'), seekedTo: played.currentTime }).toEqual({ rangeSupport: null, seekedTo: 0 });
    await check(page, 'consumer-playground-done');
    await context.close();
  });

  it('streams a chat answer in the chat playground', async () => {
    const { context, page } = await signIn(customer.key, 'credits');
    await visit(page, '#/chat');
    await page.selectOption('#chat-model', models.chat);
    await page.fill('#chat-input', 'Tell me about foxes');
    await page.click('form.chat-form button[type=submit]');
    // waitForFunction would eval in the page, which its CSP forbids: poll from outside instead.
    await settled(async () => {
      expect(await page.locator('form.chat-form button[type=submit][disabled]').count()).toBe(0);
      expect((await page.textContent('.msg-assistant .text'))!.length).toBeGreaterThan(5);
    });
    const answer = await page.textContent('.msg-assistant .text');
    expect(openai.requests.at(-1)?.body).toMatchObject({ stream: true, messages: [{ role: 'user', content: 'Tell me about foxes' }] });
    expect(answer!.length).toBeGreaterThan(5);
    await check(page, 'consumer-chat');
    await context.close();
  });

  it('lets an operator see accounts, top up, and read the ledger', async () => {
    const { context, page } = await signIn(gw.adminToken, 'accounts');
    const account = (await gw.request('GET', `/admin/accounts/${customer.accountId}`, { admin: true })).body;
    await expect(page.textContent(`[data-testid="balance-${customer.accountId}"]`)).resolves.toBe(fmt(account.balance));
    await page.click(`a[href="#/accounts/${customer.accountId}"]`);
    await page.fill('#topup-amount', '250');
    await page.fill('#topup-reason', 'console test');
    await page.click('form[aria-label="Top up"] button[type=submit]');
    await page.waitForSelector('table[aria-label="Ledger"] td:text("console test")');
    await settled(async () => {
      const after = (await gw.request('GET', `/admin/accounts/${customer.accountId}`, { admin: true })).body;
      expect(after.balance).toBe(account.balance + 250);
      await expect(page.textContent(`[data-testid="balance-${customer.accountId}"]`)).resolves.toBe(fmt(after.balance));
    });
    await check(page, 'operator-accounts');
    await context.close();
  });

  it('lets an operator edit, rotate and revoke keys; a revoked key is refused, in the API and in its console', async () => {
    const victim = await createCustomer(gw, { credits: 100 });
    const rotated = await createCustomer(gw, { credits: 100 });
    const consumer = await signIn(victim.key, 'credits');
    const { context, page } = await signIn(gw.adminToken, 'accounts');
    await visit(page, '#/keys');
    page.on('dialog', (dialog) => void dialog.accept());

    await page.click(`tr[data-key-id="${rotated.keyId}"] button:text("Edit")`);
    await page.fill('#edit-rpm', '77');
    await page.fill('#edit-budget', '900');
    await page.click('section[aria-labelledby="edit-title"] button[type=submit]');
    await settled(async () => expect((await gw.admin('GET', `/admin/keys/${rotated.keyId}`))).toMatchObject({ rpm: 77, budget: 900 }));

    await page.click(`tr[data-key-id="${rotated.keyId}"] button:text("Rotate")`);
    const secret = (await page.textContent('[data-testid=new-secret]'))!;
    recordSecret(secret);
    expect(secret).toMatch(/^sk-gw-/);
    expect((await gw.request('GET', '/v1/models', { key: secret })).status).toBe(200);
    await check(page, 'operator-keys');

    await page.click('[data-testid=new-secret] ~ button:text("Done")');
    await page.selectOption('#new-account', rotated.accountId);
    await page.fill('#new-name', 'made in the console');
    await page.fill('#new-models', `${models.image}, mock-*`);
    await page.fill('#new-budget_monthly', '1234');
    await page.click('section[aria-labelledby="new-key"] button[type=submit]');
    const created = (await page.textContent('[data-testid=new-secret]'))!;
    recordSecret(created);
    const listed = (await gw.admin('GET', `/admin/keys?account_id=${rotated.accountId}`)).data.find((k: { name: string }) => k.name === 'made in the console');
    expect(listed).toMatchObject({ models: [models.image, 'mock-*'], budget_monthly: 1234, rpm: null, revoked_at: null });
    expect((await gw.request('GET', '/v1/models', { key: created })).body.data.map((m: { id: string }) => m.id)).toContain(models.image);

    await page.click(`tr[data-key-id="${victim.keyId}"] button:text("Revoke")`);
    await page.waitForSelector(`tr[data-key-id="${victim.keyId}"] .badge:text-matches("revoked")`);
    await settled(async () => expect((await gw.request('GET', '/v1/models', { key: victim.key })).status).toBe(401));
    // The consumer's console session goes with its key: the next call signs it out with the reason.
    await consumer.page.reload();
    await consumer.page.waitForSelector('#credential');
    await expect(consumer.page.textContent('.problem')).resolves.toMatch(/revoked/);
    await consumer.context.close();
    await context.close();
  });

  it('shows models, channels with health, tests a channel, all tasks with workflow links, and the money', async () => {
    const { context, page } = await signIn(gw.adminToken, 'accounts');
    await visit(page, '#/models');
    await page.waitForSelector(`td:text("${models.video}")`);
    await check(page, 'operator-models');

    await visit(page, '#/channels');
    await page.waitForSelector(`[data-testid="circuit-${videoChannel}"] .badge:text("closed")`);
    await page.click(`tr[data-channel-id="${videoChannel}"] button:text("Test")`);
    await page.waitForSelector(`[data-testid="test-${videoChannel}"] .ok`, { timeout: 30_000 });
    await expect(page.textContent(`[data-testid="test-${videoChannel}"]`)).resolves.toContain(models.video);
    await check(page, 'operator-channels');

    await visit(page, '#/all-tasks');
    await page.fill('#f-model', models.video);
    await page.click('form.filters button[type=submit]');
    await page.waitForSelector(`li[data-task-id="${taskIds.video}"]`);
    const link = await page.getAttribute(`li[data-task-id="${taskIds.video}"] a:text("workflow")`, 'href');
    expect(link).toBe(`${TEMPORAL_UI}/namespaces/default/workflows/${taskIds.video}`);
    await check(page, 'operator-all-tasks');
    await page.click(`li[data-task-id="${taskIds.video}"] a.task-link`);
    await page.waitForSelector('ol.timeline li:has-text("channel attempt on")');
    await check(page, 'operator-task');

    // A week of history (rows as the settlement writes them, dated back): the money page sums by day, and
    // the trigger prices each row from its channel's upstream pricing.
    await gw.admin('PATCH', `/admin/channels/${imageChannel}`, { upstream_pricing: { per_image: 6 } });
    const db = gw.gateway.orm.em.fork().getConnection();
    for (let day = 1; day <= 6; day++) {
      for (const [model, channel, kind, units, charged] of [
        [models.video, videoChannel, 'video', { seconds: 2 + (day % 3) }, 5 * (2 + (day % 3))],
        [models.image, imageChannel, 'image', { images: 1 + (day % 2) }, 10 * (1 + (day % 2))],
      ] as const) {
        await db.execute(
          `insert into usage_records (id, ref, account_id, api_key_id, model, category, channel_id, units, credits, status, latency_ms, created_at)
           values (?, ?, ?, ?, ?, ?, ?, ?, ?, 'succeeded', 1500, now() - (? * interval '1 day'))`,
          [`use_hist_${kind}_${day}`, `hist_${kind}_${day}`, customer.accountId, customer.keyId, model, kind, channel, JSON.stringify(units), charged, day],
        );
      }
    }

    await visit(page, '#/money');
    const money = (await gw.request('GET', '/admin/console/money', { admin: true })).body;
    await expect(page.textContent('[data-testid=revenue]')).resolves.toBe(fmt(money.total.revenue));
    await expect(page.textContent('[data-testid=upstream-cost]')).resolves.toBe(fmt(money.total.upstream_cost));
    await expect(page.textContent('[data-testid=margin]')).resolves.toBe(fmt(money.total.margin));
    const today = new Date().toISOString().slice(0, 10);
    expect(money.data.find((r: { model: string; day: string }) => r.model === models.video && r.day === today)).toMatchObject({ upstream_cost: 4 + 6 });
    const days = new Set(money.data.map((r: { day: string }) => r.day));
    expect(days.size).toBe(7);
    expect(await page.locator('[data-testid=money-by-day] tbody tr').count()).toBe(7);
    const historic = money.data.filter((r: { day: string; model: string }) => r.day !== today && r.model === models.image);
    expect(historic).toHaveLength(6);
    for (const row of historic) expect(row.upstream_cost).toBe((row.revenue / 10) * 6);
    await check(page, 'operator-money');
    await context.close();
  });
});
