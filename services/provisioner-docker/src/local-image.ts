import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type Docker from 'dockerode';

const run = promisify(execFile);
const APPLETS = ['sh', 'sleep', 'true', 'false', 'test', 'touch', 'cat', 'echo', 'rm', 'ls', 'env'];

/** More in the image: executable files (absolute path → content) and its default command. */
export type ImageExtras = { files?: Record<string, string>; cmd?: string[] };

/**
 * Makes a tiny local image from a static busybox (Debian's busybox-static) with `docker import`, unless `tag`
 * exists already: demos, tests and benchmarks need no registry. Safe to call concurrently (the same tag twice).
 */
export async function ensureBusyboxImage(docker: Docker, tag: string, busybox = '/bin/busybox', extras: ImageExtras = {}): Promise<string> {
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
    for (const [file, content] of Object.entries(extras.files ?? {})) {
      await mkdir(path.dirname(path.join(root, file)), { recursive: true });
      await writeFile(path.join(root, file), content, { mode: 0o755 });
    }
    await run('tar', ['-C', root, '-cf', path.join(dir, 'image.tar'), '.']);
    await run('docker', ['import', '--change', `CMD ${JSON.stringify(extras.cmd ?? ['/bin/sh'])}`, path.join(dir, 'image.tar'), tag]);
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
