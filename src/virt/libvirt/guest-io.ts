// Reading from and talking to a running guest: its info, its serial console log, and commands
// to its QEMU guest agent (with errors that tell a silent agent from a missing one).
import {
  DomainState,
  ShutdownFlags,
  isAgentUnresponsive,
  isLibvirtError,
  isOperationTimeout,
} from '../../libvirt/index.js';
import type { InstanceInfo } from '../driver.js';
import { VirtError } from '../errors.js';
import { powerStateFromDomainState } from '../power-state.js';
import { AGENT_CHANNEL } from './configure/agent.js';
import { consoleLogFile } from './configure/console.js';
import type { DriverContext } from './driver-context.js';
import { tailFile } from './failures.js';

export function consoleOutput(ctx: DriverContext, uuid: string, maxBytes: number): Promise<string> {
  return ctx.withDomain(uuid, 'read console', async (dom) => {
    const path = consoleLogFile(await ctx.definition(dom));
    return path ? tailFile(path, maxBytes) : '';
  });
}

export function info(ctx: DriverContext, uuid: string): Promise<InstanceInfo> {
  return ctx.withDomain(uuid, 'read info', async (dom) => {
    const i = await ctx.lv.domains.getInfo(dom);
    const saved = i.state === DomainState.SHUTOFF ? await ctx.lv.domains.hasManagedSaveImage(dom) : false;
    return {
      uuid,
      state: powerStateFromDomainState(i.state, saved),
      cpuTimeNs: i.cpuTimeNs,
      memoryKb: i.memoryKiB,
      maxMemoryKb: i.maxMemKiB,
      vcpus: i.vcpus,
    };
  });
}

export function agentCommand(
  ctx: DriverContext,
  uuid: string,
  command: string,
  timeoutSeconds: number,
): Promise<string> {
  return ctx.withDomain(uuid, 'guest agent command', async (dom) => {
    const def = await ctx.definition(dom);
    if (!def.devices.channels.some((c) => c.targetName === AGENT_CHANNEL)) {
      throw new VirtError('agent-not-configured', `instance ${uuid} has no guest agent channel`, {
        fix: 'boot it from an image with hw_qemu_guest_agent=yes (and qemu-guest-agent installed in the guest)',
      });
    }
    const timeout = Math.max(1, Math.ceil(timeoutSeconds));
    try {
      // qemu-ga answers nothing to a successful guest-shutdown; libvirt's agent shutdown
      // knows that, a raw command would wait for its timeout.
      if (/"execute"\s*:\s*"guest-shutdown"/.test(command)) {
        await ctx.lv.domains.shutdown(dom, ShutdownFlags.GUEST_AGENT);
        return '';
      }
      return (await ctx.lv.domains.agentCommand(dom, command, timeout)) ?? '';
    } catch (e) {
      if (isOperationTimeout(e) || (isLibvirtError(e) && /timed? ?out/i.test(e.libvirtMessage))) {
        throw new VirtError(
          'agent-timeout',
          `the guest agent of instance ${uuid} did not answer within ${timeout} s`,
          {
            fix: 'check qemu-guest-agent runs in the guest; retry with a longer timeout',
            cause: e,
          },
        );
      }
      if (isAgentUnresponsive(e)) {
        throw new VirtError(
          'agent-not-connected',
          `the guest agent of instance ${uuid} is not connected (${ctx.agentConnected.get(uuid) ? 'it was connected' : 'it has not connected since the guest started'})`,
          { fix: 'wait for the guest to boot and start qemu-guest-agent, then retry', cause: e },
        );
      }
      throw e;
    }
  });
}
