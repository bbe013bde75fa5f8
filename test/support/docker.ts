import { execFile } from 'node:child_process';
import { mkdtemp, rm, copyFile, mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { uniqueName } from './env.js';

const run = promisify(execFile);

/** A tiny local image (busybox from Debian's busybox-static): no registry is ever needed. */
export const TEST_IMAGE = 'warmpool-test-busybox:1';
const APPLETS = ['sh', 'sleep', 'true', 'false', 'test', 'touch', 'cat', 'echo', 'rm', 'ls'];

export const docker = new Docker();

/** Builds TEST_IMAGE with `docker import` unless it exists; safe to call from many test files at once. */
export async function ensureTestImage(): Promise<string> {
  try {
    await docker.getImage(TEST_IMAGE).inspect();
    return TEST_IMAGE;
  } catch {
    // not there yet: build it
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'wp-image-'));
  try {
    await mkdir(path.join(dir, 'root/bin'), { recursive: true });
    await mkdir(path.join(dir, 'root/tmp'), { recursive: true });
    await copyFile('/bin/busybox', path.join(dir, 'root/bin/busybox'));
    for (const applet of APPLETS) await symlink('busybox', path.join(dir, 'root/bin', applet));
    await run('tar', ['-C', path.join(dir, 'root'), '-cf', path.join(dir, 'image.tar'), '.']);
    await run('docker', ['import', '--change', 'CMD ["/bin/sh"]', path.join(dir, 'image.tar'), TEST_IMAGE]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return TEST_IMAGE;
}

/** A per-run `warmpool.instance` label value, so a test only sees (and cleans) its own containers. */
export function testInstance(): string {
  return uniqueName('dk').replace(/_/g, '-');
}

const filterOf = (instance: string) => ({ label: [`warmpool.instance=${instance}`] });

export async function instanceContainers(instance: string, all = true): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all, filters: filterOf(instance) });
}

/** Removes every container and volume carrying the instance label. */
export async function cleanupInstance(instance: string): Promise<void> {
  for (const c of await instanceContainers(instance)) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  const { Volumes } = await docker.listVolumes({ filters: filterOf(instance) });
  for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove().catch(() => undefined);
}
