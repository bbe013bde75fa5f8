import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { containerName, removeWorkspace, volumeName } from '../src/engine.js';
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
    await Promise.all([c.remove({ force: true }).catch((err: { statusCode?: number }) => assert.ok(err.statusCode === 404 || err.statusCode === 409)), removeWorkspace(docker, ws)]);
    await assert.rejects(docker.getVolume(volumeName(ws)).inspect(), (err: { statusCode?: number }) => err.statusCode === 404);
    await removeWorkspace(docker, ws); // already gone: still a success
  }
  assert.equal((await instanceContainers(instance)).length, 0);
});
