/**
 * Reads workflow histories: how many events a task's workflow has, and where its time went (each
 * workflow task and activity: queued = scheduled -> started, ran = started -> completed).
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { round } from './stats';

const EventType = temporal.api.enums.v1.EventType;

export interface StepTiming {
  step: string;
  queuedMs: number;
  ranMs: number;
}

function ms(ts: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!ts) return 0;
  return Number(ts.seconds ?? 0) * 1000 + (ts.nanos ?? 0) / 1e6;
}

/** History length of each workflow (from describe: no history transfer). */
export async function historyLengths(client: Client, ids: string[]): Promise<number[]> {
  const out: number[] = [];
  for (const id of ids) out.push((await client.workflow.getHandle(id).describe()).historyLength);
  return out;
}

/** Event counts by type and the step timeline of one workflow, from its full history. */
export async function historyBreakdown(client: Client, id: string): Promise<{ events: number; byType: Record<string, number>; steps: StepTiming[]; totalMs: number }> {
  const history = await client.workflow.getHandle(id).fetchHistory();
  const events = history.events ?? [];
  const byType: Record<string, number> = {};
  const scheduled = new Map<string, { step: string; at: number }>();
  const started = new Map<string, number>();
  const steps: StepTiming[] = [];
  const completed = (scheduledId: string, at: number) => {
    const s = scheduled.get(scheduledId);
    const st = started.get(scheduledId);
    if (s && st !== undefined) steps.push({ step: s.step, queuedMs: round(st - s.at), ranMs: round(at - st) });
  };
  const t0 = ms(events[0]?.eventTime);
  let last = t0;
  for (const event of events) {
    const type = EventType[event.eventType ?? 0] ?? String(event.eventType);
    const name = type.replace(/^EVENT_TYPE_/, '');
    byType[name] = (byType[name] ?? 0) + 1;
    const at = ms(event.eventTime);
    last = Math.max(last, at);
    const id = String(event.eventId);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        scheduled.set(id, { step: 'workflow task', at });
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        started.set(String(event.workflowTaskStartedEventAttributes?.scheduledEventId), at);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        completed(String(event.workflowTaskCompletedEventAttributes?.scheduledEventId), at);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        scheduled.set(id, { step: event.activityTaskScheduledEventAttributes?.activityType?.name ?? 'activity', at });
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        started.set(String(event.activityTaskStartedEventAttributes?.scheduledEventId), at);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        completed(String(event.activityTaskCompletedEventAttributes?.scheduledEventId), at);
        break;
      default:
        break;
    }
  }
  return { events: events.length, byType, steps, totalMs: round(last - t0) };
}
