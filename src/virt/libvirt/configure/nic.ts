// Network: none unless the request names a libvirt network (the default here is none). virtio,
// with the vhost backend when /dev/vhost-net exists (the guide's VHostNet tweak).
import type { Domain } from '../domain/types.js';
import type { BuildContext, Configurator } from './context.js';

export const nicConfigurator: Configurator = {
  name: 'nic',
  configure(ctx: BuildContext, dom: Domain): void {
    const net = ctx.spec.network;
    if (net.kind === 'none') return;
    dom.devices.interfaces.push({
      type: 'network',
      network: net.name,
      model: 'virtio',
      driver: ctx.host.hasVhostNet ? 'vhost' : 'qemu',
    });
  },
};
