// The 512-byte boot-sector guest of host-lab.md §3, built with Buffer ops: in 16-bit real mode it
// prints a message to COM1 (0x3f8) and halts. Any TCG guest will do for RPC tests; this one boots
// in well under a second.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function bootSector(message = 'GUEST-BOOTED'): Buffer {
  const msgOffset = 23;
  // prettier-ignore
  const code = Buffer.from([
    0xfa, 0xfc, 0x31, 0xc0, 0x8e, 0xd8, // cli; cld; xor ax,ax; mov ds,ax
    0xbe, (0x7c00 + msgOffset) & 0xff, (0x7c00 + msgOffset) >> 8, // mov si,msg
    0xba, 0xf8, 0x03, // mov dx,0x3f8
    0xac, 0x84, 0xc0, 0x74, 0x03, 0xee, 0xeb, 0xf8, // loop: lodsb; test al,al; jz done; out dx,al; jmp loop
    0xf4, 0xeb, 0xfd, // done: hlt; jmp done
  ]);
  if (code.length !== msgOffset)
    throw new Error(`boot sector code is ${code.length} bytes, expected ${msgOffset}`);
  const sector = Buffer.alloc(512);
  code.copy(sector, 0);
  Buffer.from(`${message}\r\n\0`, 'latin1').copy(sector, msgOffset);
  sector[510] = 0x55;
  sector[511] = 0xaa;
  return sector;
}

/** A temp dir libvirt-qemu can traverse (mkdtemp makes 0700). */
export function makeGuestDir(prefix: string): string {
  const dir = mkdtempSync(join('/tmp', `${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

/** Writes this domain's own disk copy (a shared writable image fails QEMU's write lock). */
export function writeDisk(dir: string, name: string): string {
  const path = join(dir, `disk-${name}.img`);
  writeFileSync(path, bootSector());
  return path;
}

export function bootSectorDomainXml(
  name: string,
  disk: string,
  serialLog: string,
  opts: { agentChannel?: boolean } = {},
): string {
  const agent = opts.agentChannel
    ? "<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>"
    : '';
  return `<domain type='qemu'>
  <name>${name}</name>
  <memory unit='MiB'>16</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <on_poweroff>destroy</on_poweroff>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='${disk}'/>
      <target dev='hda' bus='ide'/>
    </disk>
    <serial type='file'><source path='${serialLog}'/><target port='0'/></serial>
    ${agent}
    <memballoon model='none'/>
  </devices>
</domain>`;
}
