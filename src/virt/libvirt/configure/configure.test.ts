// Small element tests for each configurator (the golden files cover whole domains).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildDomain } from './index.js';
import { chooseCustomModel, cpuTopology, extraFlagFeatures } from './cpu.js';
import { flagsForTraits, requiredTraits, traitsForFlag } from './cpu-traits.js';
import { strictOsloBool } from '../../../rules/boolean.js';
import { machineHasIde } from '../../../rules/machine.js';
import { isKestrelError } from '../../../errors/index.js';
import { isVirtError } from '../../errors.js';
import { emptyDomain } from '../domain/types.js';
import { hasUsbDevice, usbConfigurator } from './usb.js';
import {
  basePolicy,
  baseSpec,
  context,
  fixtureHost,
  withExtraSpecs,
  withImageProps,
} from '../../../../test/virt/fixtures.js';

const MODELS = ['Penryn', 'IvyBridge', 'Haswell-noTSX'];

test('extra flags: +/- prefixes become require/disable, lowercased, de-duplicated, sorted', () => {
  assert.deepEqual(extraFlagFeatures(['PCID', '-mpx', '+vmx', 'pcid', ' ']), [
    { policy: 'disable', name: 'mpx' },
    { policy: 'require', name: 'pcid' },
    { policy: 'require', name: 'vmx' },
  ]);
});

test('topology: hw:cpu_* when they multiply to the vCPUs, else one socket per vCPU', () => {
  assert.deepEqual(cpuTopology(4, { 'hw:cpu_sockets': '2', 'hw:cpu_cores': '2', 'hw:cpu_threads': '1' }), {
    sockets: 2,
    cores: 2,
    threads: 1,
  });
  assert.deepEqual(cpuTopology(4, { 'hw:cpu_sockets': '3', 'hw:cpu_cores': '1', 'hw:cpu_threads': '1' }), {
    sockets: 4,
    cores: 1,
    threads: 1,
  });
});

test('required traits: trait and numbered trait groups, only =required, from flavor and image', () => {
  assert.deepEqual(
    requiredTraits(
      {
        'trait:HW_CPU_X86_AVX': 'required',
        'trait1:HW_CPU_X86_SSE41': 'required',
        'trait:HW_CPU_X86_MMX': 'forbidden',
      },
      { 'trait:HW_CPU_X86_VMX': 'required', 'trait:CUSTOM_X': 'Required' },
    ),
    ['HW_CPU_X86_AVX', 'HW_CPU_X86_SSE41', 'HW_CPU_X86_VMX'],
  );
  assert.deepEqual(
    flagsForTraits(['HW_CPU_X86_INTEL_VMX', 'HW_CPU_X86_VMX', 'CUSTOM_FOO', 'HW_CPU_X86_CLMUL']),
    ['pclmuldq', 'vmx'],
  );
  assert.deepEqual(traitsForFlag('svm'), ['HW_CPU_X86_SVM', 'HW_CPU_X86_AMD_SVM']);
});

test('custom mode: the first model covering every required flag; no traits → the first model', async () => {
  const policy = basePolicy({ virtType: 'kvm', cpuMode: 'custom', cpuModels: MODELS });
  assert.equal(await chooseCustomModel(context(baseSpec(), policy)), 'Penryn');
  const avx = withExtraSpecs({ 'trait:HW_CPU_X86_AVX': 'required' });
  assert.equal(await chooseCustomModel(context(avx, policy)), 'IvyBridge');
  const avx2 = withImageProps({ 'trait:HW_CPU_X86_AVX2': 'required' });
  assert.equal(await chooseCustomModel(context(avx2, policy)), 'Haswell-noTSX');
});

test('custom mode: no model fits → an error that says why each model was passed over', async () => {
  const policy = basePolicy({ virtType: 'kvm', cpuMode: 'custom', cpuModels: MODELS });
  const spec = withExtraSpecs({
    'trait:HW_CPU_X86_AVX512F': 'required',
    'trait:HW_CPU_X86_AVX2': 'required',
  });
  await assert.rejects(chooseCustomModel(context(spec, policy)), (e: unknown) => {
    assert.ok(isVirtError(e, 'cpu-no-model-for-traits'));
    assert.match(e.message, /HW_CPU_X86_AVX2, HW_CPU_X86_AVX512F/);
    assert.match(e.details ?? '', /Penryn: lacks avx2, avx512f/);
    assert.match(e.details ?? '', /Haswell-noTSX: lacks avx512f/);
    return true;
  });
});

test('nested virt is recorded when vmx/svm is exposed, and not when an extra flag disables it', async () => {
  const on = await buildDomain(context(baseSpec(), basePolicy({ cpuExtraFlags: ['vmx'] })));
  assert.equal(on.metadata?.nestedVirt, true);
  const host = fixtureHost({ hostCpuFeatures: ['sse', 'svm'] });
  const passthrough = await buildDomain(
    context(baseSpec(), basePolicy({ cpuMode: 'host-passthrough' }), host),
  );
  assert.equal(passthrough.metadata?.nestedVirt, true);
  const off = await buildDomain(
    context(baseSpec(), basePolicy({ cpuMode: 'host-passthrough', cpuExtraFlags: ['-svm'] }), host),
  );
  assert.equal(off.metadata?.nestedVirt, false);
  const plain = await buildDomain(context());
  assert.equal(plain.metadata?.nestedVirt, false);
});

test('machine type: image first, then [libvirt] hw_machine_type, then pc; unknown ones refused', async () => {
  const fromConfig = await buildDomain(context(baseSpec(), basePolicy({ machineTypes: { x86_64: 'q35' } })));
  assert.equal(fromConfig.os.machine, 'q35');
  const fromImage = await buildDomain(
    context(
      withImageProps({ hw_machine_type: 'pc-i440fx-7.2' }),
      basePolicy({ machineTypes: { x86_64: 'q35' } }),
    ),
  );
  assert.equal(fromImage.os.machine, 'pc-i440fx-7.2');
  assert.equal((await buildDomain(context())).os.machine, 'pc');
  await assert.rejects(
    buildDomain(context(withImageProps({ hw_machine_type: 'virt-9.9' }))),
    (e: unknown) => {
      assert.ok(isVirtError(e, 'invalid-machine-type'));
      assert.match(e.fix, /pc-q35-7\.2/);
      return true;
    },
  );
  assert.ok(machineHasIde('pc-i440fx-7.2') && !machineHasIde('pc-q35-7.2'));
});

test('disk bus: ide refused on q35 with the fix; unknown bus and scsi model refused', async () => {
  await assert.rejects(
    buildDomain(context(withImageProps({ hw_disk_bus: 'ide', hw_machine_type: 'q35' }))),
    (e: unknown) => {
      assert.ok(isKestrelError(e, 'unsupported-config'));
      assert.equal(e.status, 400);
      assert.match(e.message, /IDE controller/);
      assert.match(e.fix, /sata/);
      return true;
    },
  );
  await assert.rejects(buildDomain(context(withImageProps({ hw_disk_bus: 'floppy' }))), /hw_disk_bus=floppy/);
  await assert.rejects(
    buildDomain(context(withImageProps({ hw_disk_bus: 'scsi', hw_scsi_model: 'lsilogic' }))),
    /hw_scsi_model=lsilogic/,
  );
});

test('guest agent: flexible booleans; nonsense refused', async () => {
  assert.equal(strictOsloBool('Yes', 'x'), true);
  assert.equal(strictOsloBool('off', 'x'), false);
  assert.equal(strictOsloBool(undefined, 'x'), undefined);
  for (const v of ['yes', 'true', '1', 'on']) {
    const d = await buildDomain(context(withImageProps({ hw_qemu_guest_agent: v })));
    assert.equal(d.devices.channels[0]?.targetName, 'org.qemu.guest_agent.0', v);
  }
  const no = await buildDomain(context(withImageProps({ hw_qemu_guest_agent: 'no' })));
  assert.equal(no.devices.channels.length, 0);
  await assert.rejects(
    buildDomain(context(withImageProps({ hw_qemu_guest_agent: 'maybe' }))),
    (e: unknown) =>
      isKestrelError(e, 'unsupported-config') && /hw_qemu_guest_agent=maybe is not a boolean/.test(e.message),
  );
});

test('firmware: UEFI without any matching OVMF is refused; secure boot needs UEFI', async () => {
  const noFw = fixtureHost({ firmware: [] });
  await assert.rejects(
    buildDomain(context(withImageProps({ hw_firmware_type: 'uefi' }), basePolicy(), noFw)),
    (e: unknown) => isVirtError(e, 'firmware-not-found') && /apt-get install ovmf/.test(e.fix),
  );
  await assert.rejects(buildDomain(context(withImageProps({ os_secure_boot: 'required' }))), /Secure Boot/);
  const uefi = await buildDomain(
    context(withImageProps({ hw_firmware_type: 'uefi', hw_machine_type: 'q35' })),
  );
  assert.equal(uefi.os.loader?.path, '/usr/share/OVMF/OVMF_CODE_4M.fd');
  assert.match(uefi.os.nvram?.path ?? '', /instance-[0-9a-f-]+_VARS\.fd$/);
});

test('network: none by default; a libvirt network gets virtio, vhost only with /dev/vhost-net', async () => {
  assert.equal((await buildDomain(context())).devices.interfaces.length, 0);
  const spec = baseSpec({ network: { kind: 'libvirt-network', name: 'default' } });
  const plain = await buildDomain(context(spec));
  assert.deepEqual(plain.devices.interfaces, [
    { type: 'network', network: 'default', model: 'virtio', driver: 'qemu' },
  ]);
  const vhost = await buildDomain(context(spec, basePolicy(), fixtureHost({ hasVhostNet: true })));
  assert.equal(vhost.devices.interfaces[0].driver, 'vhost');
});

test("network: each port is a virtio tap on its network's bridge with the port's MAC", async () => {
  const nic = { bridge: 'kbr0a1b2c3d4e5f', tap: 'tap11111111-22', mac: 'fa:16:3e:00:00:01' };
  const plain = await buildDomain(context(baseSpec({ nics: [nic] })));
  assert.deepEqual(plain.devices.interfaces, [
    { type: 'bridge', bridge: nic.bridge, targetDev: nic.tap, mac: nic.mac, model: 'virtio', driver: 'qemu' },
  ]);
  const vhost = await buildDomain(
    context(baseSpec({ nics: [nic] }), basePolicy(), fixtureHost({ hasVhostNet: true })),
  );
  assert.equal(vhost.devices.interfaces[0].driver, 'vhost');
});

test('foreign guest arch is emulated (type qemu) even with virt_type kvm', async () => {
  const d = await buildDomain(
    context(
      withImageProps({ hw_architecture: 'aarch64', hw_machine_type: 'virt' }),
      basePolicy({ virtType: 'kvm' }),
      fixtureHost({ machineTypes: {} }),
    ),
  );
  assert.equal(d.type, 'qemu');
  assert.equal(d.os.arch, 'aarch64');
});

test('usb: no USB device → the controller libvirt would add by default is disabled (model none)', async () => {
  const dom = await buildDomain(context(baseSpec(), basePolicy()));
  assert.deepEqual(
    dom.devices.controllers.filter((c) => c.type === 'usb'),
    [{ type: 'usb', index: 0, model: 'none' }],
  );
});

test("usb: a device on the USB bus keeps libvirt's default controller", async () => {
  const dom = emptyDomain('d', 'u', 'qemu');
  dom.devices.disks.push({
    type: 'file',
    file: '/x',
    device: 'disk',
    driver: { name: 'qemu', type: 'raw' },
    target: { dev: 'sda', bus: 'usb' },
  });
  assert.equal(hasUsbDevice(dom), true);
  await usbConfigurator.configure(context(baseSpec(), basePolicy()), dom);
  assert.deepEqual(dom.devices.controllers, []);
});
