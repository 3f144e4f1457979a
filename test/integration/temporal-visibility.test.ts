import { randomBytes } from 'node:crypto';
import type { WorkflowExecutionInfo } from '@temporalio/client';
import { SearchAttributes } from '../../src/temporal/search-attributes';
import { createCustomer, startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';
import { eventually, sql } from '../support/checks';

/**
 * Operators find every task in Temporal by its search attributes, and nothing secret (a channel's
 * credential, a consumer key, a webhook secret) ever lands in workflow history or in plain text at rest.
 */
describe('temporal visibility and secrets', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  /**
   * JSON of a history with every payload readable: byte arrays and base64 strings (how fetchHistory
   * returns payload data and metadata) are followed by their UTF-8 decoding.
   */
  function readableJson(value: unknown): string {
    const base64 = /^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
    return JSON.stringify(value, (_key, v: unknown) => {
      if (v instanceof Uint8Array) return Buffer.from(v).toString('utf8');
      if (typeof v === 'string' && v.length >= 8 && base64.test(v)) return `${v} <decoded: ${Buffer.from(v, 'base64').toString('utf8')}>`;
      return v;
    });
  }

  it('finds a succeeded task by its search attributes and keeps every secret out of its history', async () => {
    const channelSecret = `sk-secret-${randomBytes(12).toString('hex')}`;
    const model = uniqueId('m-video');
    await gw.admin('POST', '/admin/models', { id: model, category: 'video', pricing: { per_second: 2 }, default_duration: 5 });

    // The admin API never shows the credential back.
    const channelAnswer = await gw.request('POST', '/admin/channels', {
      admin: true,
      body: { name: `secret channel for ${model}`, provider: 'mock', api_key: channelSecret, models: [model], settings: { durationMs: 300 } },
    });
    expect(channelAnswer.status).toBe(201);
    const channelId: string = channelAnswer.body.id;
    expect(JSON.stringify(channelAnswer.body)).not.toContain(channelSecret);
    expect(JSON.stringify(await gw.admin('GET', `/admin/channels/${channelId}`))).not.toContain(channelSecret);
    expect(JSON.stringify(await gw.admin('GET', '/admin/channels'))).not.toContain(channelSecret);
    const patched = await gw.request('PATCH', `/admin/channels/${channelId}`, { admin: true, body: { weight: 2 } });
    expect(patched.status).toBe(200);
    expect(JSON.stringify(patched.body)).not.toContain(channelSecret);

    // Nor is it stored in plain text, though the gateway can still read it.
    const stored = await sql<Record<string, unknown>>(gw, 'select * from channels where id = ?', [channelId]);
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(channelSecret);
    expect(JSON.stringify(stored)).not.toContain(channelSecret.slice('sk-secret-'.length));
    expect(gw.gateway.box.open(String(stored[0]!.api_key_enc))).toBe(channelSecret);

    const customer = await createCustomer(gw, { credits: 100 });
    const prompt = `a marker prompt ${randomBytes(6).toString('hex')}`;
    const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt, duration: 3 } });
    expect(created.status).toBe(200);
    const taskId: string = created.body.id;
    const task = await waitForTask(gw, customer.key, taskId);
    expect(task.status).toBe('succeeded');

    // Visibility is eventually consistent: poll until the listing shows the final status.
    const found = await eventually<WorkflowExecutionInfo>('the task appears in a visibility query', async () => {
      for await (const info of gw.gateway.temporal.workflow.list({ query: `Model="${model}" AND TaskStatus="succeeded"` })) {
        if (info.workflowId === taskId) return info;
      }
      return undefined;
    }, 15_000, 500);
    expect(found.type).toBe('mediaTaskWorkflow');
    expect(found.taskQueue).toBe(gw.taskQueue);
    const attributes = found.typedSearchAttributes;
    expect(attributes.get(SearchAttributes.Model)).toBe(model);
    expect(attributes.get(SearchAttributes.Channel)).toEqual([channelId]);
    expect(attributes.get(SearchAttributes.ApiKeyId)).toBe(customer.keyId);
    expect(attributes.get(SearchAttributes.AccountId)).toBe(customer.accountId);
    expect(attributes.get(SearchAttributes.TaskKind)).toBe('video');
    expect(attributes.get(SearchAttributes.TaskStatus)).toBe('succeeded');

    // Every attribute narrows to this task on its own too.
    const byAccount = [];
    for await (const info of gw.gateway.temporal.workflow.list({ query: `AccountId="${customer.accountId}"` })) byAccount.push(info.workflowId);
    expect(byAccount).toEqual([taskId]);

    // The workflow is closed, and a query for another status does not find it.
    const handle = gw.gateway.temporal.workflow.getHandle(taskId);
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    const wrongStatus = [];
    for await (const info of gw.gateway.temporal.workflow.list({ query: `Model="${model}" AND TaskStatus="failed"` })) wrongStatus.push(info.workflowId);
    expect(wrongStatus).toEqual([]);

    const history = readableJson(await handle.fetchHistory());
    // The decoding works: the workflow input (task id, prompt) is readable in it...
    expect(history).toContain(taskId);
    expect(history).toContain(prompt);
    expect(history).toContain(channelId);
    // ...and no secret is there, in clear or in base64.
    for (const secret of [channelSecret, customer.key, customer.webhookSecret]) {
      expect(history).not.toContain(secret);
      expect(history).not.toContain(Buffer.from(secret).toString('base64'));
    }

    // The consumer-facing and admin task objects do not carry the credential either.
    expect(JSON.stringify(task)).not.toContain(channelSecret);
    expect(JSON.stringify(await gw.admin('GET', `/admin/tasks/${taskId}`))).not.toContain(channelSecret);
    const taskRows = await sql<Record<string, unknown>>(gw, 'select * from tasks where id = ?', [taskId]);
    expect(JSON.stringify(taskRows)).not.toContain(channelSecret);
    expect(JSON.stringify(taskRows)).not.toContain(customer.key);
  });

  it('shows a failed task as failed in visibility', async () => {
    const model = uniqueId('m-image');
    await gw.admin('POST', '/admin/models', { id: model, category: 'image', pricing: { per_image: 1 } });
    const channel = await gw.admin('POST', '/admin/channels', { name: `mock for ${model}`, provider: 'mock', models: [model], settings: { durationMs: 200 } });
    const customer = await createCustomer(gw, { credits: 10 });
    const created = await gw.request('POST', '/v1/images/generations', { key: customer.key, body: { model, prompt: 'nope [mock:fail]' } });
    const task = await waitForTask(gw, customer.key, created.body.id);
    expect(task.status).toBe('failed');
    const found = await eventually<WorkflowExecutionInfo>('the failed task appears in a visibility query', async () => {
      for await (const info of gw.gateway.temporal.workflow.list({ query: `Model="${model}" AND TaskStatus="failed"` })) {
        if (info.workflowId === task.id) return info;
      }
      return undefined;
    }, 15_000, 500);
    expect(found.typedSearchAttributes.get(SearchAttributes.TaskKind)).toBe('image');
    expect(found.typedSearchAttributes.get(SearchAttributes.Channel)).toEqual([channel.id]);
  });
});
