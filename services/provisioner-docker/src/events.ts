import { setTimeout as delay } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import type { Logger } from '@warmpool/runtime';
import { LABEL } from './engine.js';

/** One container event from the engine's stream, reduced to what the provisioner uses. */
export type ContainerEvent = {
  action: string;
  containerId: string;
  labels: Record<string, string>;
  /** Seconds since the epoch (the stream's `time`), used to resume after a reconnect. */
  time: number;
};

type Waiter = { resolve: () => void; reject: (err: Error) => void };

/**
 * Follows the engine's event stream for this instance's containers (no polling): container deaths and removals
 * go to `onGone`, pauses and unpauses to `onTier` (standby tiers), health transitions wake agent waiters. The
 * stream is reopened after a break with `since` set to the last event seen, so nothing in between is missed.
 */
export class EngineEvents {
  private stream: Readable | null = null;
  private closed = false;
  private lastTime = Math.floor(Date.now() / 1000);
  private readonly waiters = new Map<string, Set<Waiter>>();
  private connected!: Promise<void>;

  constructor(
    private readonly docker: Docker,
    private readonly instance: string,
    private readonly onGone: (event: ContainerEvent) => void,
    private readonly logger: Logger,
    private readonly onTier: (event: ContainerEvent) => void = () => undefined,
  ) {}

  /** Resolves once the stream is open: events from then on are seen. */
  start(): Promise<void> {
    this.connected = this.follow();
    return this.connected;
  }

  private async open(): Promise<Readable> {
    const stream = (await this.docker.getEvents({
      since: this.lastTime,
      filters: { type: ['container'], label: [`${LABEL.instance}=${this.instance}`], event: ['die', 'destroy', 'health_status', 'pause', 'unpause'] },
    })) as Readable;
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) this.dispatch(line);
      }
    });
    return stream;
  }

  private async follow(): Promise<void> {
    this.stream = await this.open();
    const reopen = async () => {
      while (!this.closed) {
        await delay(1_000);
        if (this.closed) return;
        try {
          this.stream = await this.open();
          this.stream.once('close', () => void reopen());
          this.logger.info('engine event stream reopened');
          return;
        } catch (err) {
          this.logger.warn({ err: (err as Error).message }, 'cannot reopen the engine event stream; retrying');
        }
      }
    };
    this.stream.once('close', () => void reopen());
  }

  private dispatch(line: string): void {
    let raw: { Action?: string; status?: string; id?: string; time?: number; Actor?: { ID?: string; Attributes?: Record<string, string> } };
    try {
      raw = JSON.parse(line) as typeof raw;
    } catch {
      return;
    }
    const action = raw.Action ?? raw.status ?? '';
    const containerId = raw.Actor?.ID ?? raw.id ?? '';
    if (typeof raw.time === 'number') this.lastTime = Math.max(this.lastTime, raw.time);
    const event: ContainerEvent = { action, containerId, labels: raw.Actor?.Attributes ?? {}, time: raw.time ?? 0 };
    if (action === 'health_status: healthy') this.settle(containerId, null);
    else if (action === 'die' || action === 'destroy') {
      this.settle(containerId, new Error(`container ${action === 'die' ? 'stopped' : 'was removed'} before its agent was ready`));
      this.onGone(event);
    } else if (action === 'pause' || action === 'unpause') this.onTier(event);
  }

  private settle(containerId: string, err: Error | null): void {
    const waiting = this.waiters.get(containerId);
    if (!waiting) return;
    this.waiters.delete(containerId);
    for (const w of waiting) {
      if (err) w.reject(err);
      else w.resolve();
    }
  }

  /**
   * Resolves when the container is healthy (or, without a health check, running); rejects when it stops first or
   * `signal` aborts. The waiter is registered before the state is read, so a transition in between is not missed.
   */
  async waitReady(containerId: string, signal: AbortSignal): Promise<void> {
    let waiter!: Waiter;
    const settled = new Promise<void>((resolve, reject) => (waiter = { resolve, reject }));
    const set = this.waiters.get(containerId) ?? new Set<Waiter>();
    set.add(waiter);
    this.waiters.set(containerId, set);
    const onAbort = () => waiter.reject(new Error('shutting down'));
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      const info = await this.docker.getContainer(containerId).inspect();
      if (!info.State.Running) throw new Error(`container is ${info.State.Status}`);
      if (!info.State.Health || info.State.Health.Status === 'healthy') waiter.resolve();
      await settled;
    } finally {
      signal.removeEventListener('abort', onAbort);
      set.delete(waiter);
      if (set.size === 0 && this.waiters.get(containerId) === set) this.waiters.delete(containerId);
    }
  }

  close(): void {
    this.closed = true;
    this.stream?.destroy();
    for (const [id] of this.waiters) this.settle(id, new Error('shutting down'));
  }
}
