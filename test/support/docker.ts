import Docker from 'dockerode';
import { ensureBusyboxImage, removeInstance } from '@warmpool/provisioner-docker';
import { uniqueName } from './env.js';

/** A tiny local image (busybox from Debian's busybox-static): no registry is ever needed. */
export const TEST_IMAGE = 'warmpool-test-busybox:1';

export const docker = new Docker();

/** Builds TEST_IMAGE with `docker import` unless it exists; safe to call from many test files at once. */
export const ensureTestImage = (): Promise<string> => ensureBusyboxImage(docker, TEST_IMAGE);

/** A per-run `warmpool.instance` label value, so a test only sees (and cleans) its own containers. */
export function testInstance(): string {
  return uniqueName('dk').replace(/_/g, '-');
}

export async function instanceContainers(instance: string, all = true): Promise<Docker.ContainerInfo[]> {
  return docker.listContainers({ all, filters: { label: [`warmpool.instance=${instance}`] } });
}

/** Removes every container and volume carrying the instance label. */
export async function cleanupInstance(instance: string): Promise<void> {
  await removeInstance(docker, instance);
}
