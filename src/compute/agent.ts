// The compute agent boundary. The API and scheduler reach a hypervisor only through this
// interface; today it is an in-process call to ComputeManager, later the same calls travel
// over a broker to `kestrel serve --role compute` on each host (only the transport changes).
import type { Duplex } from 'node:stream';
import type { DisplayEndpoint, HostStatus } from '../virt/driver.js';

export type { DisplayEndpoint } from '../virt/driver.js';

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
  /**
   * Where the running guest's VNC display is, as the console proxy reaches it: a UNIX socket
   * on this host, or an address (the host's [vnc] server_proxyclient_address) and port.
   */
  vncEndpoint(uuid: string): Promise<DisplayEndpoint>;
  /**
   * The streaming seam (the one call that is not plain JSON): the running guest's serial
   * console as bytes both ways. Reading gives the guest's output, writing types into it; it
   * ends when the guest stops or another client takes the console; destroy() detaches. Across
   * hosts a transport carries it as a byte stream to the host's
   * [serial_console] proxyclient_address.
   */
  openSerialConsole(uuid: string): Promise<Duplex>;
  hostStatus(): Promise<HostStatus>;
}
