// Keeping the database in step with the hypervisor while the service runs, for what lifecycle
// events alone don't cover:
// - libvirtd restarted: the RPC client reconnects and emits 'reconnected', but events that fired
//   while it was away are lost, so every guest's power state is read again (syncPowerStates);
// - a guest died (QEMU killed, crashed): the manager records SHUTOFF from the event; this adds
//   a fault saying the guest crashed, so `openstack server show` tells why it stopped.
import type { Repositories } from '../db/index.js';
import { PowerState, type HypervisorDriver, type LifecycleEvent } from '../virt/driver.js';
import { silentLogger, type Logger } from '../util/log.js';
import { vmStateForPower } from './reconcile.js';

export interface PowerWatchOptions {
  repos: Repositories;
  driver: HypervisorDriver;
  host: string;
  logger?: Logger;
}

/** A lifecycle event that means the guest died rather than being stopped. */
export function isCrash(e: LifecycleEvent): boolean {
  return e.kind === 'crashed' || (e.kind === 'stopped' && (e.detail === 'failed' || e.detail === 'crashed'));
}

export class PowerWatch {
  private readonly log: Logger;
  private syncing: Promise<number> | undefined;
  private again = false;
  private readonly onReconnected = () => void this.sync().catch(() => undefined);
  private readonly onLifecycle = (e: LifecycleEvent) => void this.recordCrash(e);

  constructor(private readonly o: PowerWatchOptions) {
    this.log = (o.logger ?? silentLogger).child({ component: 'power-watch' });
  }

  start(): void {
    this.o.driver.events.on('reconnected', this.onReconnected);
    this.o.driver.events.on('lifecycle', this.onLifecycle);
  }

  async stop(): Promise<void> {
    this.o.driver.events.off('reconnected', this.onReconnected);
    this.o.driver.events.off('lifecycle', this.onLifecycle);
    await this.syncing?.catch(() => undefined);
  }

  private async recordCrash(e: LifecycleEvent): Promise<void> {
    if (!isCrash(e)) return;
    try {
      const inst = await this.o.repos.instances.get(e.uuid);
      if (!inst) return;
      await this.o.repos.instances.addFault(e.uuid, {
        code: 500,
        message: `The guest of instance ${e.uuid} crashed (${e.detail}); it is now shut off.`,
        details:
          'QEMU exited without being asked to (killed, out of memory, or an emulator fault). ' +
          'Fix: look at the QEMU log (/var/log/libvirt/qemu/) and the host kernel log, then start the server again.',
      });
      this.log.warn({ instance: e.uuid, detail: e.detail }, 'guest crashed');
    } catch (err) {
      this.log.warn({ instance: e.uuid, err }, 'could not record a guest crash');
    }
  }

  /**
   * Reads every guest's power state and records the changes on instances with no task running
   * (a running task owns its instance's state). Returns how many instances changed. Calls that
   * overlap share one sweep plus one more after it (a reconnect during a sweep is not lost).
   */
  sync(): Promise<number> {
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    const run = async (): Promise<number> => {
      let changed = 0;
      do {
        this.again = false;
        changed += await this.sweep();
      } while (this.again);
      return changed;
    };
    this.syncing = run().finally(() => (this.syncing = undefined));
    return this.syncing;
  }

  private async sweep(): Promise<number> {
    const { driver, repos } = this.o;
    let states: Map<string, number>;
    try {
      if (driver.syncPowerStates) states = new Map(await driver.syncPowerStates());
      else {
        states = new Map();
        for (const uuid of await driver.list()) states.set(uuid, (await driver.info(uuid)).state);
      }
    } catch (err) {
      this.log.warn({ err }, 'power state sync failed; the next reconnect or event retries');
      throw err;
    }
    let changed = 0;
    for (const inst of await repos.instances.list({ host: this.o.host })) {
      if (inst.taskState !== null || inst.vmState === 'building') continue;
      const state = states.get(inst.uuid);
      // A guest missing from the list is left to start-up reconciliation (it may be mid-define).
      if (state === undefined) continue;
      const vmState =
        inst.vmState === 'active' || state !== PowerState.RUNNING
          ? vmStateForPower(inst.vmState, state)
          : inst.vmState;
      if (state === inst.powerState && vmState === inst.vmState) continue;
      const r = await repos.db
        .updateTable('instances')
        .set({ power_state: state, vm_state: vmState, updated_at: new Date().toISOString() })
        .where('uuid', '=', inst.uuid)
        .where('task_state', 'is', null)
        .where('deleted', '=', 0)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0) changed++;
    }
    this.log.info({ guests: states.size, changed }, 'power states resynchronized');
    return changed;
  }
}
