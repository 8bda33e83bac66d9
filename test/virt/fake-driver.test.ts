// The fake driver against the shared conformance suite, plus the behaviour the layers above
// rely on in their own fast tests (agent, guest-initiated power-off).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { FakeDriver } from '../../src/virt/fake/driver.js';
import { PowerState } from '../../src/virt/driver.js';
import { driverConformance, waitForEvent } from './driver-conformance.js';
import { baseSpec, withImageProps } from './fixtures.js';

driverConformance('fake', async () => {
  const workDir = await mkdtemp(join(tmpdir(), 'kt-virt-fake-'));
  return {
    driver: new FakeDriver(),
    nestedDriver: new FakeDriver({ policy: { cpuMode: 'host-model', cpuExtraFlags: ['vmx'] } }),
    bootMessage: 'GUEST-BOOTED',
    workDir,
    eventTimeoutMs: 1000,
    guestSpec: (o) => Promise.resolve(withImageProps(o?.imageProperties ?? {}, { uuid: randomUUID() })),
    cleanup: () => rm(workDir, { recursive: true, force: true }),
  };
});

test('fake: the agent answers guest-ping and shuts the guest down', async () => {
  const d = new FakeDriver();
  const spec = withImageProps({ hw_qemu_guest_agent: 'yes' }, { uuid: randomUUID() });
  const connected = new Promise<void>((r) => d.events.on('agent', (e) => e.connected && r()));
  await d.spawn(spec);
  await connected;
  assert.equal(await d.agentCommand(spec.uuid, '{"execute":"guest-ping"}', 5), '{"return":{}}');
  const stopped = waitForEvent(d, spec.uuid, 'stopped', 1000);
  await d.agentCommand(spec.uuid, '{"execute":"guest-shutdown"}', 5);
  await stopped;
  assert.equal((await d.info(spec.uuid)).state, PowerState.SHUTDOWN);
  await d.close();
});

test('fake: a guest that powers itself off is reported SHUTDOWN through the lifecycle event', async () => {
  const d = new FakeDriver();
  const spec = { ...baseSpec(), uuid: randomUUID() };
  await d.spawn(spec);
  const ev = waitForEvent(d, spec.uuid, 'shutdown', 1000);
  d.simulateGuestPowerOff(spec.uuid);
  assert.equal((await ev).state, PowerState.SHUTDOWN);
  await d.close();
});

test('fake: allow_nested_suspend lets a nested guest suspend', async () => {
  const d = new FakeDriver({ policy: { cpuExtraFlags: ['vmx'] }, allowNestedSuspend: true });
  const spec = { ...baseSpec(), uuid: randomUUID() };
  await d.spawn(spec);
  await d.suspend(spec.uuid);
  assert.equal((await d.info(spec.uuid)).state, PowerState.SUSPENDED);
  await d.close();
});
