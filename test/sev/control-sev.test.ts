// The SEV request check at the control layer (every 400 and 409 with its message), including
// the machine-type default from [libvirt] hw_machine_type that Nova checks only on the host.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  effectiveMachineType,
  isSevInstance,
  memEncryptionRequested,
  refuseSevAction,
  sevActionRefusal,
  validateMemoryEncryption,
} from '../../src/control/sev.js';
import { KestrelError } from '../../src/errors/index.js';

const flavor = (extraSpecs: Record<string, string> = {}) => ({ name: 'm1.sev', extraSpecs });
const image = (properties: Record<string, string>) => ({ id: 'img-1', name: 'cirros-uefi', properties });
const GOOD = { hw_mem_encryption: 'true', hw_firmware_type: 'uefi', hw_machine_type: 'q35' };

function rejects400(fn: () => unknown, re: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof KestrelError, String(e));
    assert.equal(e.status, 400);
    assert.match(e.userMessage, re);
    return true;
  });
}

test('the request: flavor or image, oslo booleans, off by default', () => {
  for (const v of ['true', 'True', '1', 'yes', 'on', 'y', 't']) {
    assert.equal(memEncryptionRequested(flavor({ 'hw:mem_encryption': v }), image({})), true, v);
  }
  for (const v of ['false', '0', 'no', 'off']) {
    assert.equal(memEncryptionRequested(flavor({ 'hw:mem_encryption': v }), image({})), false, v);
  }
  assert.equal(memEncryptionRequested(flavor(), image({ hw_mem_encryption: 'yes' })), true);
  assert.equal(memEncryptionRequested(flavor(), image({})), false);
  assert.equal(
    validateMemoryEncryption(flavor(), image({ hw_firmware_type: 'bios', hw_disk_bus: 'ide' })),
    false,
  );
  rejects400(
    () => memEncryptionRequested(flavor({ 'hw:mem_encryption': 'maybe' }), image({})),
    /hw:mem_encryption=maybe is not a boolean/,
  );
});

test('flavor and image both set and different: one 400 naming both', () => {
  for (const [f, i] of [
    ['true', 'false'],
    ['no', 'yes'],
  ]) {
    rejects400(
      () =>
        validateMemoryEncryption(
          flavor({ 'hw:mem_encryption': f }),
          image({ ...GOOD, hw_mem_encryption: i }),
        ),
      new RegExp(
        `Flavor m1.sev has hw:mem_encryption extra spec explicitly set to ${f}, conflicting with image cirros-uefi \\(img-1\\) which has hw_mem_encryption property explicitly set to ${i}`,
      ),
    );
  }
  assert.equal(
    validateMemoryEncryption(
      flavor({ 'hw:mem_encryption': 'yes' }),
      image({ ...GOOD, hw_mem_encryption: 'True' }),
    ),
    true,
  );
});

test('each constraint is its own 400 naming the property and the value that works', () => {
  const cases: [Record<string, string>, Record<string, string>, RegExp][] = [
    [
      {},
      { ...GOOD, hw_firmware_type: 'bios' },
      /hw_firmware_type' property set to 'uefi' \(it is 'bios'\).*--property hw_firmware_type=uefi/,
    ],
    [{}, { hw_mem_encryption: 'true', hw_machine_type: 'q35' }, /it is unset, meaning bios/],
    [
      {},
      { ...GOOD, hw_machine_type: 'pc-i440fx-7.2' },
      /needs the q35 machine type, but image property hw_machine_type=pc-i440fx-7.2.*hw_machine_type=q35/,
    ],
    [
      {},
      { ...GOOD, hw_disk_bus: 'ide' },
      /hw_disk_bus=ide \(q35 has no IDE\).*--property hw_disk_bus=virtio/,
    ],
    [{}, { ...GOOD, hw_disk_bus: 'usb' }, /hw_disk_bus=usb.*hw_disk_bus=virtio/],
    [{}, { ...GOOD, hw_disk_bus: 'scsi' }, /hw_scsi_model=\(unset\).*--property hw_scsi_model=virtio-scsi/],
    [
      {},
      { ...GOOD, hw_disk_bus: 'scsi', hw_scsi_model: 'lsilogic' },
      /hw_scsi_model=lsilogic.*hw_scsi_model=virtio-scsi/,
    ],
    [
      { 'pci_passthrough:alias': 'gpu:1' },
      GOOD,
      /PCI passthrough: flavor m1.sev has pci_passthrough:alias=gpu:1.*without pci_passthrough:alias/,
    ],
    [{ 'hw:mem_encryption_model': 'amd-sev-snp' }, GOOD, /model amd-sev-snp is not supported.*amd-sev/],
  ];
  for (const [spec, props, re] of cases)
    rejects400(() => validateMemoryEncryption(flavor(spec), image(props)), re);
  const allowed: Record<string, string>[] = [
    { hw_disk_bus: 'virtio' },
    { hw_disk_bus: 'sata' },
    { hw_disk_bus: 'scsi', hw_scsi_model: 'virtio-scsi' },
    { hw_machine_type: 'pc-q35-7.2' },
  ];
  for (const ok of allowed) {
    assert.equal(validateMemoryEncryption(flavor(), image({ ...GOOD, ...ok })), true, JSON.stringify(ok));
  }
});

test('machine type without the image property: [libvirt] hw_machine_type, else the built-in pc (Nova checks this only on the host)', () => {
  const props = { hw_mem_encryption: 'true', hw_firmware_type: 'uefi' };
  rejects400(
    () => validateMemoryEncryption(flavor(), image(props)),
    /the default machine type for x86_64 \(pc; neither the image nor \[libvirt\] hw_machine_type set one\).*\[libvirt\] hw_machine_type = x86_64=q35/,
  );
  rejects400(
    () => validateMemoryEncryption(flavor(), image(props), { machineTypes: { x86_64: 'pc' } }),
    /\[libvirt\] hw_machine_type x86_64=pc/,
  );
  assert.equal(validateMemoryEncryption(flavor(), image(props), { machineTypes: { x86_64: 'q35' } }), true);
  assert.equal(
    effectiveMachineType(image({ hw_architecture: 'aarch64' }), { machineTypes: { x86_64: 'q35' } }).machine,
    'virt',
  );
});

test('refused operations: suspend and live migration are 409 for SEV instances only', async () => {
  const r = sevActionRefusal('suspend', 'u-1', { 'hw:mem_encryption': 'true' }, {});
  assert.equal(r?.code, 'conflict');
  assert.match(r!.message, /^Operation 'suspend' is not supported for an SEV-enabled instance \(u-1\)/);
  const lm = sevActionRefusal('os-migrateLive', 'u-2', {}, { hw_mem_encryption: 'yes' });
  assert.match(
    lm!.message,
    /Operation 'live-migration' is not supported for an SEV-enabled instance \(u-2\).*cold-migrate/,
  );
  for (const allowed of ['migrate', 'shelve', 'createImage', 'os-stop', 'pause', 'reboot', 'resize']) {
    assert.equal(sevActionRefusal(allowed, 'u-1', { 'hw:mem_encryption': 'true' }, {}), undefined, allowed);
  }
  assert.equal(sevActionRefusal('suspend', 'u-3', { 'hw:mem_encryption': 'false' }, {}), undefined);
  assert.equal(isSevInstance({}, {}), false);
  const inst = { uuid: 'u-4', imageId: 'img', flavor: { extraSpecs: {} } };
  await assert.rejects(
    refuseSevAction('suspend', inst, async () => ({ hw_mem_encryption: 'true' })),
    /SEV-enabled/,
  );
  await refuseSevAction('suspend', inst, async () => undefined); // the image is gone: the flavor decides
  let asked = false;
  await refuseSevAction('os-stop', inst, async () => {
    asked = true;
    return {};
  });
  assert.equal(asked, false, 'no image lookup for actions SEV does not restrict');
});
