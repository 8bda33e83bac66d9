// QEMU guest agent: hw_qemu_guest_agent (a flexible boolean) adds the virtio-serial channel
// org.qemu.guest_agent.0. libvirt picks the socket path itself.
import { strictOsloBool } from '../../../rules/boolean.js';
import type { Domain } from '../domain/types.js';
import { imageProp, type BuildContext, type Configurator } from './context.js';

export const AGENT_CHANNEL = 'org.qemu.guest_agent.0';

export function wantsAgent(ctx: BuildContext): boolean {
  return strictOsloBool(imageProp(ctx, 'hw_qemu_guest_agent'), 'hw_qemu_guest_agent') ?? false;
}

export const agentConfigurator: Configurator = {
  name: 'agent',
  configure(ctx: BuildContext, dom: Domain): void {
    if (!wantsAgent(ctx)) return;
    if (!dom.devices.controllers.some((c) => c.type === 'virtio-serial')) {
      dom.devices.controllers.push({ type: 'virtio-serial', index: 0 });
    }
    dom.devices.channels.push({ type: 'unix', targetType: 'virtio', targetName: AGENT_CHANNEL });
  },
};
