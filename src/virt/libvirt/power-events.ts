// Power-state tracking: libvirt's lifecycle and agent events become the driver's events, and
// syncPowerStates() reads every state afresh for what events cannot cover (a reconnect, a
// service restart).
import {
  MetadataType,
  isNoDomain,
  isNoMetadata,
  type AgentLifecycleEvent,
  type DomainRef,
  type LifecycleEvent as LibvirtLifecycleEvent,
} from '../../libvirt/index.js';
import type { DriverEvents, PowerState } from '../driver.js';
import { mapLifecycle } from '../power-state.js';
import type { DriverContext } from './driver-context.js';
import { KESTREL_XMLNS } from './domain/types.js';

/**
 * Subscribes to lifecycle and agent events. What undoes the listeners goes into detach before
 * the daemon is asked to send events, so close() removes them even when subscribing fails.
 */
export async function subscribePowerEvents(
  ctx: DriverContext,
  events: DriverEvents,
  detach: (() => void)[],
): Promise<void> {
  const lv = ctx.lv;
  const onLifecycle = (e: LibvirtLifecycleEvent) => forwardLifecycle(ctx, events, e);
  const onAgent = (e: AgentLifecycleEvent) => forwardAgent(ctx, events, e);
  // Events are not replayed after a reconnect: forget the agent states (they refill from the
  // next agent events) and let the compute layer resync power states (syncPowerStates()).
  const onReconnected = () => {
    ctx.agentConnected.clear();
    events.emit('reconnected');
  };
  lv.events.on('lifecycle', onLifecycle);
  lv.events.on('agent-lifecycle', onAgent);
  lv.on('reconnected', onReconnected);
  detach.push(
    () => lv.events.off('lifecycle', onLifecycle),
    () => lv.events.off('agent-lifecycle', onAgent),
    () => lv.off('reconnected', onReconnected),
  );
  await lv.subscribe('lifecycle');
  await lv.subscribe('agent-lifecycle');
}

function forwardLifecycle(ctx: DriverContext, events: DriverEvents, e: LibvirtLifecycleEvent): void {
  const uuid = ctx.uuidOf(e.domain);
  if (!uuid) return;
  const mapped = mapLifecycle(e.eventCode, e.detailCode);
  if (!mapped) return;
  if (mapped.kind === 'stopped' || mapped.kind === 'shutdown' || mapped.kind === 'suspended') {
    ctx.agentConnected.set(uuid, false);
  }
  events.emit('lifecycle', { uuid, ...mapped, at: Date.now() });
}

function forwardAgent(ctx: DriverContext, events: DriverEvents, e: AgentLifecycleEvent): void {
  const uuid = ctx.uuidOf(e.domain);
  if (!uuid) return;
  const connected = e.state === 'connected';
  ctx.agentConnected.set(uuid, connected);
  events.emit('agent', { uuid, connected });
}

/** Kestrel's domains: named prefix+uuid and carrying the Kestrel metadata tag. */
export async function ownDomains(ctx: DriverContext): Promise<{ uuid: string; dom: DomainRef }[]> {
  const lv = ctx.lv;
  const out: { uuid: string; dom: DomainRef }[] = [];
  for (const dom of await lv.domains.listAll(0)) {
    const uuid = ctx.uuidOf(dom);
    if (!uuid) continue;
    try {
      await lv.domains.getMetadata(dom, MetadataType.ELEMENT, KESTREL_XMLNS);
      out.push({ uuid, dom });
    } catch (e) {
      if (!isNoMetadata(e) && !isNoDomain(e)) throw e;
    }
  }
  return out.sort((a, b) => a.uuid.localeCompare(b.uuid));
}

export async function syncPowerStates(ctx: DriverContext): Promise<Map<string, PowerState>> {
  const out = new Map<string, PowerState>();
  for (const { uuid, dom } of await ownDomains(ctx)) {
    try {
      out.set(uuid, await ctx.powerState(dom));
    } catch (e) {
      if (!isNoDomain(e)) throw e;
    }
  }
  return out;
}
