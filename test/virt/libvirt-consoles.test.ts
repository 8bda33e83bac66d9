// The guest ends of the remote consoles on a real TCG guest (the busybox shell initramfs): the
// VNC display on a UNIX socket libvirt names (RFB greeting read from it), the serial console
// through libvirt's console stream (a command typed into the shell, its output read back)
// while the console log keeps filling, and the stream's end when the guest is destroyed.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createConnection } from 'node:net';
import { readFile } from 'node:fs/promises';
import type { Duplex } from 'node:stream';
import { isVirtError } from '../../src/virt/errors.js';
import { LibvirtDriver } from '../../src/virt/libvirt/driver.js';
import { realEnv, testImages, type RealEnv } from './libvirt-harness.js';

/** Collects a Duplex's output; resolves when `pattern` appears (or rejects after timeoutMs). */
function reader(d: Duplex): { text: () => string; waitFor: (p: RegExp, ms: number) => Promise<string> } {
  let buf = '';
  d.on('data', (c: Buffer) => (buf += c.toString('utf8')));
  return {
    text: () => buf,
    waitFor: (p, ms) =>
      new Promise((resolve, reject) => {
        const end = Date.now() + ms;
        const tick = () => {
          if (p.test(buf)) return resolve(buf);
          if (Date.now() > end)
            return reject(new Error(`no ${p} within ${ms} ms; got: ${JSON.stringify(buf.slice(-500))}`));
          setTimeout(tick, 100);
        };
        tick();
      }),
  };
}

describe('libvirt driver: consoles of a real guest (TCG)', () => {
  let env: RealEnv;
  let driver: LibvirtDriver;

  before(async () => {
    env = await realEnv('console');
    driver = new LibvirtDriver({
      client: env.client,
      virtType: 'qemu',
      namePrefix: env.prefix,
      cpuMode: 'none',
      vnc: { enabled: true, listen: 'unix' },
    });
    await driver.init();
  });
  after(async () => {
    await driver?.close();
    await env?.cleanup();
  });

  test('VNC on a UNIX socket, serial console both ways with the log kept, ends on destroy', async () => {
    const spec = await env.linuxSpec(testImages().initrdShell, {
      os_command_line: 'console=tty0 console=ttyS0 panic=-1',
    });
    await driver.spawn(spec);

    const vnc = await driver.vncEndpoint(spec.uuid);
    assert.equal(vnc.kind, 'unix', 'no TCP exposure: the display is a UNIX socket');
    const greeting = await new Promise<string>((resolve, reject) => {
      const s = createConnection((vnc as { path: string }).path);
      s.once('data', (b) => {
        resolve(b.toString('latin1'));
        s.destroy();
      });
      s.once('error', reject);
    });
    assert.match(greeting, /^RFB 003\.00\d\n$/);

    const serial = await driver.openSerialConsole(spec.uuid);
    const out = reader(serial);
    serial.write('\n');
    await out.waitFor(/# /, 120_000);
    serial.write('echo CONSOLE-$((6*7))\n');
    await out.waitFor(/CONSOLE-42/, 30_000);
    const log = await readFile(spec.consoleLogPath, 'utf8');
    assert.match(log, /LINUX-BOOTED/, 'the console log is still written with a console attached');
    assert.match(log, /CONSOLE-42/);
    assert.match(await driver.consoleOutput(spec.uuid, 64 * 1024), /CONSOLE-42/);

    const ended = new Promise<string>((resolve) => {
      serial.once('end', () => resolve('end'));
      serial.once('close', () => resolve('close'));
      serial.once('error', (e) => resolve(`error: ${e.message}`));
    });
    serial.resume();
    await driver.destroy(spec.uuid);
    const how = await Promise.race([
      ended,
      new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000)),
    ]);
    assert.notEqual(how, 'timeout', 'the console stream ends when the guest goes away');

    await assert.rejects(driver.openSerialConsole(spec.uuid), (e: unknown) =>
      isVirtError(e, 'instance-not-found'),
    );
  });
});
