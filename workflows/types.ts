/**
 * The data that crosses the workflow boundary. Everything here lands in Temporal history, so nothing
 * here may be a secret: channels are referred to by id and activities load credentials themselves.
 */

export type MediaKind = 'image' | 'video' | 'music';

export type TaskStatus = 'pending' | 'queued' | 'processing' | 'succeeded' | 'failed' | 'cancelled';

/** The consumer's media request, validated and normalized by the API. */
export interface MediaTaskRequest {
  prompt: string;
  references: {
    imageUrl?: string;
    imageUrls?: string[];
    lastFrameUrl?: string;
    videoUrl?: string;
    audioUrl?: string;
  };
  duration?: number;
  size?: string;
  resolution?: string;
  aspectRatio?: string;
  n?: number;
  seed?: number;
  /** Image quality (`low`, `medium`, `high`...), when the consumer or the model's price tier sets one. */
  quality?: string;
  options: Record<string, unknown>;
}

/** Input of mediaTaskWorkflow: one task, fully priced, ready to reserve. */
export interface MediaTaskInput {
  taskId: string;
  accountId: string;
  apiKeyId: string;
  /** The key's routing group. */
  group: string;
  kind: MediaKind;
  /** Public model id. */
  model: string;
  request: MediaTaskRequest;
  /** Credits to reserve (the full price of the request). */
  price: number;
  callbackUrl: string | null;
  idempotencyKey: string | null;
  /** SHA-256 of the request body, stored on the task row. */
  requestHash: string;
  /** Seconds before the task is cancelled upstream and refunded. */
  deadlineSeconds: number;
  /** Channels to try at most. */
  maxChannelAttempts: number;
  /** ISO time the API accepted the request. */
  acceptedAt: string;
  /**
   * The API created the task row and held the price before starting the workflow, so the workflow's first
   * step has nothing to reserve. Absent in runs started by an API from before that (they reserve). Present, a
   * run takes every current path under one patch marker (see `current` in the workflow).
   */
  admittedByApi?: boolean;
}

/** The answer of the admission update: did the reservation succeed? */
export type Admission =
  | { admitted: true; taskId: string }
  | { admitted: false; taskId: string; reason: 'insufficient_credits' | 'budget_exceeded' };

/** The error object of API.md. */
export interface TaskFailure {
  message: string;
  type: 'upstream_error' | 'gateway_error';
  code: string;
}

/** What the workflow returns (also visible in the Temporal UI). */
export interface MediaTaskResult {
  taskId: string;
  status: TaskStatus | 'rejected';
  channelId?: string;
  assetIds?: string[];
  error?: TaskFailure;
  charged?: number;
}

/** A channel chosen for one attempt. */
export interface ChannelPick {
  channelId: string;
  provider: string;
  upstreamModel: string;
  /** How often waitForProvider asks the provider, ms. */
  pollIntervalMs: number;
}

/** A job whose provider was asked to call back: the workflow waits for that, polling at `backstopMs`. */
export interface CallbackWait {
  backstopMs: number;
}

/** A provider job as the workflow tracks it (no secrets; small). */
export interface JobHandle {
  jobId: string;
  handles?: Record<string, string>;
}

/** A classified provider failure, as activities report it. */
export interface AttemptFailure {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
  providerCode?: string;
}

/** A provider job's final state, with outputs not yet copied. */
export interface FinishedJob {
  status: 'succeeded' | 'failed' | 'cancelled';
  job: JobHandle;
  outputs: { url?: string; stagedAssetKey?: string; contentType?: string }[];
  usage?: { seconds?: number; images?: number; tokens?: number };
  error?: AttemptFailure;
}
