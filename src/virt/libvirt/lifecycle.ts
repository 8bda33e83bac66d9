// A guest's life: build its XML, define and start it (undone on failure), snapshot its root
// disk, and destroy it with everything libvirt leaves behind.
import { mkdir, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  DomainState,
  ErrorCode,
  UndefineFlags,
  isLibvirtError,
  isNoDomain,
  isNoSupport,
  type DomainRef,
} from '../../libvirt/index.js';
import { withRevert } from '../../util/revert.js';
import type { InstanceSpec } from '../driver.js';
import { VirtError } from '../errors.js';
import { ensureCephSecret } from './ceph-secret.js';
import { buildDomain } from './configure/index.js';
import { consoleLogFile } from './configure/console.js';
import type { DriverContext } from './driver-context.js';
import { renderDomain } from './domain/render.js';
import { operationFailure } from './failures.js';
import { snapshotDisk } from './snapshot.js';

/** How many times destroy tries to kill a busy QEMU (Nova: 3), and the first pause between. */
const DESTROY_ATTEMPTS = 3;
const DESTROY_RETRY_MS = 200;
const EBUSY = 16;

/** libvirt's "Failed to terminate process N with SIGKILL: Device or resource busy". */
export function isKillBusy(e: unknown): boolean {
  return (
    isLibvirtError(e) &&
    e.code === ErrorCode.SYSTEM_ERROR &&
    (e.int1 === EBUSY || /Device or resource busy/.test(e.libvirtMessage))
  );
}

export class GuestLifecycle {
  /** The ceph secret, made sure of once (retried after a failure). */
  private cephSecret?: Promise<void>;

  constructor(private readonly ctx: DriverContext) {}

  /** The XML spawn would define (also used by the benchmark and golden checks). */
  async buildXml(spec: InstanceSpec): Promise<string> {
    const { ctx } = this;
    const dom = await buildDomain({
      spec,
      policy: ctx.policy,
      host: ctx.host,
      domainName: ctx.nameOf(spec.uuid),
      createdAt: (ctx.opts.clock?.() ?? new Date()).toISOString(),
      log: ctx.log,
    });
    return renderDomain(dom);
  }

  /** Defines the [libvirt] rbd_secret_uuid secret when libvirt lacks it (see ceph-secret.ts). */
  private ensureCephSecret(): Promise<void> {
    const o = this.ctx.opts.rbdSecret;
    if (!o) return Promise.resolve();
    this.cephSecret ??= ensureCephSecret(this.ctx.lv, o, this.ctx.log).catch((e: unknown) => {
      this.cephSecret = undefined;
      throw new VirtError('guest-start-failed', (e as Error).message, {
        fix: 'check [libvirt] rbd_secret_uuid and rbd_user, and that libvirtd accepts secrets',
      });
    });
    return this.cephSecret;
  }

  spawn(spec: InstanceSpec): Promise<void> {
    const { ctx } = this;
    const name = ctx.nameOf(spec.uuid);
    return ctx.locks.run(spec.uuid, async () => {
      const lv = ctx.lv;
      try {
        await lv.domains.lookupByUuid(spec.uuid);
        throw new VirtError('instance-exists', `instance ${spec.uuid} already has a guest (domain ${name})`, {
          fix: 'destroy the existing guest first, or use another instance uuid',
        });
      } catch (e) {
        if (!isNoDomain(e)) throw e;
      }
      const xml = await this.buildXml(spec);
      if (spec.rootDisk.kind === 'rbd') await this.ensureCephSecret();
      await withRevert(
        async (revert) => {
          await mkdir(dirname(spec.consoleLogPath), { recursive: true });
          let dom: DomainRef;
          try {
            dom = await lv.domains.defineXml(xml);
          } catch (e) {
            throw await ctx.startFailure(e, spec.uuid, name);
          }
          revert.add('undefine', () => this.undefine(dom));
          try {
            await lv.domains.create(dom);
          } catch (e) {
            throw await ctx.startFailure(e, spec.uuid, name);
          }
        },
        (f) => ctx.log.warn({ uuid: spec.uuid, step: f.label, err: f.error }, 'spawn revert step failed'),
      );
    });
  }

  /** Removes the definition with its managed-save image, snapshots' metadata and NVRAM. */
  private async undefine(dom: DomainRef): Promise<void> {
    const lv = this.ctx.lv;
    const full = UndefineFlags.MANAGED_SAVE | UndefineFlags.SNAPSHOTS_METADATA | UndefineFlags.NVRAM;
    try {
      await lv.domains.undefine(dom, full);
    } catch (e) {
      if (isNoDomain(e)) return;
      if (!isNoSupport(e)) throw e;
      await lv.domains.undefine(dom, UndefineFlags.MANAGED_SAVE);
    }
  }

  destroy(uuid: string): Promise<void> {
    const { ctx } = this;
    return ctx.locks.run(uuid, async () => {
      let dom: DomainRef;
      try {
        dom = await ctx.lookup(uuid);
      } catch (e) {
        if (e instanceof VirtError && e.code === 'instance-not-found') return;
        throw e;
      }
      try {
        const def = await ctx.definition(dom);
        if ((await ctx.state(dom)) !== DomainState.SHUTOFF) await this.killGuest(uuid, dom);
        await this.undefine(dom);
        // Whatever libvirt left: the NVRAM file (older daemons) and the console log.
        if (def.os.nvram?.path) await rm(def.os.nvram.path, { force: true });
        const log = consoleLogFile(def);
        if (log) await rm(log, { force: true });
        ctx.agentConnected.delete(uuid);
      } catch (e) {
        throw operationFailure(e, uuid, 'destroy');
      }
    });
  }

  /**
   * Stops the guest's QEMU (virDomainDestroy). Under heavy load libvirt can fail to SIGKILL it
   * ("Failed to terminate process … with SIGKILL: Device or resource busy", VIR_ERR_SYSTEM_ERROR
   * with EBUSY): as Nova's _destroy does, try again, here up to DESTROY_ATTEMPTS times in all,
   * with a short growing pause for the host to catch up.
   */
  private async killGuest(uuid: string, dom: DomainRef): Promise<void> {
    const { ctx } = this;
    for (let attempt = 1; ; attempt++) {
      try {
        await ctx.lv.domains.destroy(dom);
        return;
      } catch (e) {
        if (isNoDomain(e) || (isLibvirtError(e) && /not running/.test(e.libvirtMessage))) return;
        if (!isKillBusy(e) || attempt >= DESTROY_ATTEMPTS) throw e;
        ctx.log.warn(
          { instance: uuid, attempt, err: e },
          `libvirt could not kill the guest's QEMU process (busy); destroy attempt ${attempt + 1} of ${DESTROY_ATTEMPTS} follows`,
        );
        await sleep(DESTROY_RETRY_MS * attempt);
      }
    }
  }

  snapshot(
    uuid: string,
    targetPath: string,
    format: 'qcow2' | 'raw',
    copy?: (targetPath: string, format: 'qcow2' | 'raw') => Promise<void>,
  ): Promise<void> {
    const { ctx } = this;
    return ctx.withDomain(uuid, 'snapshot', async (dom) => {
      const def = await ctx.definition(dom);
      const disk = def.devices.disks.find((d) => d.device === 'disk');
      if (!disk)
        throw new VirtError('snapshot-failed', `instance ${uuid} has no root disk`, {
          fix: 'nothing to snapshot',
        });
      // Pausing keeps the guest from writing while the disk is copied (a crash-consistent copy).
      const running = (await ctx.state(dom)) === DomainState.RUNNING;
      if (running) await ctx.lv.domains.suspend(dom);
      try {
        if (copy) await copy(targetPath, format);
        else await snapshotDisk(disk, targetPath, format);
      } finally {
        if (running) await ctx.lv.domains.resume(dom);
      }
    });
  }
}
