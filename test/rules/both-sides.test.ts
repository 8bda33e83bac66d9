// Every rule of the guest-requirement rule book (src/rules/) from both sides: the API's check
// (a 400 on create and rebuild) and the driver's configurators (the refusal that becomes the
// instance's fault) refuse the same request with the same message and fix, because both call
// the same function. The driver side builds real domains against a recorded SEV host.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateGuestRequest } from '../../src/control/guest-request.js';
import { effectiveMachineType } from '../../src/control/sev.js';
import { KestrelError } from '../../src/errors/index.js';
import { faultFrom } from '../../src/compute/faults.js';
import { isOsloTrue, osloBool } from '../../src/rules/boolean.js';
import { isQ35, resolveMachineType } from '../../src/rules/machine.js';
import { buildDomain } from '../../src/virt/libvirt/configure/index.js';
import { basePolicy, context } from '../virt/fixtures.js';
import { sevHost, sevSpec } from '../sev/fixtures.js';

const UEFI_Q35 = { hw_mem_encryption: 'true', hw_firmware_type: 'uefi', hw_machine_type: 'q35' };

interface Case {
  rule: string;
  props: Record<string, string>;
  extraSpecs?: Record<string, string>;
  machineTypes?: Record<string, string>;
  /** The rule's own words, which both sides must show. */
  message: RegExp;
  fix: RegExp;
}

const cases: Case[] = [
  {
    rule: 'oslo booleans (hw:mem_encryption)',
    props: { hw_firmware_type: 'uefi', hw_machine_type: 'q35' },
    extraSpecs: { 'hw:mem_encryption': 'maybe' },
    message: /flavor m1\.\S+ extra spec hw:mem_encryption=maybe is not a boolean/,
    fix: /use true or false/,
  },
  {
    rule: 'oslo booleans (image property hw_mem_encryption)',
    props: { hw_mem_encryption: 'ja', hw_firmware_type: 'uefi' },
    message: /property hw_mem_encryption=ja is not a boolean/,
    fix: /yes\/no, on\/off, 1\/0/,
  },
  {
    rule: 'SEV: flavor and image agree',
    props: { ...UEFI_Q35 },
    extraSpecs: { 'hw:mem_encryption': 'no' },
    message:
      /hw:mem_encryption extra spec explicitly set to no, conflicting with image .* explicitly set to true/,
    fix: /set both to the same value/,
  },
  {
    rule: 'SEV: the model is amd-sev',
    props: { ...UEFI_Q35, hw_mem_encryption_model: 'intel-tdx' },
    message: /Memory encryption model intel-tdx is not supported/,
    fix: /amd-sev/,
  },
  {
    rule: 'SEV: UEFI firmware',
    props: { hw_mem_encryption: 'yes', hw_machine_type: 'q35', hw_firmware_type: 'bios' },
    message: /doesn't have 'hw_firmware_type' property set to 'uefi' \(it is 'bios'\)/,
    fix: /--property hw_firmware_type=uefi/,
  },
  {
    rule: 'SEV: q35 machine type (image property)',
    props: { ...UEFI_Q35, hw_machine_type: 'pc-i440fx-7.2' },
    message: /needs the q35 machine type, but image property hw_machine_type=pc-i440fx-7\.2/,
    fix: /--property hw_machine_type=q35/,
  },
  {
    rule: 'SEV: q35 machine type (resolved from [libvirt] hw_machine_type)',
    props: { hw_mem_encryption: 'true', hw_firmware_type: 'uefi' },
    machineTypes: { x86_64: 'pc' },
    message: /needs the q35 machine type, but \[libvirt\] hw_machine_type x86_64=pc/,
    fix: /x86_64=q35/,
  },
  {
    rule: 'SEV: boot disk bus',
    props: { ...UEFI_Q35, hw_disk_bus: 'scsi' },
    message: /needs a SCSI boot disk on virtio-scsi, but image .* hw_scsi_model=\(unset\)/,
    fix: /--property hw_scsi_model=virtio-scsi/,
  },
  {
    rule: 'SEV: no PCI passthrough',
    props: { ...UEFI_Q35 },
    extraSpecs: { 'hw:mem_encryption': 'true', 'pci_passthrough:alias': 'gpu:1' },
    message: /cannot be combined with PCI passthrough: flavor \S+ has pci_passthrough:alias=gpu:1/,
    fix: /without pci_passthrough:alias/,
  },
  {
    rule: 'disk bus: the root disk bus exists',
    props: { hw_disk_bus: 'floppy' },
    message: /hw_disk_bus=floppy is not supported for the root disk/,
    fix: /virtio \(default\), scsi, sata or ide/,
  },
  {
    rule: 'disk bus: IDE needs a machine with an IDE controller',
    props: { hw_disk_bus: 'ide', hw_machine_type: 'q35' },
    message: /hw_disk_bus=ide needs a machine type with an IDE controller/,
    fix: /hw_disk_bus=sata/,
  },
  {
    rule: 'disk bus: hw_scsi_model',
    props: { hw_disk_bus: 'scsi', hw_scsi_model: 'lsilogic' },
    message: /hw_scsi_model=lsilogic is not supported/,
    fix: /virtio-scsi/,
  },
];

function refusal(e: unknown, side: string, c: Case): true {
  assert.ok(e instanceof KestrelError, `${side}: ${String(e)}`);
  assert.equal(e.status, 400, `${side}: ${e.code}`);
  assert.match(e.message, c.message, side);
  assert.match(e.fix, c.fix, side);
  return true;
}

for (const c of cases) {
  test(`rule book, both sides: ${c.rule}`, async () => {
    const spec = sevSpec(c.props, c.extraSpecs ?? {});
    const defaults = { machineTypes: c.machineTypes, hostArch: 'x86_64' };
    let apiError: unknown;
    assert.throws(
      () => validateGuestRequest(spec.flavor, spec.image, defaults),
      (e: unknown) => refusal((apiError = e), 'API', c),
    );
    let driverError: unknown;
    await assert.rejects(
      buildDomain(
        context(spec, basePolicy({ virtType: 'kvm', machineTypes: c.machineTypes ?? {} }), sevHost()),
      ),
      (e: unknown) => refusal((driverError = e), 'driver', c),
    );
    // The same words, and the driver's refusal becomes a 400 instance fault, not a 500.
    assert.equal((driverError as KestrelError).fix, (apiError as KestrelError).fix);
    assert.equal(faultFrom(driverError, 'Build of instance failed').code, 400);
  });
}

test('rule book, both sides: a request every rule accepts builds on both sides', async () => {
  const accepted: Record<string, string>[] = [
    UEFI_Q35,
    { ...UEFI_Q35, hw_disk_bus: 'sata' },
    { ...UEFI_Q35, hw_disk_bus: 'scsi', hw_scsi_model: 'virtio-scsi' },
    { hw_disk_bus: 'ide' },
  ];
  for (const props of accepted) {
    const spec = sevSpec(props);
    validateGuestRequest(spec.flavor, spec.image, {});
    const dom = await buildDomain(context(spec, basePolicy({ virtType: 'kvm' }), sevHost()));
    assert.equal(
      dom.launchSecurity?.type,
      props.hw_mem_encryption ? 'sev' : undefined,
      JSON.stringify(props),
    );
  }
});

test('machine-type resolution and q35: one answer for the API, the driver and the config check', async () => {
  const choices: [Record<string, string>, Record<string, string>, string][] = [
    [{ hw_machine_type: 'pc-q35-7.2' }, { x86_64: 'pc' }, 'pc-q35-7.2'],
    [{}, { x86_64: 'q35' }, 'q35'],
    [{}, {}, 'pc'],
    [{ hw_architecture: 'aarch64' }, { x86_64: 'q35' }, 'virt'],
  ];
  for (const [props, machineTypes, want] of choices) {
    const spec = sevSpec(props);
    assert.equal(effectiveMachineType(spec.image, { machineTypes }).machine, want);
    if (!props.hw_architecture) {
      const dom = await buildDomain(context(spec, basePolicy({ machineTypes }), sevHost()));
      assert.equal(dom.os.machine, want);
    }
    assert.equal(
      resolveMachineType({
        image: props.hw_machine_type,
        arch: props.hw_architecture ?? 'x86_64',
        configured: machineTypes,
      }).machine,
      want,
    );
  }
  for (const m of ['q35', 'pc-q35-7.2', 'pc-q35-rhel9.4.0']) assert.ok(isQ35(m), m);
  for (const m of ['pc', 'pc-i440fx-7.2', 'virt', 'my-q35-lookalike']) assert.ok(!isQ35(m), m);
});

test('oslo booleans: one reading of every word', () => {
  for (const w of ['1', 't', 'True', 'on', 'Y', ' yes ']) assert.equal(osloBool(w), true, w);
  for (const w of ['0', 'f', 'FALSE', 'off', 'n', 'no']) assert.equal(osloBool(w), false, w);
  for (const w of ['', 'maybe', 'ja', '2']) assert.equal(osloBool(w), undefined, w);
  assert.equal(isOsloTrue(undefined), false);
  assert.equal(isOsloTrue('maybe'), false);
});
