// Name, uuid, Kestrel metadata tag, SMBIOS system identity, memory, vCPUs, domain type and
// emulator.
import type { Domain } from '../domain/types.js';
import { guestArch, type BuildContext, type Configurator } from './context.js';

export const identityConfigurator: Configurator = {
  name: 'identity',
  configure(ctx: BuildContext, dom: Domain): void {
    const { spec } = ctx;
    dom.name = ctx.domainName;
    dom.uuid = spec.uuid;
    // Emulating a foreign architecture cannot be hardware-accelerated (Nova downgrades too).
    dom.type = guestArch(ctx) === ctx.host.arch ? ctx.policy.virtType : 'qemu';
    dom.os.arch = guestArch(ctx);
    dom.metadata = {
      uuid: spec.uuid,
      displayName: spec.displayName,
      projectId: spec.projectId,
      flavor: {
        id: spec.flavor.id,
        name: spec.flavor.name,
        vcpus: spec.flavor.vcpus,
        memoryMb: spec.flavor.memoryMb,
        rootGb: spec.flavor.rootGb,
      },
      imageId: spec.image.id,
      createdAt: ctx.createdAt,
      nestedVirt: false,
    };
    // Nova's SMBIOS identity: cloud-init's OpenStack datasource is tried only when the DMI
    // product name says "OpenStack Nova"; serial and uuid are the instance's (sysinfo_serial=unique).
    dom.sysinfo = {
      manufacturer: 'OpenStack Foundation',
      product: 'OpenStack Nova',
      serial: spec.uuid,
      uuid: spec.uuid,
      family: 'Virtual Machine',
    };
    dom.os.smbios = 'sysinfo';
    dom.memoryKib = spec.flavor.memoryMb * 1024;
    dom.vcpus = spec.flavor.vcpus;
    dom.devices.emulator = ctx.host.emulator;
    dom.clock = { offset: 'utc' };
    // Power-off and crash end the QEMU process; the power-state sync reports SHUTDOWN/CRASHED.
    dom.onPoweroff = 'destroy';
    dom.onReboot = 'restart';
    dom.onCrash = 'destroy';
  },
};
