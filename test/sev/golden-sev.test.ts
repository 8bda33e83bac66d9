// SEV guests' domain XML, built by the real configurators against a recorded SEV host (Milan
// domain capabilities in test/fixtures/sev) and compared with golden files in
// test/fixtures/domains/sev-*.xml (UPDATE_GOLDEN=1 rewrites them), plus every refusal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIGURATORS, buildDomain, type BuildContext } from '../../src/virt/libvirt/configure/index.js';
import { sevConfigurator } from '../../src/virt/libvirt/configure/sev.js';
import { renderDomain } from '../../src/virt/libvirt/domain/render.js';
import { parseDomain } from '../../src/virt/libvirt/domain/parse.js';
import { SevHostCapabilities } from '../../src/host/sev.js';
import { FIXTURES, basePolicy, context, fixtureHost } from '../virt/fixtures.js';
import { SEV_CONFIGURATORS, SEV_FIXTURES, sevHost, sevSpec } from './fixtures.js';

const UEFI_Q35 = { hw_mem_encryption: 'true', hw_firmware_type: 'uefi', hw_machine_type: 'q35' };

const cases: Record<string, () => BuildContext> = {
  'sev-virtio': () => context(sevSpec(UEFI_Q35), basePolicy({ virtType: 'kvm' }), sevHost()),
  // SEV guests keep their consoles: the VNC display and the serial pty need no guest memory access.
  'sev-vnc': () =>
    context(sevSpec(UEFI_Q35), basePolicy({ virtType: 'kvm', graphics: { listen: 'unix' } }), sevHost()),
  // Flavor asks; machine type from [libvirt] hw_machine_type; the agent's virtio-serial gets iommu.
  'sev-guest-agent': () =>
    context(
      sevSpec({ hw_firmware_type: 'uefi', hw_qemu_guest_agent: 'yes' }, { 'hw:mem_encryption': 'yes' }),
      basePolicy({ virtType: 'kvm', machineTypes: { x86_64: 'q35' } }),
      sevHost(),
    ),
  'sev-scsi-virtio-scsi': () =>
    context(
      sevSpec({ ...UEFI_Q35, hw_disk_bus: 'scsi', hw_scsi_model: 'virtio-scsi' }),
      basePolicy({ virtType: 'kvm' }),
      sevHost(),
    ),
  'sev-sata': () =>
    context(sevSpec({ ...UEFI_Q35, hw_disk_bus: 'sata' }), basePolicy({ virtType: 'kvm' }), sevHost()),
};

test('the driver runs the SEV configurator after machine, firmware, disks, agent and nic (only usb, which adds no device, follows)', () => {
  const names = CONFIGURATORS.map((c) => c.name);
  const sev = CONFIGURATORS.indexOf(sevConfigurator);
  for (const before of ['machine', 'firmware', 'disks', 'agent', 'nic']) {
    assert.ok(names.indexOf(before) >= 0 && names.indexOf(before) < sev, `${before} runs before sev`);
  }
  assert.deepEqual(names.slice(sev + 1), ['usb']);
});

for (const [name, make] of Object.entries(cases)) {
  test(`golden SEV domain XML: ${name}`, async () => {
    const xml = renderDomain(await buildDomain(make(), SEV_CONFIGURATORS));
    const file = join(FIXTURES, `${name}.xml`);
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, xml);
    assert.ok(existsSync(file), `missing golden file ${file}; run with UPDATE_GOLDEN=1`);
    assert.equal(xml, readFileSync(file, 'utf8'), `${name}: output differs from ${file} (UPDATE_GOLDEN=1)`);
    assert.equal(renderDomain(parseDomain(xml)), xml, `${name}: render(parse(xml)) differs`);
  });
}

test('SEV domain: launchSecurity from the domain capabilities, locked memory, iommu on every virtio device', async () => {
  const dom = await buildDomain(cases['sev-guest-agent'](), SEV_CONFIGURATORS);
  assert.deepEqual(dom.launchSecurity, { type: 'sev', policy: '0x0033', cbitpos: 51, reducedPhysBits: 1 });
  assert.deepEqual(dom.memoryBacking, { locked: true });
  assert.equal(dom.os.machine, 'q35');
  assert.match(dom.os.loader!.path, /OVMF/);
  assert.equal(dom.devices.disks[0].driver.iommu, true);
  assert.equal(dom.devices.interfaces[0].iommu, true);
  assert.equal(dom.devices.memballoon?.iommu, true);
  assert.ok(dom.devices.rngs.every((r) => r.iommu));
  const serial = dom.devices.controllers.find((c) => c.type === 'virtio-serial');
  assert.equal(
    serial?.iommu,
    true,
    'explicit virtio-serial controller for the agent, with iommu (bug 1845986)',
  );
  // A guest without encryption gets none of it.
  const plain = await buildDomain(
    context(sevSpec({ hw_firmware_type: 'uefi', hw_machine_type: 'q35' }), basePolicy(), sevHost()),
    SEV_CONFIGURATORS,
  );
  assert.equal(plain.launchSecurity, undefined);
  assert.equal(plain.memoryBacking, undefined);
  assert.equal(plain.devices.disks[0].driver.iommu, undefined);
});

test('SEV domain: Naples host (cbitpos 47) gives its own values', async () => {
  const caps = new SevHostCapabilities(async () =>
    readFileSync(join(SEV_FIXTURES, 'domcaps-epyc-naples-libvirt7-q35.xml'), 'utf8'),
  );
  const host = fixtureHost({ sevCapabilities: (a, m) => caps.forMachine(a, m) });
  const dom = await buildDomain(context(sevSpec(UEFI_Q35), basePolicy(), host), SEV_CONFIGURATORS);
  assert.equal(dom.launchSecurity?.cbitpos, 47);
});

const refusals: [string, () => BuildContext, RegExp][] = [
  [
    'machine type pc',
    () => context(sevSpec({ ...UEFI_Q35, hw_machine_type: 'pc' }), basePolicy(), sevHost()),
    /needs the q35 machine type, but image property hw_machine_type=pc /,
  ],
  [
    'default machine type (no config)',
    () => context(sevSpec({ hw_mem_encryption: 'on', hw_firmware_type: 'uefi' }), basePolicy(), sevHost()),
    /q35/,
  ],
  [
    'BIOS firmware',
    () => context(sevSpec({ hw_mem_encryption: '1', hw_machine_type: 'q35' }), basePolicy(), sevHost()),
    /doesn't have 'hw_firmware_type' property set to 'uefi' \(it is unset, meaning bios\)/,
  ],
  [
    'IDE boot disk',
    () => context(sevSpec({ ...UEFI_Q35, hw_disk_bus: 'ide' }), basePolicy(), sevHost()),
    /IDE controller|ide/,
  ],
  [
    'scsi without virtio-scsi',
    () => context(sevSpec({ ...UEFI_Q35, hw_disk_bus: 'scsi' }), basePolicy(), sevHost()),
    /virtio-scsi/,
  ],
  [
    'PCI passthrough',
    () => context(sevSpec(UEFI_Q35, { 'pci_passthrough:alias': 'a1:1' }), basePolicy(), sevHost()),
    /PCI passthrough/,
  ],
  [
    'flavor and image disagree',
    () => context(sevSpec(UEFI_Q35, { 'hw:mem_encryption': 'false' }), basePolicy(), sevHost()),
    /hw:mem_encryption extra spec explicitly set to false, conflicting with image/,
  ],
  [
    'host without SEV (no <sev> in domcaps)',
    () => context(sevSpec(UEFI_Q35), basePolicy(), sevHost('domcaps-no-sev')),
    /<sev> feature/,
  ],
  ['host without the seam', () => context(sevSpec(UEFI_Q35), basePolicy(), fixtureHost()), /<sev> feature/],
];

for (const [name, make, re] of refusals) {
  test(`SEV domain refused: ${name}`, async () => {
    await assert.rejects(buildDomain(make(), SEV_CONFIGURATORS), (e: Error) => {
      assert.match(e.message, re);
      return true;
    });
  });
}
