import { ConfigError, loadConfig } from '../../src/config';
import { createSecretBox } from '../../src/security/secrets';

const GOOD_PRODUCTION = {
  NODE_ENV: 'production',
  GATEWAY_SECRET: 's'.repeat(32),
  ADMIN_TOKEN: 'a'.repeat(32),
  DATABASE_URL: 'postgres://db/gateway',
  TEMPORAL_ADDRESS: 'temporal:7233',
  METRICS_PORT: '9464',
};

function refusal(env: Record<string, string | undefined>): string {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).not.toContain('\n');
    return message;
  }
  throw new Error('the configuration was accepted');
}

describe('production configuration', () => {
  it('accepts an explicit production setup: no demo, no embedded services', () => {
    const config = loadConfig(GOOD_PRODUCTION);
    expect(config).toMatchObject({ env: 'production', seedDemo: false, embeddedServices: false, metrics: { port: 9464 } });
  });

  it.each([
    ['GATEWAY_SECRET', { GATEWAY_SECRET: undefined }],
    ['ADMIN_TOKEN', { ADMIN_TOKEN: 'short-but-8+' }],
    ['DATABASE_URL', { DATABASE_URL: undefined }],
    ['TEMPORAL_ADDRESS', { TEMPORAL_ADDRESS: undefined }],
    ['SEED_DEMO', { SEED_DEMO: 'true' }],
    ['METRICS_PORT', { METRICS_PORT: undefined }],
  ])('refuses a production setup without a safe %s, in one line naming it', (name, change) => {
    expect(refusal({ ...GOOD_PRODUCTION, ...change })).toMatch(new RegExp(`^Invalid configuration: .*${name}`));
  });

  it('names every problem on the one line', () => {
    const message = refusal({ NODE_ENV: 'production' });
    for (const name of ['GATEWAY_SECRET', 'DATABASE_URL', 'TEMPORAL_ADDRESS', 'METRICS_PORT']) expect(message).toContain(name);
  });

  it('allows embedded services in production only when asked, and /metrics behind a token instead of a port', () => {
    const config = loadConfig({ ...GOOD_PRODUCTION, DATABASE_URL: undefined, TEMPORAL_ADDRESS: undefined, EMBEDDED_SERVICES: '1', METRICS_PORT: undefined, METRICS_TOKEN: 't'.repeat(16) });
    expect(config).toMatchObject({ embeddedServices: true, metrics: { port: undefined, token: 't'.repeat(16) } });
  });

  it('keeps the zero-config defaults outside production', () => {
    expect(loadConfig({})).toMatchObject({ env: 'development', seedDemo: true, embeddedServices: true, cacheTtlMs: 2000, tasks: { idempotencyKeyTtlMs: 24 * 3600 * 1000 } });
    expect(refusal({ EMBEDDED_SERVICES: '0' })).toContain('DATABASE_URL');
  });
});

describe('GATEWAY_SECRET key ring', () => {
  const oldSecret = 'o'.repeat(32);
  const newSecret = 'n'.repeat(32);

  it('opens and verifies with a previous secret, seals and signs with the current one', () => {
    const before = createSecretBox(oldSecret);
    const sealed = before.seal('sk-provider');
    const signature = before.sign('asset:1');

    const ring = createSecretBox([newSecret, oldSecret]);
    expect(ring.open(sealed)).toBe('sk-provider');
    expect(ring.verify('asset:1', signature)).toBe(true);
    expect(ring.sealedWithCurrent(sealed)).toBe(false);
    const resealed = ring.seal(ring.open(sealed));
    expect(ring.sealedWithCurrent(resealed)).toBe(true);
    expect(ring.sign('asset:1')).toBe(createSecretBox(newSecret).sign('asset:1'));

    // Once the old secret is dropped, what it sealed or signed no longer opens or verifies.
    const after = createSecretBox(newSecret);
    expect(() => after.open(sealed)).toThrow('Unreadable sealed secret');
    expect(after.open(resealed)).toBe('sk-provider');
    expect(after.verify('asset:1', signature)).toBe(false);
  });
});
