// The USB controller: libvirt gives every x86 guest one by default (piix3-uhci on pc, qemu-xhci
// on q35) even when nothing sits on it, and the guest firmware and kernel then spend boot time
// probing it. Nova disables it in the same way (<controller type='usb' model='none'/>) unless a
// device needs USB. So: no USB device in the domain → the controller is explicitly 'none'; a
// USB device (a disk on bus usb; later a USB tablet) → libvirt's default controller stays.
// Runs last, after every configurator that may add a device.
import type { Domain } from '../domain/types.js';
import type { Configurator } from './context.js';

/** Whether any device of the domain sits on the USB bus. */
export function hasUsbDevice(dom: Domain): boolean {
  return dom.devices.disks.some((d) => d.target.bus === 'usb');
}

export const usbConfigurator: Configurator = {
  name: 'usb',
  configure(_ctx, dom: Domain): void {
    if (dom.devices.controllers.some((c) => c.type === 'usb')) return; // someone chose one already
    if (hasUsbDevice(dom)) return; // libvirt adds its default controller for the device
    dom.devices.controllers.push({ type: 'usb', index: 0, model: 'none' });
  },
};
