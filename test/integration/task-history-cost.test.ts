import { temporal } from '@temporalio/proto';
import { Webhook } from 'standardwebhooks';
import { createCustomer, createMockModel, startTestGateway, waitForTask, type TestGateway } from '../support/harness';
import { eventually } from '../support/checks';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver';

const { EventType } = temporal.api.enums.v1;
type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * What one instant task costs the orchestrator (issue 13): a mock job that finishes at submit, with a
 * consumer callback. Main at 2fd22b0 recorded 35 history events in 4 workflow tasks for it
 * (test/fixtures/main-2fd22b0-mock-instant-callback.history.json); the lean workflow, with the asset copy
 * and the callback tried as local activities and no deadline timer, does it in far fewer. And a callback
 * whose first (local) try is refused still reaches the receiver through the queued retry, same webhook-id.
 */
describe('the history of an instant task', () => {
  let gw: TestGateway;
  let receiver: WebhookReceiver;
  let model: string;
  /** Paths whose first delivery the receiver refuses with 500. */
  const refuseFirst = new Set<string>();

  beforeAll(async () => {
    gw = await startTestGateway();
    receiver = await startWebhookReceiver((hook) => {
      if (refuseFirst.delete(hook.path)) return 500;
      return 200;
    });
    ({ model } = await createMockModel(gw, { category: 'video', pricing: { per_second: 3 }, settings: { durationMs: 0 } }));
  });
  afterAll(async () => {
    await receiver?.stop();
    await gw?.stop();
  });

  async function runInstantTask(path: string): Promise<{ taskId: string; events: HistoryEvent[]; secret: string }> {
    const customer = await createCustomer(gw, { credits: 100 });
    const created = await gw.request('POST', '/v1/videos', { key: customer.key, body: { model, prompt: 'a fox', duration: 5, callback_url: receiver.url(path) } });
    expect(created.status).toBe(200);
    const task = await waitForTask(gw, customer.key, created.body.id);
    expect(task.status).toBe('succeeded');
    const handle = gw.gateway.temporal.workflow.getHandle(created.body.id);
    await handle.result();
    const { events } = await handle.fetchHistory();
    return { taskId: created.body.id, events: events ?? [], secret: customer.webhookSecret };
  }

  const ofType = (events: HistoryEvent[], type: temporal.api.enums.v1.EventType) => events.filter((e) => e.eventType === type);

  /** The activity type of each local-activity marker, with whether that try failed. */
  function localActivities(events: HistoryEvent[]): { type: string; failed: boolean }[] {
    return events
      .filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity')
      .map((e) => {
        const data = e.markerRecordedEventAttributes!.details!.data!.payloads![0]!.data!;
        return { type: JSON.parse(Buffer.from(data).toString('utf8')).activity_type as string, failed: !!e.markerRecordedEventAttributes!.failure };
      });
  }

  const scheduled = (events: HistoryEvent[]) => ofType(events, EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED).map((e) => e.activityTaskScheduledEventAttributes!.activityType!.name);

  it('takes at most 24 history events and 3 workflow tasks, with no timer and one patch marker', async () => {
    const path = `/instant-${Date.now()}`;
    const { events } = await runInstantTask(path);
    await receiver.waitFor(1, (h) => h.path === path, 20_000);

    expect(events.length).toBeLessThanOrEqual(24);
    expect(ofType(events, EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).length).toBeLessThanOrEqual(3);
    expect(ofType(events, EventType.EVENT_TYPE_TIMER_STARTED)).toHaveLength(0);
    // One patch (admitted-lean) stands for every older one: one marker, one TemporalChangeVersion upsert.
    expect(events.filter((e) => e.markerRecordedEventAttributes?.markerName === 'core_patch')).toHaveLength(1);
    // Only the provider submission goes through the task queue; the other steps are still there, one each.
    expect(scheduled(events)).toEqual(['submitToProvider']);
    expect(localActivities(events)).toEqual(
      ['pickChannel', 'persistAssets', 'settleCredits', 'sendCallback'].map((type) => ({ type, failed: false })),
    );
    // Status and channel reach the search attributes together, once, at the end.
    const upserts = ofType(events, EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES)
      .map((e) => Object.keys(e.upsertWorkflowSearchAttributesEventAttributes!.searchAttributes!.indexedFields!).sort());
    expect(upserts).toEqual([['TemporalChangeVersion'], ['Channel', 'TaskStatus']]);
  });

  it('delivers a callback whose local first try was refused through the queued retry, with the same webhook-id', async () => {
    const path = `/refused-first-${Date.now()}`;
    refuseFirst.add(path);
    const { taskId, events, secret } = await runInstantTask(path);

    const hooks = await receiver.waitFor(2, (h) => h.path === path, 30_000);
    expect(hooks.map((h) => h.answeredWith)).toEqual([500, 200]);
    expect(hooks[1]!.headers['webhook-id']).toBe(hooks[0]!.headers['webhook-id']);
    const payloads = hooks.map((h) => new Webhook(secret).verify(h.body, h.headers) as { type: string; data: { id: string } });
    expect(payloads.map((p) => [p.type, p.data.id])).toEqual([['task.succeeded', taskId], ['task.succeeded', taskId]]);

    // The refused try was the local one; the queued sendCallback (its long retry policy) delivered.
    expect(localActivities(events).filter((a) => a.type === 'sendCallback')).toEqual([{ type: 'sendCallback', failed: true }]);
    expect(scheduled(events)).toEqual(['submitToProvider', 'sendCallback']);
    expect(ofType(events, EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED)).toHaveLength(2);
    await eventually('the delivery is recorded as delivered after two attempts', async () => {
      const rows = await gw.gateway.orm.em.fork().getConnection().execute<{ delivered_at: Date | null; attempts: number }[]>(
        'select delivered_at, attempts from webhook_deliveries where task_id = ?', [taskId]);
      return rows[0]?.delivered_at && rows[0].attempts === 2 ? rows[0] : undefined;
    });
  });
});
