// The compute agent boundary. The API and scheduler reach a hypervisor only through this
// interface; today it is an in-process call to ComputeManager, later the same calls travel
// over a broker to `kestrel serve --role compute` on each host (only the transport changes).
import type { HostStatus } from '../virt/driver.js';

export type PowerAction =
  'start' | 'stop' | 'reboot-soft' | 'reboot-hard' | 'pause' | 'unpause' | 'suspend' | 'resume';

export interface ComputeAgent {
  /** The host this agent runs (the resource provider's name). */
  readonly host: string;
  /** Builds and starts the instance; records phases on actionId; ends ACTIVE or ERROR. */
  build(uuid: string, actionId: string): Promise<void>;
  /** Destroys the guest and its disk; ends with the instance deleted and its allocations freed. */
  delete(uuid: string, actionId: string): Promise<void>;
  /** A power action; ends with task_state cleared (and vm_state changed on success). */
  act(uuid: string, action: PowerAction, actionId: string): Promise<void>;
  /** Snapshots the root disk into the (queued) image imageId; ends with the image active or killed. */
  snapshot(uuid: string, imageId: string, actionId: string): Promise<void>;
  consoleOutput(uuid: string, maxBytes?: number): Promise<string>;
  hostStatus(): Promise<HostStatus>;
}
