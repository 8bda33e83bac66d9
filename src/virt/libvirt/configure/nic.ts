// Network: one virtio NIC per port of Kestrel's networking (a tap, named after the port, on
// the network's bridge, with the port's MAC), or a libvirt network when the request names one.
// The vhost backend only when /dev/vhost-net exists (the guide's VHostNet tweak).
import type { Domain } from '../domain/types.js';
import type { BuildContext, Configurator } from './context.js';

export const nicConfigurator: Configurator = {
  name: 'nic',
  configure(ctx: BuildContext, dom: Domain): void {
    const driver = ctx.host.hasVhostNet ? 'vhost' : 'qemu';
    for (const nic of ctx.spec.nics ?? []) {
      dom.devices.interfaces.push({
        type: 'bridge',
        bridge: nic.bridge,
        targetDev: nic.tap,
        mac: nic.mac,
        model: 'virtio',
        driver,
      });
    }
    const net = ctx.spec.network;
    if (net.kind === 'none') return;
    dom.devices.interfaces.push({
      type: 'network',
      network: net.name,
      model: 'virtio',
      driver,
    });
  },
};
