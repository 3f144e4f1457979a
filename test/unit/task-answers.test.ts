import type { EntityManager } from '@mikro-orm/postgresql';
import type { ConsumerAuth } from '../../src/http/auth';
import { errors } from '../../src/http/errors';
import { createTaskAnswers } from '../../src/modules/tasks/task-answers';
import type { TaskObject } from '../../src/modules/tasks/tasks.presenter';

/** A tasks service over an in-memory table: account -> task -> object, counting its reads. */
function fakeTasks(rows: Map<string, { accountId: string; task: TaskObject }>) {
  let reads = 0;
  return {
    reads: () => reads,
    service: {
      async get(_em: EntityManager, auth: ConsumerAuth, taskId: string): Promise<TaskObject> {
        reads++;
        const row = rows.get(taskId);
        if (!row || row.accountId !== auth.accountId) throw errors.notFound('task_not_found', `No task ${taskId}`);
        return structuredClone(row.task);
      },
    },
  };
}

const task = (id: string, status: string): TaskObject => ({
  id, task_id: id, object: 'gateway.image.task', model: 'm', status, progress: null, created_at: 1, updated_at: 1, completed_at: null,
  output: [{ id: 'asset_1', url: 'http://x/assets/asset_1?sig=abc', content_type: 'image/png', bytes: 3 }], error: null,
  credits: { reserved: 5, charged: 5, refunded: 0 },
});
const auth = (accountId: string) => ({ accountId }) as ConsumerAuth;
const em = () => ({}) as EntityManager;

describe('task answers', () => {
  it('reads a final task once and serves its bytes and tag from memory after that, to its own account only', async () => {
    const rows = new Map([['task_a', { accountId: 'acct_alice', task: task('task_a', 'succeeded') }]]);
    const tasks = fakeTasks(rows);
    const answers = createTaskAnswers({ tasks: tasks.service });
    const first = await answers.get(em, auth('acct_alice'), 'task_a');
    expect(JSON.parse(first.body.toString())).toMatchObject({ id: 'task_a', status: 'succeeded' });
    expect(first.final).toBe(true);
    const second = await answers.get(em, auth('acct_alice'), 'task_a');
    expect(second.etag).toBe(first.etag);
    expect(tasks.reads()).toBe(1);
    // Another account never gets the cached answer: it goes to the database, which says 404.
    await expect(answers.get(em, auth('acct_bob'), 'task_a')).rejects.toMatchObject({ status: 404, code: 'task_not_found' });
    expect(tasks.reads()).toBe(2);
    expect(answers.size).toBe(1);
  });

  it('reads a running task every time, and its tag follows its body', async () => {
    const rows = new Map([['task_r', { accountId: 'acct_alice', task: task('task_r', 'processing') }]]);
    const tasks = fakeTasks(rows);
    const answers = createTaskAnswers({ tasks: tasks.service });
    const first = await answers.get(em, auth('acct_alice'), 'task_r');
    expect((await answers.get(em, auth('acct_alice'), 'task_r')).etag).toBe(first.etag);
    rows.get('task_r')!.task.progress = 40;
    const moved = await answers.get(em, auth('acct_alice'), 'task_r');
    expect(moved.etag).not.toBe(first.etag);
    expect(tasks.reads()).toBe(3);
    expect(answers.size).toBe(0);
  });

  it('forgets a cached answer after its TTL and past its capacity', async () => {
    let now = 0;
    const rows = new Map(['task_1', 'task_2'].map((id) => [id, { accountId: 'acct_alice', task: task(id, 'failed') }]));
    const tasks = fakeTasks(rows);
    const answers = createTaskAnswers({ tasks: tasks.service, capacity: 1, ttlMs: 1000, now: () => now });
    await answers.get(em, auth('acct_alice'), 'task_1');
    now = 999;
    await answers.get(em, auth('acct_alice'), 'task_1');
    expect(tasks.reads()).toBe(1);
    now = 1000;
    await answers.get(em, auth('acct_alice'), 'task_1');
    expect(tasks.reads()).toBe(2);
    await answers.get(em, auth('acct_alice'), 'task_2');
    await answers.get(em, auth('acct_alice'), 'task_1');
    expect(tasks.reads()).toBe(4);
    expect(answers.size).toBe(1);
  });
});
