import { flag, integer, optionalString, required, type CommandGroup } from './command';
import { record, table, time } from './output';

interface Task {
  id: string; model: string; object: string; status: string; progress: number | null; created_at: number; completed_at: number | null;
  credits: { reserved: number; charged: number; refunded: number };
  output: { url: string; content_type: string; bytes: number }[];
  error: { message: string; code: string } | null;
}

interface AdminTask extends Task { account_id: string; api_key_id: string; channel_id: string | null; provider_job_id: string | null; attempts: unknown[] }

export const tasks: CommandGroup = {
  list: {
    usage: '--key KEY [--limit N] [--status S]',
    summary: "List a consumer key's account's tasks, newest first (uses GET /v1/tasks)",
    options: { key: flag.string, limit: flag.string, status: flag.string },
    async run({ values, api, emit }) {
      const query = new URLSearchParams();
      const limit = integer(values, 'limit');
      if (limit !== undefined) query.set('limit', String(limit));
      const status = optionalString(values, 'status');
      if (status) query.set('status', status);
      const result = await api.call<{ data: Task[]; has_more: boolean }>('GET', `/v1/tasks${query.size ? `?${query}` : ''}`, { key: required(values, 'key') });
      emit(result, () => table(result.data, [
        ['ID', (t) => t.id], ['KIND', (t) => t.object.replace(/^gateway\.|\.task$/g, '')], ['MODEL', (t) => t.model], ['STATUS', (t) => t.status],
        ['PROGRESS', (t) => (t.progress === null ? null : `${t.progress}%`)], ['CHARGED', (t) => t.credits.charged], ['CREATED', (t) => time(t.created_at)],
      ]) + (result.has_more ? '\n(more: raise --limit)' : ''));
    },
  },
  show: {
    usage: 'ID',
    summary: "Show any account's task, with its channel attempts (admin)",
    args: ['ID'],
    async run({ args, api, emit }) {
      const task = await api.call<AdminTask>('GET', `/admin/tasks/${encodeURIComponent(args[0]!)}`);
      emit(task, () => [
        record({
          id: task.id, model: task.model, status: task.status, progress: task.progress, account: task.account_id, key: task.api_key_id,
          channel: task.channel_id, provider_job: task.provider_job_id, created: time(task.created_at), completed: time(task.completed_at),
          credits: `reserved ${task.credits.reserved}, charged ${task.credits.charged}, refunded ${task.credits.refunded}`,
          error: task.error ? `${task.error.message} (${task.error.code})` : null, attempts: task.attempts.length,
        }),
        ...task.output.map((o, i) => `output ${i}: ${o.url} (${o.content_type}, ${o.bytes} bytes)`),
      ].join('\n'));
    },
  },
  repair: {
    usage: '[--task ID] [--dry-run] [--min-age SECONDS]',
    summary: 'Refund and fail tasks whose workflow ended without finishing them (e.g. terminated in the Temporal UI); --dry-run lists them',
    options: { task: flag.string, 'dry-run': flag.boolean, 'min-age': flag.string },
    async run({ values, api, emit }) {
      const minAge = integer(values, 'min-age');
      const result = await api.call<{ data: { task_id: string; workflow_status: string; action: string; refunded: number }[]; dry_run: boolean }>('POST', '/admin/tasks/repair', {
        body: {
          ...(optionalString(values, 'task') ? { task_id: optionalString(values, 'task') } : {}),
          dry_run: values['dry-run'] === true,
          ...(minAge !== undefined ? { min_age_seconds: minAge } : {}),
        },
      });
      emit(result, () => (result.data.length === 0
        ? 'Nothing to repair: every unfinished task still has a running workflow.'
        : table(result.data, [['TASK', (r) => r.task_id], ['WORKFLOW', (r) => r.workflow_status], ['ACTION', (r) => r.action], ['CREDITS', (r) => r.refunded]])));
    },
  },
};
