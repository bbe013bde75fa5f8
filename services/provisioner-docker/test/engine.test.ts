import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type Docker from 'dockerode';
import { containerName, ensureRunning, LABEL, removeWorkspace, stopWorkspace, volumeName } from '../src/engine.js';
import { BuildRefusal } from '../src/refusal.js';
import { cleanupInstance, docker, ensureTestImage, instanceContainers, testInstance } from '../../../test/support/docker.js';

const instance = testInstance();
after(async () => {
  await cleanupInstance(instance);
});

test('removing a workspace while someone else removes its container succeeds, and a missing one is removed already', async () => {
  const image = await ensureTestImage();
  for (let i = 0; i < 4; i++) {
    const ws = randomUUID();
    const Labels = { 'warmpool.instance': instance, 'warmpool.workspace': ws };
    await docker.createVolume({ Name: volumeName(ws), Labels });
    const c = await docker.createContainer({
      name: containerName(ws),
      Image: image,
      Cmd: ['sleep', '3600'],
      Labels,
      HostConfig: { Mounts: [{ Type: 'volume', Source: volumeName(ws), Target: '/workspace' }] },
    });
    await c.start();
    // The same moment as an outside `docker rm -f`: whichever wins, both end with nothing left.
    await Promise.all([c.remove({ force: true }).catch((err: { statusCode?: number }) => assert.ok(err.statusCode === 404 || err.statusCode === 409)), removeWorkspace(docker, ws, instance)]);
    await assert.rejects(docker.getVolume(volumeName(ws)).inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
    await removeWorkspace(docker, ws, instance); // already gone: still a success
  }
  assert.equal((await instanceContainers(instance)).length, 0);
});

test('a container or volume named like a workspace but not labelled by this instance is never adopted, started, stopped or removed', async () => {
  const image = await ensureTestImage();
  const config = (ws: string): Docker.ContainerCreateOptions => ({
    name: containerName(ws),
    Image: image,
    Cmd: ['sleep', '3600'],
    Labels: { [LABEL.instance]: instance, [LABEL.workspace]: ws },
  });
  const refused = (err: unknown) => err instanceof BuildRefusal && /without this provisioner's labels/.test(err.message) && err.message.includes(`${LABEL.instance}=${instance}`);

  // A stranger's stopped container under the name (cleaned by the test, by name: it carries no instance label).
  const ws = randomUUID();
  const stranger = await docker.createContainer({ name: containerName(ws), Image: image, Cmd: ['sleep', '3600'], Labels: { purpose: 'someone else' } });
  try {
    await assert.rejects(ensureRunning(docker, config(ws), ws, instance), refused, 'adopt and start');
    assert.equal((await stranger.inspect()).State.Running, false, 'not started');
    await assert.rejects(docker.getVolume(volumeName(ws)).inspect(), (err: { statusCode?: number }) => err.statusCode === 404, 'no volume made for it');
    await stranger.start();
    await assert.rejects(stopWorkspace(docker, ws, instance, 1), refused, 'stop');
    await assert.rejects(removeWorkspace(docker, ws, instance), refused, 'remove');
    assert.equal((await stranger.inspect()).State.Running, true, 'still running after the refused stop and remove');
    // Another instance's container is foreign too.
    const other = randomUUID();
    const theirs = await docker.createContainer({ ...config(other), Labels: { [LABEL.instance]: `${instance}-other`, [LABEL.workspace]: other } });
    await assert.rejects(removeWorkspace(docker, other, instance), refused, 'another instance');
    await theirs.remove({ force: true });
  } finally {
    await stranger.remove({ force: true }).catch(() => undefined);
  }

  // A stranger's volume under the name: never mounted into a new container, never removed.
  const vs = randomUUID();
  await docker.createVolume({ Name: volumeName(vs), Labels: { purpose: 'someone else' } });
  try {
    await assert.rejects(ensureRunning(docker, config(vs), vs, instance), refused, 'mount');
    await assert.rejects(docker.getContainer(containerName(vs)).inspect(), (err: { statusCode?: number }) => err.statusCode === 404, 'no container made');
    await assert.rejects(removeWorkspace(docker, vs, instance), refused, 'remove the volume');
    assert.equal((await docker.getVolume(volumeName(vs)).inspect()).Name, volumeName(vs));
  } finally {
    await docker.getVolume(volumeName(vs)).remove().catch(() => undefined);
  }

  // Our own: created, adopted on a second call, stopped and removed.
  const mine = randomUUID();
  const first = await ensureRunning(docker, config(mine), mine, instance);
  const again = await ensureRunning(docker, config(mine), mine, instance);
  assert.deepEqual([first.created, again.created, again.id], [true, false, first.id]);
  await stopWorkspace(docker, mine, instance, 0);
  await removeWorkspace(docker, mine, instance);
  assert.equal((await instanceContainers(instance)).length, 0);
});
