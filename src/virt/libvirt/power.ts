// Power operations on an existing guest: off/on, reboot, pause, suspend (managed save) and
// resume, and the refusals for guests that cannot be saved or moved (nested virt, SEV).
import { DomainState, isLibvirtError, type DomainRef } from '../../libvirt/index.js';
import { VirtError } from '../errors.js';
import { nestedConflict } from '../nested.js';
import { sevOperationConflict } from './configure/sev.js';
import type { DriverContext } from './driver-context.js';
import { DEFAULTS } from './options.js';

export function powerOff(ctx: DriverContext, uuid: string, timeoutSeconds: number): Promise<void> {
  return ctx.withDomain(uuid, 'power off', async (dom) => {
    const lv = ctx.lv;
    const s = await ctx.state(dom);
    if (s === DomainState.SHUTOFF) {
      if (await lv.domains.hasManagedSaveImage(dom)) await lv.domains.managedSaveRemove(dom);
      return;
    }
    if (s === DomainState.RUNNING || s === DomainState.BLOCKED) {
      // Clean shutdown first (ACPI or agent, libvirt's choice), then pull the plug.
      try {
        await lv.domains.shutdown(dom);
        if (await ctx.waitForState(dom, [DomainState.SHUTOFF], timeoutSeconds * 1000)) return;
        ctx.log.info({ uuid, timeoutSeconds }, 'guest ignored the shutdown request; forcing power off');
      } catch (e) {
        if (!isLibvirtError(e)) throw e;
      }
    }
    try {
      await lv.domains.destroy(dom);
    } catch (e) {
      if ((await ctx.state(dom)) !== DomainState.SHUTOFF) throw e;
    }
  });
}

export function powerOn(ctx: DriverContext, uuid: string): Promise<void> {
  return ctx.withDomain(uuid, 'power on', async (dom) => {
    if ((await ctx.state(dom)) !== DomainState.SHUTOFF) return;
    await ctx.start(uuid, dom);
  });
}

export function reboot(ctx: DriverContext, uuid: string, kind: 'soft' | 'hard'): Promise<void> {
  return ctx.withDomain(uuid, `${kind} reboot`, async (dom) => {
    const lv = ctx.lv;
    const s = await ctx.state(dom);
    if (kind === 'soft' && s === DomainState.RUNNING) {
      // Nova's soft reboot: ask the guest to shut down, wait, start it again; a guest that
      // ignores the request gets a hard reboot.
      const wait = (ctx.opts.softRebootTimeoutSeconds ?? DEFAULTS.softRebootTimeoutSeconds) * 1000;
      await lv.domains.shutdown(dom);
      if (await ctx.waitForState(dom, [DomainState.SHUTOFF], wait)) {
        await ctx.start(uuid, dom);
        return;
      }
      ctx.log.info({ uuid }, 'soft reboot: guest did not shut down in time; rebooting hard');
    }
    if (s !== DomainState.SHUTOFF || kind === 'soft') {
      if ((await ctx.state(dom)) !== DomainState.SHUTOFF) await lv.domains.destroy(dom);
    }
    if (await lv.domains.hasManagedSaveImage(dom)) await lv.domains.managedSaveRemove(dom);
    await ctx.start(uuid, dom);
  });
}

export function pause(ctx: DriverContext, uuid: string): Promise<void> {
  return ctx.withDomain(uuid, 'pause', async (dom) => {
    if ((await ctx.state(dom)) === DomainState.PAUSED) return;
    await ctx.lv.domains.suspend(dom);
  });
}

export function unpause(ctx: DriverContext, uuid: string): Promise<void> {
  return ctx.withDomain(uuid, 'unpause', async (dom) => {
    if ((await ctx.state(dom)) === DomainState.RUNNING) return;
    await ctx.lv.domains.resume(dom);
  });
}

/** SEV guests can be neither saved nor moved; nested-virt guests only when allowed. */
async function refuseNested(
  ctx: DriverContext,
  uuid: string,
  dom: DomainRef,
  op: 'suspend' | 'live migration',
): Promise<void> {
  const def = await ctx.definition(dom);
  if (def.launchSecurity) throw sevOperationConflict(uuid, op);
  if (ctx.opts.allowNestedSuspend) return;
  if (def.metadata?.nestedVirt) throw nestedConflict(uuid, op);
}

export function suspend(ctx: DriverContext, uuid: string): Promise<void> {
  return ctx.withDomain(uuid, 'suspend', async (dom) => {
    await refuseNested(ctx, uuid, dom, 'suspend');
    const s = await ctx.state(dom);
    if (s !== DomainState.RUNNING && s !== DomainState.PAUSED && s !== DomainState.BLOCKED) {
      throw new VirtError('invalid-state', `cannot suspend instance ${uuid}: it is not running`, {
        fix: 'power the instance on first',
      });
    }
    await ctx.lv.domains.managedSave(dom, 0, 300_000);
  });
}

export function resume(ctx: DriverContext, uuid: string): Promise<void> {
  return ctx.withDomain(uuid, 'resume', async (dom) => {
    if (!(await ctx.lv.domains.hasManagedSaveImage(dom))) {
      throw new VirtError('invalid-state', `cannot resume instance ${uuid}: it is not suspended`, {
        fix: 'use power on for a stopped instance, unpause for a paused one',
      });
    }
    await ctx.start(uuid, dom);
  });
}

export function checkCanLiveMigrate(ctx: DriverContext, uuid: string): Promise<void> {
  return ctx.withDomain(uuid, 'live migration', (dom) => refuseNested(ctx, uuid, dom, 'live migration'));
}
