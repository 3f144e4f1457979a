import type { SecretBox } from '../../security/secrets';
import { assetUrl } from '../../storage/asset-links';
import type { TaskError } from '../../db/entities';

/** The columns of a task row the wire shape needs. */
export interface TaskRow {
  id: string;
  kind: string;
  model: string;
  status: string;
  progress: number | null | undefined;
  error: TaskError | null | undefined;
  creditsReserved: number;
  creditsCharged: number;
  creditsRefunded: number;
  createdAt: Date;
  updatedAt: Date;
  completedAt: Date | null | undefined;
}

export interface AssetRow {
  id: string;
  contentType: string;
  bytes: number;
  position: number;
}

/** The task object of API.md: GET /v1/tasks/{id}, the task list and the webhook payload's data. */
export interface TaskObject {
  id: string;
  task_id: string;
  object: string;
  model: string;
  status: string;
  progress: number | null;
  created_at: number;
  updated_at: number;
  completed_at: number | null;
  output: { id: string; url: string; content_type: string; bytes: number }[];
  error: TaskError | null;
  credits: { reserved: number; charged: number; refunded: number };
}

const unix = (date: Date) => Math.floor(date.getTime() / 1000);

export function presentTask(task: TaskRow, assets: AssetRow[], links: { publicUrl: string; box: SecretBox }): TaskObject {
  return {
    id: task.id,
    task_id: task.id,
    object: `gateway.${task.kind}.task`,
    model: task.model,
    status: task.status,
    progress: task.status === 'succeeded' ? 100 : task.progress ?? null,
    created_at: unix(task.createdAt),
    updated_at: unix(task.updatedAt),
    completed_at: task.completedAt ? unix(task.completedAt) : null,
    output: [...assets]
      .sort((a, b) => a.position - b.position)
      .map((asset) => ({
        id: asset.id,
        url: assetUrl(links.publicUrl, links.box, asset.id),
        content_type: asset.contentType,
        bytes: asset.bytes,
      })),
    error: task.error ?? null,
    credits: { reserved: task.creditsReserved, charged: task.creditsCharged, refunded: task.creditsRefunded },
  };
}
