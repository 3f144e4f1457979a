import { createActivities } from '../../activities';
import { sameShapeInput, stubActivities, stubsForEveryActivity, unusedDeps } from '../../bench/lib/same-shape';

describe('same-shape baseline stubs', () => {
  const real = createActivities(unusedDeps());

  it('has a canned answer for every activity the workflow can call', () => {
    // A new activity without one would run on a generic `{}` stub and could change the path the
    // baseline takes: give it a canned answer in bench/lib/same-shape.ts.
    expect(Object.keys(real).filter((name) => !(name in stubActivities()))).toEqual([]);
    expect(Object.keys(stubsForEveryActivity(real)).sort()).toEqual(Object.keys(real).sort());
  });

  it('takes the instant path: admitted, one channel, finished at submit with one output, settled', async () => {
    const stubs = stubsForEveryActivity(real);
    const input = sameShapeInput({ callbackUrl: 'https://example.invalid/cb' });
    expect(input.callbackUrl).toBe('https://example.invalid/cb');
    expect(await stubs.reserveCredits!(input)).toEqual({ admitted: true, taskId: input.taskId });
    expect(await stubs.pickChannel!({})).toMatchObject({ channelId: expect.any(String) });
    const submitted = (await stubs.submitToProvider!({ taskId: input.taskId })) as { finished: { status: string; outputs: unknown[] } };
    expect(submitted.finished.status).toBe('succeeded');
    expect(submitted.finished.outputs).toHaveLength(1);
    expect(await stubs.persistAssets!({})).toEqual({ assetIds: [expect.any(String)] });
    expect(await stubs.settleCredits!({})).toEqual({ charged: expect.any(Number) });
  });

  it('fails loudly if a stub ever reaches a real dependency', () => {
    const deps = unusedDeps();
    expect(() => (deps.orm as unknown as { em: { fork(): unknown } }).em.fork()).toThrow('same-shape stub reached a real dependency');
    expect(sameShapeInput().taskId).not.toBe(sameShapeInput().taskId);
  });
});
