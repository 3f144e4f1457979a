import type { Readable } from 'node:stream';

/** The media categories that run as asynchronous tasks (one definition, shared with the workflow). */
export type { MediaKind } from '../../workflows/types';
import type { MediaKind, MediaTaskRequest } from '../../workflows/types';

/** A provider job's status, normalized across every protocol. */
export type JobStatus = 'queued' | 'processing' | 'succeeded' | 'failed' | 'cancelled';

/** What a channel gives an adapter: where the provider is and how to authenticate. Never logged. */
export interface ChannelAccess {
  /** Channel id, for messages only. */
  channelId: string;
  /** The provider's API root as its own SDK spells it (see API.md "Exact readings"). */
  baseUrl: string;
  /** The provider credential. Adapters must never put it in an error message. */
  apiKey: string;
  /** Provider-specific channel settings, validated by the adapter's own zod schema. */
  settings: Record<string, unknown>;
}

/**
 * Our media request, already mapped to the channel's upstream model name: the consumer's request as the
 * workflow carries it (prompt, references already checked against SSRF rules, parameters, free-form
 * provider options), plus the category and the upstream model.
 */
export interface MediaRequest extends MediaTaskRequest {
  kind: MediaKind;
  /** Upstream model name (the channel may rename the public model). */
  model: string;
}

/** One generated file as the provider reports it. */
export interface ProviderOutput {
  /** Where to download it (may expire soon: copy promptly). Absent when `base64` is given. */
  url?: string;
  /** Inline bytes (openai gpt-image returns b64_json). The activity stores them before returning. */
  base64?: string;
  contentType?: string;
}

/** Usage for billing, as reported by the provider or derived from the request. */
export interface ProviderUsage {
  seconds?: number;
  images?: number;
  tokens?: number;
}

/** A normalized view of one provider job. */
export interface ProviderJob {
  /** The provider's own job id (e.g. `video_...`, `cgt-...`, a prediction id, a fal request id). */
  jobId: string;
  status: JobStatus;
  /** 0-100 when the provider reports progress, null otherwise. */
  progress: number | null;
  /** Present once `status` is `succeeded`. */
  outputs: ProviderOutput[];
  usage?: ProviderUsage;
  /** Present when `status` is `failed`: the provider's failure, classified. */
  error?: ProviderErrorInfo;
  /**
   * Provider-specific handles needed later (fal's status/response/cancel URLs, replicate's urls).
   * Must not contain secrets: it is stored in workflow history.
   */
  handles?: Record<string, string>;
}

/** Enough context for an adapter to act on an existing job. */
export interface JobRef {
  jobId: string;
  handles?: Record<string, string>;
  /** The request that created the job (some protocols need the model id to build URLs). */
  request: MediaRequest;
}

/**
 * `cancelled`: the provider stopped the job and bills nothing. `requested`: the provider only acknowledged
 * the cancel (fal's CANCELLATION_REQUESTED, a replicate prediction still processing): the job may still
 * finish and be billed, so it is followed to its final state. `not_cancellable` / `already_finished`: it
 * runs (or ran) to the end.
 */
export type CancelOutcome = 'cancelled' | 'requested' | 'not_cancellable' | 'already_finished';

/** The minimal contract every media provider implements; optional capabilities are separate members. */
export interface MediaProvider {
  /** The channel `provider` id: openai, ark, replicate, fal, mock. */
  readonly id: string;
  /** Which categories this provider serves. */
  readonly kinds: readonly MediaKind[];
  /**
   * Body fields, in this protocol's own spelling, that decide the price or the upstream model (model,
   * duration, output count, priced dimensions). The adapter writes them from the priced request after
   * any consumer option, and the API refuses a task whose `options` or unknown fields name one.
   */
  readonly pricedKeys: readonly string[];
  /**
   * How the adapter knows what was delivered (for settlement: a shorter video or fewer images cost less):
   * one line naming the provider field, shown in src/providers/README.md.
   */
  readonly deliveredFrom: string;
  /** Start a job. Throws ProviderError on failure; never retries on its own. */
  submit(channel: ChannelAccess, request: MediaRequest, ctx: SubmitContext): Promise<ProviderJob>;
  /** Read a job's current state. Throws ProviderError when the provider can't be asked. */
  status(channel: ChannelAccess, job: JobRef): Promise<ProviderJob>;
  /** Cancel a job where the protocol allows it. */
  cancel?(channel: ChannelAccess, job: JobRef): Promise<CancelOutcome>;
  /**
   * How to get an output when a plain GET of `output.url` is not enough: its bytes (built-in outputs), or
   * an authenticated request on the channel's own host that the gateway makes through its guarded client
   * (redirects checked, credentials never sent to another origin, size capped). Null: a plain GET is
   * enough, and the gateway makes it, guarded. Never fetch a URL here yourself.
   */
  openOutput?(channel: ChannelAccess, job: JobRef, output: ProviderOutput): Promise<OpenedOutput | { request: OutputRequest } | null>;
  /**
   * Reads a provider callback that reached our per-job URL (already checked against our per-job token):
   * verifies the provider's own signature where it has one and answers what the gateway must reply
   * (`challenge`, e.g. MiniMax's handshake) or that the job has news (the workflow then reads its state once).
   * Throws ProviderError (code invalid_request) for a forged or malformed callback.
   */
  readCallback?(channel: ChannelAccess, callback: ProviderCallback): ProviderCallbackResult;
}

export interface SubmitContext {
  /** Our task id, for idempotency headers and logs. */
  taskId: string;
  /** Which channel attempt this is (1-based), so a resubmission is distinguishable. */
  attempt: number;
  /** Our signed per-job URL for provider callbacks, when the gateway wants one; adapters whose protocol can
   *  call back write it into the submit request in their own spelling; others ignore it. */
  callbackUrl?: string;
}

/** A provider's HTTP callback as it reached us. */
export interface ProviderCallback {
  headers: Record<string, string | undefined>;
  rawBody: Buffer;
}
/** What to do with a provider callback. */
export type ProviderCallbackResult =
  | { kind: 'challenge'; reply: unknown }
  | { kind: 'job-update'; jobId?: string };

export interface OpenedOutput {
  body: Readable;
  contentType: string;
}

/** A download on the channel's own host, made by the gateway for the adapter (see `openOutput`). */
export interface OutputRequest {
  /** Under the channel's base URL: the operator's choice, so only its redirects are checked. */
  url: string;
  /** The credential for that host; dropped on a redirect to another origin. */
  headers: Record<string, string>;
  /** Time for the whole download (the channel's `outputTimeoutMs`); the gateway's own limit applies too. */
  timeoutMs?: number;
}

/** The classified failure of a provider call; safe to put in history and error bodies. */
export interface ProviderErrorInfo {
  /** Our code: rate_limited, upstream_unavailable, timeout, connection_error, invalid_request,
   *  content_policy_violation, upstream_auth_failed, job_failed, job_expired, not_found, bad_response. */
  code: string;
  message: string;
  retryable: boolean;
  /** Milliseconds the provider asked us to wait (Retry-After), when it said. */
  retryAfterMs?: number;
  httpStatus?: number;
  /** The provider's own error code, e.g. `InvalidParameter`, `moderation_blocked`. */
  providerCode?: string;
}

/** The one error type adapters throw. Its message never contains a credential. */
export class ProviderError extends Error implements ProviderErrorInfo {
  readonly code: string;
  readonly retryable: boolean;
  readonly retryAfterMs?: number;
  readonly httpStatus?: number;
  readonly providerCode?: string;

  constructor(info: ProviderErrorInfo) {
    super(info.message);
    this.name = 'ProviderError';
    this.code = info.code;
    this.retryable = info.retryable;
    this.retryAfterMs = info.retryAfterMs;
    this.httpStatus = info.httpStatus;
    this.providerCode = info.providerCode;
  }

  toInfo(): ProviderErrorInfo {
    return {
      code: this.code,
      message: this.message,
      retryable: this.retryable,
      retryAfterMs: this.retryAfterMs,
      httpStatus: this.httpStatus,
      providerCode: this.providerCode,
    };
  }
}
