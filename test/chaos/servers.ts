import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Throwaway Redis and PostgreSQL servers for fault injection, on free ports of their own: restarting them never
 * disturbs the shared servers other tests and developers use.
 */

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

async function waitForPort(port: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.end();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

export class ChaosRedis {
  private child: ChildProcess | undefined;
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'warmpool-chaos-redis-'));
  /** `persist`: keep an append-only file so a restart keeps the queues; without it a restart loses every job. */
  constructor(
    readonly port: number,
    readonly persist: boolean,
  ) {}
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }
  async start(): Promise<void> {
    const persistence = this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    this.child = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', ...persistence, '--maxmemory-policy', 'noeviction', '--daemonize', 'no'],
      { stdio: 'ignore' },
    );
    await waitForPort(this.port);
  }
  /** A restart on the same port: every client connection drops; only an append-only file brings the queues back. */
  async restart(): Promise<void> {
    await stopChild(this.child, 'SIGTERM');
    await this.start();
  }
  async stop(): Promise<void> {
    await stopChild(this.child, 'SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const PG_BIN = process.env.CHAOS_PG_BIN ?? `/usr/lib/postgresql/${spawnSync('ls', ['/usr/lib/postgresql']).stdout.toString().trim().split('\n').pop()}/bin`;
// PostgreSQL refuses to run as root: when we are root, run it as the postgres user (directly, so signals reach it).
const asPostgres = () => (process.getuid?.() === 0 ? userIds('postgres') : {});

export class ChaosPostgres {
  private child: ChildProcess | undefined;
  readonly dir = mkdtempSync(path.join(os.tmpdir(), 'warmpool-chaos-pg-'));
  constructor(readonly port: number) {}
  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`;
  }
  async init(): Promise<void> {
    if (process.getuid?.() === 0) {
      const { uid, gid } = userIds('postgres');
      chownSync(this.dir, uid, gid);
    }
    const res = spawnSync(path.join(PG_BIN, 'initdb'), ['-D', path.join(this.dir, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8'], {
      encoding: 'utf8',
      cwd: this.dir,
      ...asPostgres(),
    });
    if (res.status !== 0) throw new Error(`initdb failed: ${res.stderr}`);
  }
  async start(): Promise<void> {
    const args = ['-D', path.join(this.dir, 'data'), '-p', String(this.port), '-k', this.dir, '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=off'];
    this.child = spawn(path.join(PG_BIN, 'postgres'), args, { stdio: 'ignore', cwd: this.dir, ...asPostgres() });
    await waitForPort(this.port);
    await new Promise((r) => setTimeout(r, 300)); // accepting connections shortly after the port opens
  }
  /** A fast shutdown (active transactions rolled back, connections dropped), then a start. */
  async restart(): Promise<void> {
    await stopChild(this.child, 'SIGINT');
    await this.start();
  }
  async destroy(): Promise<void> {
    await stopChild(this.child, 'SIGINT');
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function userIds(name: string): { uid: number; gid: number } {
  const out = spawnSync('id', [name], { encoding: 'utf8' }).stdout;
  return { uid: Number(/uid=(\d+)/.exec(out)?.[1]), gid: Number(/gid=(\d+)/.exec(out)?.[1]) };
}
