// The guest ends of the remote consoles: where a running guest's VNC display listens (read from
// its live definition: libvirt names the UNIX socket, or picks the TCP port, at start) and its
// serial console through libvirt's console stream (virDomainOpenConsole on the pty).
import { Duplex } from 'node:stream';
import { ConsoleFlags, DomainState, isLibvirtError, type DuplexStream } from '../../libvirt/index.js';
import type { DisplayEndpoint } from '../driver.js';
import { VirtError } from '../errors.js';
import type { DriverContext } from './driver-context.js';

function notRunning(uuid: string, what: string): VirtError {
  return new VirtError('invalid-state', `instance ${uuid} is not running, so it has no ${what}`, {
    fix: 'start the server (openstack server start), then ask for the console again',
  });
}

export function vncEndpoint(ctx: DriverContext, uuid: string): Promise<DisplayEndpoint> {
  return ctx.withDomain(uuid, 'find the VNC display', async (dom) => {
    if ((await ctx.state(dom)) !== DomainState.RUNNING) throw notRunning(uuid, 'display');
    const g = (await ctx.definition(dom)).devices.graphics.find((d) => d.type === 'vnc');
    if (g?.listen.type === 'socket' && g.listen.socket) return { kind: 'unix', path: g.listen.socket };
    if (g?.listen.type === 'address' && g.listen.port)
      return { kind: 'tcp', host: g.listen.address, port: g.listen.port };
    throw new VirtError('console-unavailable', `instance ${uuid} has no VNC display`, {
      fix: 'it was created while [vnc] enabled was false; enable it and create the server again',
    });
  });
}

export function openSerialConsole(ctx: DriverContext, uuid: string): Promise<Duplex> {
  return ctx.withDomain(uuid, 'open the serial console', async (dom) => {
    if ((await ctx.state(dom)) !== DomainState.RUNNING) throw notRunning(uuid, 'serial console');
    try {
      // FORCE: the proxy is the console's one owner; a stale stream of ours must not lock it out.
      return consoleDuplex(await ctx.lv.domains.openConsole(dom, null, ConsoleFlags.FORCE));
    } catch (e) {
      if (isLibvirtError(e) && /not using a PTY|cannot find character device/i.test(e.libvirtMessage)) {
        throw new VirtError('console-unavailable', `instance ${uuid} has no serial console to attach to`, {
          fix: 'its serial port writes to a file only (created by an older Kestrel); create the server again',
          cause: e,
        });
      }
      throw e;
    }
  });
}

/** A Node Duplex over a libvirt console stream: reading gives the guest's output, writing types. */
export function consoleDuplex(stream: DuplexStream): Duplex {
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      stream.write(chunk).then(
        () => cb(),
        (e: Error) => cb(e),
      );
    },
    final(cb) {
      void stream.close().then(() => cb());
    },
    destroy(err, cb) {
      void stream.close().then(() => cb(err));
    },
  });
  void (async () => {
    try {
      // A console is a trickle: the stream's own high-water mark bounds what is buffered.
      for await (const chunk of stream.read()) d.push(chunk);
      d.push(null);
    } catch (e) {
      d.destroy(e as Error);
    }
  })();
  return d;
}
