import type { ProviderError } from '../types';
import { invalidRequest, submitErrorForCode, submitErrorForStatus, type JobFailureCode } from './failures';
import { MAX_DURATION_MS } from './settings';

/** What the `[mock:...]` markers in a prompt ask for; each field overrides the channel setting it names. */
export interface MockMarkers {
  /** Throw this at submit (`[mock:submit=429]`, `[mock:fail=content_policy]`). */
  submitError?: ProviderError;
  /** Fail in flight with this code (`[mock:fail]`, `[mock:fail=infra]`). */
  failure?: JobFailureCode;
  /** Run time in ms (`[mock:duration=1500]`). */
  durationMs?: number;
}

const MARKER = /\[mock:([a-z_]+)(?:=([^\]\s]*))?\]/gi;

/**
 * Reads every `[mock:name]` or `[mock:name=value]` marker; when one is repeated the last wins.
 * An unknown name or value throws `invalid_request`, so a typo in a test prompt is not silently ignored.
 */
export function parseMarkers(prompt: string): MockMarkers {
  const markers: MockMarkers = {};
  for (const match of prompt.matchAll(MARKER)) {
    const [text, rawName, value] = match;
    const name = rawName.toLowerCase();
    if (name === 'fail') {
      if (value === undefined || value === '') markers.failure = 'job_failed';
      else if (value === 'infra') markers.failure = 'upstream_unavailable';
      else if (value === 'content_policy') markers.submitError = submitErrorForCode('content_policy_violation', text);
      else throw invalidRequest(`unknown marker ${text}: fail takes no value, infra or content_policy`);
    } else if (name === 'submit') {
      const status = Number(value);
      if (!/^\d{3}$/.test(value ?? '') || status < 400 || status > 599) {
        throw invalidRequest(`unknown marker ${text}: submit takes an HTTP status 400..599`);
      }
      markers.submitError = submitErrorForStatus(status, text);
    } else if (name === 'duration') {
      const ms = Number(value);
      if (!/^\d+$/.test(value ?? '') || ms > MAX_DURATION_MS) {
        throw invalidRequest(`unknown marker ${text}: duration takes milliseconds 0..${MAX_DURATION_MS}`);
      }
      markers.durationMs = ms;
    } else {
      throw invalidRequest(`unknown marker ${text}: use fail, submit or duration`);
    }
  }
  return markers;
}
