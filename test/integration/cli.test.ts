import { execFile } from 'node:child_process';
import path from 'node:path';
import { startTestGateway, uniqueId, waitForTask, type TestGateway } from '../support/harness';

const root = path.resolve(__dirname, '../..');
const tsx = path.join(root, 'node_modules/.bin/tsx');

interface Run { code: number; stdout: string; stderr: string }

/** `npm run admin -- ...args` as a child process, pointed at the test gateway through the environment. */
function cli(gw: TestGateway, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(tsx, ['scripts/cli.ts', ...args], {
      cwd: root,
      env: { ...process.env, GATEWAY_URL: gw.url, ADMIN_TOKEN: gw.adminToken, ...env },
      timeout: 30_000,
    }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr }));
  });
}

/** The value of a `name  value` line of the CLI's record output. */
function field(output: string, name: string): string {
  const match = new RegExp(`^${name}\\s{2,}(\\S+)`, 'm').exec(output);
  if (!match) throw new Error(`No "${name}" line in:\n${output}`);
  return match[1]!;
}

describe('admin CLI', () => {
  let gw: TestGateway;
  let accountId: string;
  let key: string;

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('creates an account and tops it up', async () => {
    const created = await cli(gw, ['accounts', 'create', '--name', uniqueId('cli'), '--credits', '100']);
    expect(created).toMatchObject({ code: 0, stderr: '' });
    accountId = field(created.stdout, 'id');
    expect(field(created.stdout, 'balance')).toBe('100');

    const topup = await cli(gw, ['accounts', 'topup', accountId, '--amount', '50', '--reason', 'cli test']);
    expect(topup.code).toBe(0);
    expect(field(topup.stdout, 'balance')).toBe('150');
    expect(await gw.admin('GET', `/admin/accounts/${accountId}`)).toMatchObject({ balance: 150 });

    const shown = await cli(gw, ['accounts', 'show', accountId]);
    expect(field(shown.stdout, 'balance')).toBe('150');
  });

  it('creates a key that works, shows its secrets once, and lists it by prefix', async () => {
    const created = await cli(gw, ['keys', 'create', '--account', accountId, '--name', 'from-cli', '--rpm', '600']);
    expect(created.code).toBe(0);
    key = field(created.stdout, 'key');
    expect(key).toMatch(/^sk-gw-/);
    expect(field(created.stdout, 'webhook secret')).toMatch(/^whsec_/);
    expect(created.stderr).toMatch(/will not be shown again/);

    const models = await gw.request('GET', '/v1/models', { key });
    expect(models.status).toBe(200);

    const listed = await cli(gw, ['keys', 'list', '--account', accountId]);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toMatch(/^ID\s+ACCOUNT\s+NAME\s+PREFIX/);
    expect(listed.stdout).toContain(key.slice(0, 12));
    expect(listed.stdout).toContain('from-cli');
    expect(listed.stdout).not.toContain(key);
  });

  it('publishes a model on a mock channel, and lists tasks with the consumer key', async () => {
    const model = uniqueId('m-image');
    const added = await cli(gw, ['models', 'add', '--id', model, '--category', 'image', '--pricing', 'per_image=10']);
    expect(added.code).toBe(0);
    expect(field(added.stdout, 'pricing')).toBe('per_image=10');
    const channel = await cli(gw, ['channels', 'add', '--name', `mock ${model}`, '--provider', 'mock', '--models', `${model}=mock-upstream`, '--priority', '5']);
    expect(channel.code).toBe(0);
    expect(field(channel.stdout, 'models')).toBe(`${model}=mock-upstream`);
    const channels = await cli(gw, ['channels', 'list']);
    expect(channels.stdout).toMatch(new RegExp(`${field(channel.stdout, 'id')}.*mock.*closed`));

    const task = await gw.request('POST', '/v1/images/generations', { key, body: { model, prompt: 'a lighthouse' } });
    expect(task.status).toBe(200);
    await waitForTask(gw, key, task.body.id);
    const list = await cli(gw, ['tasks', 'list', '--key', key]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${task.body.id}\\s+image\\s+${model}\\s+succeeded\\s+100%\\s+10`));
    const shown = await cli(gw, ['tasks', 'show', task.body.id]);
    expect(field(shown.stdout, 'status')).toBe('succeeded');
    expect(shown.stdout).toMatch(/^output 0: http/m);
  });

  it('revokes a key', async () => {
    const created = await cli(gw, ['keys', 'create', '--account', accountId, '--json']);
    const { id, key: doomed } = JSON.parse(created.stdout) as { id: string; key: string };
    expect((await cli(gw, ['keys', 'revoke', id])).stdout).toContain(`Revoked ${id}`);
    expect((await cli(gw, ['keys', 'list', '--account', accountId])).stdout).toMatch(new RegExp(`${id}.*revoked`));
    // Refused at once: the revoke dropped the key from every API process's cache.
    expect((await gw.request('GET', '/v1/models', { key: doomed })).status).toBe(401);
  });

  it('re-seals the sealed secrets with the current GATEWAY_SECRET', async () => {
    const result = await cli(gw, ['secrets', 'reseal']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^TABLE\s+RESEALED\s+CURRENT\s+UNREADABLE\n/);
    expect(result.stdout).toMatch(/\napi_keys\s+0\s+\d+\s+\d+\n/);
  });

  it("prints the API's error and exits 1", async () => {
    const missing = await cli(gw, ['accounts', 'show', 'acc_missing']);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe('error: No account acc_missing (account_not_found, HTTP 404)\n');

    const invalid = await cli(gw, ['accounts', 'create', '--name', '']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/--name is required/);

    const rejected = await cli(gw, ['accounts', 'topup', accountId, '--amount', '5'], { ADMIN_TOKEN: 'not-the-admin-token' });
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toMatch(/invalid_admin_token, HTTP 401/);

    // --url and --token win over the environment.
    const overridden = await cli(gw, ['accounts', 'show', accountId, '--url', gw.url, '--token', gw.adminToken], { GATEWAY_URL: 'http://127.0.0.1:9', ADMIN_TOKEN: 'x' });
    expect(overridden.code).toBe(0);

    const help = await cli(gw, ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('keys create --account ID');
  });
});
