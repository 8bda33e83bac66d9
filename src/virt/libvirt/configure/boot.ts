// Boot: direct kernel boot when the image has a kernel (and ramdisk), with the image's
// os_command_line (default "console=ttyS0" so the serial log shows the boot); else the disk.
import type { Domain } from '../domain/types.js';
import { imageProp, type BuildContext, type Configurator } from './context.js';

export const DEFAULT_KERNEL_CMDLINE = 'console=ttyS0';

export const bootConfigurator: Configurator = {
  name: 'boot',
  configure(ctx: BuildContext, dom: Domain): void {
    const { kernelPath, initrdPath } = ctx.spec;
    if (kernelPath) {
      dom.os.kernel = kernelPath;
      if (initrdPath) dom.os.initrd = initrdPath;
      dom.os.cmdline = imageProp(ctx, 'os_command_line') ?? DEFAULT_KERNEL_CMDLINE;
      return;
    }
    dom.os.bootDevices = ['hd'];
  },
};
