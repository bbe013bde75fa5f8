import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';

const run = promisify(execFile);
const APPLETS = ['sh', 'sleep', 'true', 'false', 'test', 'touch', 'cat', 'echo', 'rm', 'ls', 'env'];

/**
 * Makes a tiny local image from a static busybox (Debian's busybox-static) with `docker import`, unless `tag`
 * exists already: demos, tests and benchmarks need no registry. Safe to call concurrently (the same tag twice).
 */
export async function ensureBusyboxImage(docker: Docker, tag: string, busybox = '/bin/busybox'): Promise<string> {
  try {
    await docker.getImage(tag).inspect();
    return tag;
  } catch {
    // not there yet
  }
  const dir = await mkdtemp(path.join(tmpdir(), 'warmpool-image-'));
  try {
    const root = path.join(dir, 'root');
    await mkdir(path.join(root, 'bin'), { recursive: true });
    await mkdir(path.join(root, 'tmp'), { recursive: true });
    await copyFile(busybox, path.join(root, 'bin/busybox'));
    for (const applet of APPLETS) await symlink('busybox', path.join(root, 'bin', applet));
    await run('tar', ['-C', root, '-cf', path.join(dir, 'image.tar'), '.']);
    await run('docker', ['import', '--change', 'CMD ["/bin/sh"]', path.join(dir, 'image.tar'), tag]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return tag;
}

/** Removes every container and volume carrying `warmpool.instance=<instance>` (demo and test clean-up). */
export async function removeInstance(docker: Docker, instance: string): Promise<number> {
  const filters = { label: [`warmpool.instance=${instance}`] };
  const containers = await docker.listContainers({ all: true, filters });
  for (const c of containers) await docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined);
  const { Volumes } = await docker.listVolumes({ filters });
  for (const v of Volumes ?? []) await docker.getVolume(v.Name).remove().catch(() => undefined);
  return containers.length;
}
