// The compute action path below the API: the (fake) driver refuses suspend and live
// migration of an SEV guest by itself, with the same words, and builds SEV guests with the
// real configurators. (The libvirt driver's refusal reads <launchSecurity> from the defined
// domain; an SEV domain cannot be defined on this host without SEV, so it is not exercised.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VirtError } from '../../src/virt/errors.js';
import { SevFakeDriver } from './harness.js';
import { sevSpec } from './fixtures.js';

test('fake driver: SEV guest spawns; suspend and live migration refused; stop allowed', async (t) => {
  const d = new SevFakeDriver(2);
  await d.init();
  try {
    const spec = sevSpec({ hw_mem_encryption: 'true', hw_firmware_type: 'uefi', hw_machine_type: 'q35' });
    await d.spawn(spec);
    for (const op of [() => d.suspend(spec.uuid), () => d.checkCanLiveMigrate(spec.uuid)]) {
      await assert.rejects(op(), (e: unknown) => {
        assert.ok(e instanceof VirtError);
        assert.equal(e.status, 409);
        assert.match(e.message, /is not supported for an SEV-enabled instance/);
        return true;
      });
    }
    await d.powerOff(spec.uuid, 1);
    await d.destroy(spec.uuid);
    const plain = sevSpec(
      { hw_firmware_type: 'uefi', hw_machine_type: 'q35' },
      {},
      { uuid: '6f1c2b3a-4d5e-4f60-8a7b-9c0d1e2f3a4c' },
    );
    await d.spawn(plain);
    await d.suspend(plain.uuid);
    await d.destroy(plain.uuid);
    t.diagnostic(
      'not exercised here: the libvirt driver refusing a defined SEV domain (no SEV hardware to define one)',
    );
  } finally {
    await d.close();
  }
});
