import {
  HeraldClientError,
  NotificationFailed,
  NotificationRejected,
  TimeoutError,
} from './errors.js';
import type { NotificationRequest, Status } from './wire.js';
import type { StatusEventRecord } from './types.js';

const RANK: Partial<Record<Status, number>> = {
  accepted: 0,
  retrying: 1,
  sent: 2,
  delivered: 3,
  read: 4,
};
const FINAL = new Set<Status>(['failed', 'rejected', 'read']);

/**
 * True when `event` satisfies a wait for `target`; throws when it never will. A progress
 * status is reached by itself or any later one; `failed` and `rejected` throw unless
 * they are the target.
 */
export function reached(event: StatusEventRecord, target: Status): boolean {
  if (event.status === target) return true;
  if (event.status === 'rejected') throw new NotificationRejected(event);
  if (event.status === 'failed') {
    if (target === 'rejected') return false;
    throw new NotificationFailed(event);
  }
  const have = RANK[event.status];
  const want = RANK[target];
  return have !== undefined && want !== undefined && have >= want;
}

export interface WaitOptions {
  /** Milliseconds; default 30000. `Infinity` waits for ever. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** One sent notification: its request, where it was written, its status events. */
export class NotificationHandle {
  readonly request: NotificationRequest;
  partition: number | undefined;
  offset: bigint | undefined;
  readonly #events: StatusEventRecord[] = [];
  readonly #seen = new Set<string>();
  #waiters = new Set<() => void>();
  #error: unknown;

  constructor(request: NotificationRequest) {
    this.request = request;
  }

  get tenantId(): string {
    return this.request.tenantId;
  }

  get notificationId(): string {
    return this.request.id;
  }

  /** The events received so far, in order (a copy). */
  get received(): StatusEventRecord[] {
    return [...this.#events];
  }

  /** @internal fed by the client's status reader; repeats (same eventId) are dropped. */
  deliver(event: StatusEventRecord): void {
    if (this.#seen.has(event.eventId)) return;
    this.#seen.add(event.eventId);
    this.#events.push(event);
    this.#wake();
  }

  /** @internal the status reader stopped. */
  fail(error: unknown): void {
    this.#error = error;
    this.#wake();
  }

  get finished(): boolean {
    const last = this.#events.at(-1);
    return last !== undefined && FINAL.has(last.status);
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = new Set();
    for (const wake of waiters) wake();
  }

  #changed(): Promise<void> {
    if (this.#error !== undefined) {
      const cause = this.#error;
      return Promise.reject(new HeraldClientError(`status reader stopped: ${String(cause)}`, { cause }));
    }
    return new Promise((resolve) => this.#waiters.add(resolve));
  }

  /**
   * The first event at `status` or later. Rejects with {@link NotificationFailed} or
   * {@link NotificationRejected} (carrying the event) when the notification ends without
   * reaching it, and with {@link TimeoutError} after `timeoutMs`.
   */
  async wait(status: Status = 'sent', options: WaitOptions = {}): Promise<StatusEventRecord> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => reject(new TimeoutError(`${this.notificationId}: no ${status} within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }
      options.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true });
    });
    expired.catch(() => undefined);
    try {
      let index = 0;
      for (;;) {
        for (; index < this.#events.length; index++) {
          const event = this.#events[index]!;
          if (reached(event, status)) return event;
        }
        await Promise.race([this.#changed(), expired]);
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every event, in order, from the first; ends after `failed`, `rejected` or `read`. */
  async *events(): AsyncGenerator<StatusEventRecord, void, undefined> {
    let index = 0;
    for (;;) {
      while (index < this.#events.length) {
        const event = this.#events[index++]!;
        yield event;
        if (FINAL.has(event.status)) return;
      }
      await this.#changed();
    }
  }
}
