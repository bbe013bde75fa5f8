import { setTimeout as sleep } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import { createRedis } from '@warmpool/bus';
import type { ChaosCluster } from './cluster.js';

/** What the failover run measures; times in ms after the SIGKILL. */
export type FailoverFigures = {
  killedAt: number;
  /** A surviving node names another master for the queue slot. */
  promotedMs?: number;
  /** A client of Warmpool's connection factory writes to the queue slot again. */
  writableMs?: number;
  /** The first build whose request was published after the kill has completed (request and result went through Redis). */
  roundTripMs?: number;
  /** Every preset is back at exactly its desired count. */
  convergedMs?: number;
  summary: () => string;
};

const seconds = (ms: number | undefined) => (ms === undefined ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

/**
 * The fault of `npm run chaos -- --failover`: while reconciles are active, SIGKILL the master serving the queue
 * prefix's slot, wait for its replica to be promoted, time when the slot takes writes again, then restart the
 * killed node (it rejoins as a replica of the new master, as an orchestrator would bring it back).
 */
export function failoverFault(
  cluster: ChaosCluster,
  redisUrl: string,
  prefix: string,
  activeReconciles: (reconcile: Queue) => Promise<number>,
  say: (msg: string) => void,
): { fault: { name: string; inject: (reconcile: Queue) => Promise<string> }; figures: FailoverFigures } {
  const figures: FailoverFigures = {
    killedAt: 0,
    summary: () =>
      `failover: replica promoted after ${seconds(figures.promotedMs)}; queue slot writable again after ${seconds(figures.writableMs)}; ` +
      `first build round trip through Redis after ${seconds(figures.roundTripMs)} (pipeline stall); converged ${seconds(figures.convergedMs)} after the kill`,
  };
  const slotKey = `{${prefix}}`;
  const fault = {
    name: 'SIGKILL the Redis master holding the queue slot, its replica takes over',
    inject: async (reconcile: Queue) => {
      const active = await activeReconciles(reconcile);
      const master = await cluster.masterOf(slotKey);
      const lag = await cluster.replicationOffsets(master.port).then(
        (o) => `replica ${Math.max(0, o.master - Math.max(0, ...o.replicas))} bytes behind`,
        () => 'replica offset unknown',
      );
      const probe = createRedis(redisUrl, { role: 'producer', name: 'chaos-probe' });
      probe.on('error', () => undefined);
      await probe.set(`${slotKey}:probe`, 'before');
      process.kill(master.pid, 'SIGKILL');
      figures.killedAt = Date.now();
      say(`  killed master 127.0.0.1:${master.port} (pid ${master.pid}, ${lag}); ${active} reconcile jobs were active`);

      // Writes through the factory's client: it retries through CLUSTERDOWN / refused connections and re-reads slots.
      const writable = (async () => {
        for (let i = 0; ; i++) {
          const ok = await probe.set(`${slotKey}:probe`, String(i)).then(
            () => true,
            () => false,
          );
          if (ok) return Date.now() - figures.killedAt;
          await sleep(50);
        }
      })();
      const replica = master.replicas[0];
      for (;;) {
        const now = replica === undefined ? undefined : await cluster.masterOf(slotKey, replica).catch(() => undefined);
        if (now && now.port !== master.port) {
          figures.promotedMs = Date.now() - figures.killedAt;
          say(`  replica 127.0.0.1:${now.port} promoted after ${seconds(figures.promotedMs)}`);
          break;
        }
        if (Date.now() - figures.killedAt > 60_000) throw new Error('no replica was promoted within 60 s');
        await sleep(50);
      }
      figures.writableMs = await writable;
      probe.disconnect();
      cluster.startNode(master.port);
      return `slot writable after ${seconds(figures.writableMs)}; killed node restarted and rejoined as a replica`;
    },
  };
  return { fault, figures };
}
