/**
 * Provider callbacks from the fakes, as the real providers send them: once a job is final, a POST of the
 * provider's own body (and signature headers) to the URL the submit named. `never` turns them off (the
 * gateway's backstop poll must then finish the task); every callback sent is kept, so a test can replay
 * one as an attacker would.
 */
export type CallbackMode = 'on' | 'never';

export interface SentCallback {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** Our gateway's answer (0 when unreachable). */
  status: number;
}

export class FakeCallbacks {
  mode: CallbackMode = 'on';
  readonly sent: SentCallback[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();

  /**
   * Watches a job and calls `url` once `isFinal()` holds, with what `render()` gives then. The watch
   * stops when the fake closes, or after `maxMs` without an end.
   */
  watch(url: string, isFinal: () => boolean, render: () => { headers: Record<string, string>; body: string }, maxMs = 10 * 60 * 1000): void {
    if (this.mode === 'never') return;
    const until = Date.now() + maxMs;
    const timer = setInterval(() => {
      if (Date.now() > until) return this.stop(timer);
      if (!isFinal()) return;
      this.stop(timer);
      void this.send(url, render());
    }, 20);
    timer.unref();
    this.timers.add(timer);
  }

  /** POSTs one callback (also used by tests to replay one). */
  async send(url: string, message: { headers: Record<string, string>; body: string }): Promise<SentCallback> {
    const record: SentCallback = { url, headers: message.headers, body: message.body, status: 0 };
    this.sent.push(record);
    try {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...message.headers }, body: message.body });
      record.status = res.status;
      await res.arrayBuffer();
    } catch {
      record.status = 0;
    }
    return record;
  }

  close(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers.clear();
  }

  reset(): void {
    this.mode = 'on';
    this.sent.length = 0;
  }

  private stop(timer: NodeJS.Timeout): void {
    clearInterval(timer);
    this.timers.delete(timer);
  }
}
