import { taskIdForIdempotencyKey } from '../../src/ids';
import { freePort } from '../../src/infra/ports';
import { createCustomer, createMockModel, startTestGateway, type TestGateway } from '../support/harness';
import { sql } from '../support/checks';
import { spawnApi, type ApiProcess } from './support/api-process';
import { atScale, between, chaosSeed, checkLedgerInvariants, mapLimit, reportFigures, seededRandom, sleep, type Query } from './support/chaos';
import { postOnce, postUntilAnswered, waitAllFinal, type Outcome } from './support/tasks';

/**
 * The API process is SIGKILLed between admission and response: a watcher reads the task table while a
 * burst of POSTs (each with its Idempotency-Key) is in flight, and kills the API the moment a task row
 * exists whose POST has not been answered yet. The workflows (and the worker, here in the test process)
 * carry on. A new API process is started and every client whose POST was cut retries it with its key:
 * each gets the task that was admitted before the crash (same id, charged once), or a new one if the crash
 * came before admission; no key ever has two tasks, none is lost, the ledger balances.
 */
const KILLS = atScale({ small: 1, full: 3 });
const PER_ROUND = atScale({ small: 20, full: 50 });
/** Rounds beyond KILLS allowed for bursts that were all answered before the watcher saw a gap. */
const SPARE_ROUNDS = 3;
const PRICE = 5;

describe('chaos: API crash between admission and response', () => {
  let gw: TestGateway;
  let api: ApiProcess | null = null;
  const seed = chaosSeed();
  /** Spreads each burst's POSTs over a few milliseconds, so the kill lands somewhere new each run. */
  const random = seededRandom(seed);

  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await api?.kill();
    await gw?.stop();
  });

  it(`admits each idempotency key exactly once through ${KILLS} API kills`, async () => {
    const started = Date.now();
    const query: Query = (text, params) => sql(gw, text, params);
    const { model } = await createMockModel(gw, { category: 'image', pricing: { per_image: PRICE }, settings: { durationMs: 1000 } });
    const customer = await createCustomer(gw, { credits: 1_000_000 });
    const port = await freePort();
    const body = (key: string) => ({ model, prompt: `api crash ${key}` });
    const keys: string[] = [];
    const firstAnswers = new Map<string, Outcome>();
    const kills: { round: number; atMs: number; admittedUnansweredAtKill: number; answeredBeforeKill: number; unstartedAtKill: number }[] = [];

    let round = 0;
    while (kills.length < KILLS && round < KILLS + SPARE_ROUNDS) {
      round += 1;
      const apiNow = await spawnApi(gw, port);
      api = apiNow;
      const roundKeys = Array.from({ length: PER_ROUND }, (_, i) => `r${round}-${i}`);
      keys.push(...roundKeys);
      const idOf = new Map(roundKeys.map((key) => [taskIdForIdempotencyKey(customer.accountId, key), key]));
      const answeredIds = new Set<string>();
      let bursting = true;
      let killed = false;

      // The watcher: a task row of this round whose POST is unanswered means the crash lands between
      // admission and response.
      const watcher = (async () => {
        while (bursting && !killed) {
          const rows = await query<{ id: string }>('select id from tasks where account_id = ?', [customer.accountId]);
          const pending = rows.filter((row) => idOf.has(row.id) && !answeredIds.has(row.id));
          if (pending.length > 0) {
            killed = true;
            const answeredBeforeKill = answeredIds.size;
            await apiNow.kill();
            // Reserved but with no workflow started yet: the retry or the sweeper must start them.
            const unstarted = await query<{ id: string }>('select id from tasks where account_id = ? and pending_start is not null', [customer.accountId]);
            kills.push({ round, atMs: Date.now() - started, admittedUnansweredAtKill: pending.length, answeredBeforeKill, unstartedAtKill: unstarted.length });
            return;
          }
          await sleep(2);
        }
      })();
      await mapLimit(roundKeys, 25, async (key) => {
        await sleep(between(random, 0, 30));
        const answer = await postOnce(`${apiNow.url}/v1/images/generations`, customer.key, body(key), key);
        firstAnswers.set(key, answer);
        if ('status' in answer && answer.status === 200) answeredIds.add(answer.body.id as string);
      });
      bursting = false;
      await watcher;
      if (!killed) await apiNow.kill();
      api = null;
    }
    expect(kills).toHaveLength(KILLS);

    // Give workflows whose start reached Temporal before the kill time to reserve, then look at what
    // exists before anyone retries.
    api = await spawnApi(gw, port);
    await sleep(2000);
    const before = new Set((await query<{ id: string }>('select id from tasks where account_id = ?', [customer.accountId])).map((row) => row.id));
    const cut = keys.filter((key) => {
      const answer = firstAnswers.get(key);
      return !answer || 'error' in answer || answer.status !== 200;
    });
    const cutAfterAdmission = cut.filter((key) => before.has(taskIdForIdempotencyKey(customer.accountId, key)));
    for (const key of keys) {
      const answer = firstAnswers.get(key)!;
      // A first answer is 200 or a cut connection: never a 5xx page or another status.
      if ('status' in answer) expect({ key, status: answer.status }).toEqual({ key, status: 200 });
    }

    const apiUrl = api.url;
    const retried = await mapLimit(cut, 25, (key) => postUntilAnswered(`${apiUrl}/v1/images/generations`, customer.key, body(key), key));
    const finalIds = new Map<string, string>();
    for (const key of keys) {
      const answer = cut.includes(key) ? retried[cut.indexOf(key)]!.answer : firstAnswers.get(key)!;
      expect({ key, status: 'status' in answer ? answer.status : answer }).toEqual({ key, status: 200 });
      const id = (answer as { body: { id: string } }).body.id;
      expect({ key, id }).toEqual({ key, id: taskIdForIdempotencyKey(customer.accountId, key) });
      finalIds.set(key, id);
    }
    // A replay of an answered key is the same task, not a second one.
    const replay = await postOnce(`${apiUrl}/v1/images/generations`, customer.key, body(keys[0]!), keys[0]);
    expect('status' in replay && replay.body.id).toBe(finalIds.get(keys[0]!));

    const statuses = await waitAllFinal(query, customer.accountId, keys.length, atScale({ small: 120_000, full: 300_000 }));
    expect(statuses).toEqual({ succeeded: keys.length });
    const rows = await query<{ id: string; credits_charged: string }>('select id, credits_charged from tasks where account_id = ?', [customer.accountId]);
    expect(rows.map((row) => row.id).sort()).toEqual([...finalIds.values()].sort());
    for (const row of rows) expect({ id: row.id, charged: Number(row.credits_charged) }).toEqual({ id: row.id, charged: PRICE });
    const invariants = await checkLedgerInvariants(query, [customer.accountId]);
    expect(await gw.admin('GET', `/admin/accounts/${customer.accountId}`)).toMatchObject({ balance: 1_000_000 - keys.length * PRICE, reserved: 0 });
    // The premise: at least one POST was cut after its task was admitted.
    expect(cutAfterAdmission.length).toBeGreaterThan(0);

    await reportFigures('api-crash', {
      seed,
      tasks: keys.length,
      rounds: round,
      faultsInjected: { apiKills: kills.length, kills },
      postsCut: cut.length,
      cutAfterAdmission: cutAfterAdmission.length,
      cutBeforeAdmission: cut.length - cutAfterAdmission.length,
      retriesUntilAnswered: retried.reduce((n, r) => n + r.tries, 0),
      outcomes: statuses,
      invariantChecks: invariants.checks + keys.length,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  }, atScale({ small: 240_000, full: 480_000 }));
});
