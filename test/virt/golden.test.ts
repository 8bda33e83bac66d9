// Golden domain XML: one file per feature combination the KVM guide describes. The test
// rebuilds each domain through the configurators and compares byte for byte;
// UPDATE_GOLDEN=1 rewrites the files (review the diff before committing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildDomain } from '../../src/virt/libvirt/configure/index.js';
import { renderDomain } from '../../src/virt/libvirt/domain/render.js';
import { parseDomain } from '../../src/virt/libvirt/domain/parse.js';
import type { BuildContext } from '../../src/virt/libvirt/configure/index.js';
import type { InstanceSpec } from '../../src/virt/driver.js';
import { parseHostCells } from '../../src/virt/libvirt/numa-caps.js';
import { applyCpuSets } from '../../src/virt/numa/host.js';
import { fitGuest, usageOf } from '../../src/virt/numa/fit.js';
import { guestNumaRequest } from '../../src/virt/numa/request.js';
import {
  FIXTURES,
  UUID,
  basePolicy,
  baseSpec,
  context,
  fixtureHost,
  withExtraSpecs,
  withImageProps,
} from './fixtures.js';

const TWO_SOCKET = applyCpuSets(
  parseHostCells(readFileSync(join(FIXTURES, '../numa/two-socket-hugepages.xml'), 'utf8')),
  { dedicatedSet: '2-7,10-15', sharedSet: '0-1,8-9' },
);

/** A spec whose NUMA placement is computed on the recorded two-socket host, as the scheduler would. */
function placedOnTwoSocket(
  extraSpecs: Record<string, string>,
  vcpus: number,
  memoryMb: number,
): InstanceSpec {
  const s = baseSpec();
  const flavor = { ...s.flavor, vcpus, memoryMb, extraSpecs };
  const req = guestNumaRequest(flavor, s.image.properties);
  if (!req) throw new Error('the flavor asks for no NUMA topology');
  const fit = fitGuest(req, TWO_SOCKET, usageOf([]));
  if (!fit.ok) throw new Error(fit.reason);
  return { ...s, flavor, numaPlacement: fit.placement };
}

const CUSTOM_MODELS = ['Penryn', 'IvyBridge', 'Haswell-noTSX', 'Broadwell-noTSX', 'Icelake-Server-noTSX'];

const cases: Record<string, () => BuildContext> = {
  'qemu-default': () => context(),
  'kvm-host-model': () => context(baseSpec(), basePolicy({ virtType: 'kvm', cpuMode: 'host-model' })),
  'kvm-host-passthrough': () =>
    context(baseSpec(), basePolicy({ virtType: 'kvm', cpuMode: 'host-passthrough' })),
  'kvm-cpu-none': () => context(baseSpec(), basePolicy({ virtType: 'kvm', cpuMode: 'none' })),
  'kvm-custom-first-model': () =>
    context(baseSpec(), basePolicy({ virtType: 'kvm', cpuMode: 'custom', cpuModels: CUSTOM_MODELS })),
  'kvm-custom-by-flavor-traits': () =>
    context(
      withExtraSpecs({ 'trait:HW_CPU_X86_AVX': 'required', 'trait:HW_CPU_X86_AVX2': 'required' }),
      basePolicy({ virtType: 'kvm', cpuMode: 'custom', cpuModels: CUSTOM_MODELS }),
    ),
  'kvm-custom-by-image-traits': () =>
    context(
      withImageProps({ 'trait:HW_CPU_X86_AVX512VBMI2': 'required' }),
      basePolicy({ virtType: 'kvm', cpuMode: 'custom', cpuModels: CUSTOM_MODELS }),
    ),
  'kvm-custom-extra-flags': () =>
    context(
      baseSpec(),
      basePolicy({
        virtType: 'kvm',
        cpuMode: 'custom',
        cpuModels: ['IvyBridge'],
        cpuExtraFlags: ['pcid', '-MPX', '+ssbd'],
      }),
    ),
  'kvm-nested-vmx-host-model': () =>
    context(baseSpec(), basePolicy({ virtType: 'kvm', cpuMode: 'host-model', cpuExtraFlags: ['vmx'] })),
  'kvm-nested-vmx-custom': () =>
    context(
      baseSpec(),
      basePolicy({
        virtType: 'kvm',
        cpuMode: 'custom',
        cpuModels: ['IvyBridge'],
        cpuExtraFlags: ['vmx', 'pcid'],
      }),
    ),
  'kvm-topology-4-vcpus': () =>
    context(
      withExtraSpecs({ 'hw:cpu_sockets': '1', 'hw:cpu_cores': '2', 'hw:cpu_threads': '2' }, 4),
      basePolicy({ virtType: 'kvm' }),
    ),
  'q35-uefi': () => context(withImageProps({ hw_machine_type: 'q35', hw_firmware_type: 'uefi' })),
  'q35-uefi-secure-boot': () =>
    context(withImageProps({ hw_machine_type: 'q35', hw_firmware_type: 'uefi', os_secure_boot: 'required' })),
  'machine-from-config-q35': () => context(baseSpec(), basePolicy({ machineTypes: { x86_64: 'q35' } })),
  'guest-agent': () => context(withImageProps({ hw_qemu_guest_agent: 'yes' })),
  'disk-virtio': () => context(withImageProps({ hw_disk_bus: 'virtio' })),
  'disk-scsi-virtio-scsi': () =>
    context(withImageProps({ hw_disk_bus: 'scsi', hw_scsi_model: 'virtio-scsi' })),
  'disk-sata': () => context(withImageProps({ hw_disk_bus: 'sata', hw_machine_type: 'q35' })),
  'disk-ide-i440fx': () => context(withImageProps({ hw_disk_bus: 'ide', hw_machine_type: 'pc' })),
  'disk-raw-file': () =>
    context(baseSpec({ rootDisk: { kind: 'file', path: `/srv/${UUID}.raw`, format: 'raw' } })),
  'disk-block-lvm': () =>
    context(baseSpec({ rootDisk: { kind: 'block', path: `/dev/kestrel/${UUID}_disk` } })),
  'disk-rbd': () =>
    context(
      baseSpec({
        rootDisk: {
          kind: 'rbd',
          pool: 'vms',
          image: `${UUID}_disk`,
          monitors: [{ host: '127.0.0.1', port: 6789 }],
          user: 'kestrel',
          secretUuid: '11111111-2222-4333-8444-555555555555',
        },
      }),
    ),
  'kernel-boot': () =>
    context(
      withImageProps(
        { os_command_line: 'console=ttyS0 quiet panic=-1' },
        { kernelPath: '/var/lib/kestrel/kernels/vmlinuz', initrdPath: '/var/lib/kestrel/kernels/initrd.gz' },
      ),
    ),
  'kernel-boot-default-cmdline': () => context(baseSpec({ kernelPath: '/var/lib/kestrel/kernels/vmlinuz' })),
  'config-drive-iso-i440fx': () =>
    context(
      baseSpec({
        configDrive: { path: `/var/lib/kestrel/instances/${UUID}/disk.config`, format: 'iso9660' },
      }),
    ),
  'config-drive-iso-q35-sata-root': () =>
    context(
      withImageProps(
        { hw_machine_type: 'q35', hw_disk_bus: 'sata' },
        { configDrive: { path: `/var/lib/kestrel/instances/${UUID}/disk.config`, format: 'iso9660' } },
      ),
    ),
  'config-drive-vfat-rbd-root': () =>
    context(
      baseSpec({
        rootDisk: {
          kind: 'rbd',
          pool: 'vms',
          image: `${UUID}_disk`,
          monitors: [{ host: '127.0.0.1', port: 6789 }],
          user: 'kestrel',
        },
        configDrive: { path: `/var/lib/kestrel/instances/${UUID}/disk.config`, format: 'vfat' },
      }),
    ),
  'numa-two-cells-unplaced': () => context(withExtraSpecs({ 'hw:numa_nodes': '2' }, 4)),
  'numa-pinned-hugepages': () =>
    context(
      placedOnTwoSocket(
        { 'hw:numa_nodes': '2', 'hw:cpu_policy': 'dedicated', 'hw:mem_page_size': 'large' },
        4,
        2048,
      ),
    ),
  'numa-mixed-isolate': () =>
    context(
      placedOnTwoSocket(
        { 'hw:cpu_policy': 'mixed', 'hw:cpu_dedicated_mask': '^0', 'hw:cpu_thread_policy': 'isolate' },
        3,
        1024,
      ),
    ),
  'numa-shared-2mb-pages': () => context(placedOnTwoSocket({ 'hw:mem_page_size': '2MB' }, 2, 1024)),
  'vnc-unix-socket': () => context(baseSpec(), basePolicy({ graphics: { listen: 'unix' } })),
  'vnc-address': () => context(baseSpec(), basePolicy({ graphics: { listen: '127.0.0.1' } })),
  'network-libvirt-vhost': () =>
    context(
      baseSpec({ network: { kind: 'libvirt-network', name: 'default' } }),
      basePolicy(),
      fixtureHost({ hasVhostNet: true }),
    ),
  'network-bridge-ports': () =>
    context(
      baseSpec({
        nics: [
          { bridge: 'kbr0a1b2c3d4e5f', tap: 'tap11111111-22', mac: 'fa:16:3e:00:00:01' },
          { bridge: 'kbr9f8e7d6c5b4a', tap: 'tap33333333-44', mac: 'fa:16:3e:00:00:02' },
        ],
      }),
    ),
};

for (const [name, make] of Object.entries(cases)) {
  test(`golden domain XML: ${name}`, async () => {
    const xml = renderDomain(await buildDomain(make()));
    const file = join(FIXTURES, `${name}.xml`);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(file)) {
      if (process.env.UPDATE_GOLDEN !== '1')
        assert.fail(`missing golden file ${file}; run with UPDATE_GOLDEN=1`);
      writeFileSync(file, xml);
      return;
    }
    assert.equal(
      xml,
      readFileSync(file, 'utf8'),
      `${name}: output differs from ${file} (UPDATE_GOLDEN=1 to rewrite)`,
    );
    // The parser reads back what the renderer wrote.
    assert.equal(renderDomain(parseDomain(xml)), xml, `${name}: render(parse(xml)) differs`);
  });
}
