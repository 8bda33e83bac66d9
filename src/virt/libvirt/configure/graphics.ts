// The remote display: one VNC server per guest, reachable only by the console proxy. By default
// ([vnc] server_listen = unix) QEMU listens on a UNIX socket libvirt creates in the domain's
// private directory (root only), so there is no TCP port at all; with an address it listens
// on that address with a port libvirt picks (5900+), for a proxy on another host that reaches
// it through [vnc] server_proxyclient_address. No VNC password: the socket's permissions or
// the address are the boundary, the proxy's one-time tokens are the user's key. A VGA adapter
// gives the guest a screen (text mode for a console, a framebuffer for a desktop).
import type { Domain } from '../domain/types.js';
import type { BuildContext, Configurator } from './context.js';

export const graphicsConfigurator: Configurator = {
  name: 'graphics',
  configure(ctx: BuildContext, dom: Domain): void {
    const g = ctx.policy.graphics;
    if (!g) return;
    dom.devices.graphics.push({
      type: 'vnc',
      listen: g.listen === 'unix' ? { type: 'socket' } : { type: 'address', address: g.listen },
    });
    dom.devices.videos.push({ model: 'vga' });
  },
};
