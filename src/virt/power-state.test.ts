import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PowerState } from './driver.js';
import { mapLifecycle, powerStateFromDomainState } from './power-state.js';
import { domainNameFor } from './naming.js';

test('libvirt lifecycle events map to Kestrel kinds and power states', () => {
  assert.deepEqual(mapLifecycle(2, 0), { kind: 'started', state: PowerState.RUNNING, detail: 'booted' });
  assert.equal(mapLifecycle(5, 1)?.state, PowerState.SHUTDOWN);
  assert.equal(mapLifecycle(5, 4)?.kind, 'suspended');
  assert.equal(mapLifecycle(5, 2)?.kind, 'crashed');
  assert.deepEqual(mapLifecycle(6, 1), {
    kind: 'shutdown',
    state: PowerState.SHUTDOWN,
    detail: 'guest request',
  });
  assert.equal(mapLifecycle(3, 0)?.state, PowerState.PAUSED);
  assert.equal(mapLifecycle(99, 0), undefined);
});

test('domain states map to power states; a managed-save image means SUSPENDED', () => {
  assert.equal(powerStateFromDomainState(1), PowerState.RUNNING);
  assert.equal(powerStateFromDomainState(5), PowerState.SHUTDOWN);
  assert.equal(powerStateFromDomainState(5, true), PowerState.SUSPENDED);
  assert.equal(powerStateFromDomainState(6), PowerState.CRASHED);
  assert.equal(powerStateFromDomainState(0), PowerState.NOSTATE);
});

test('domain names are unique per uuid and refuse non-uuids', () => {
  assert.equal(
    domainNameFor('6F1C2B3A-4D5E-4F60-8A7B-9C0D1E2F3A4B'),
    'instance-6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4b',
  );
  assert.throws(() => domainNameFor('../etc'), /not a UUID/);
});
