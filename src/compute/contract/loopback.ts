// The JSON loopback: a transport that carries every call, reply and error of the contract as
// JSON text to an agent in this process. It proves the contract is plain data (codec.ts
// refuses anything else) and runs the same test suites as the in-process agent; a broker
// transport replaces it without changing either end.
import type { Duplex } from 'node:stream';
import type { ComputeAgent } from './agent.js';
import { KestrelError } from '../../errors/index.js';
import { AgentServer, RemoteAgent, type AgentTransport } from './transport.js';
import type { AgentOperation, StreamOperation } from './types.js';

export class LoopbackTransport implements AgentTransport {
  private readonly servers = new Map<string, AgentServer>();

  /** Makes agent answer for its host. */
  attach(agent: ComputeAgent): void {
    this.servers.set(agent.host, new AgentServer(agent));
  }

  detach(host: string): void {
    this.servers.delete(host);
  }

  private server(host: string, operation: string): AgentServer {
    const server = this.servers.get(host);
    if (!server) {
      throw new KestrelError('host-unreachable', `no compute agent answers for host ${host} (${operation})`, {
        fix: `start the compute service on ${host}, or check it with "openstack compute service list".`,
      });
    }
    return server;
  }

  async request(
    host: string,
    _kind: 'cast' | 'call',
    operation: AgentOperation,
    call: string,
  ): Promise<string> {
    return this.server(host, operation).handle(call);
  }

  /** In memory the stream is the agent's own; its opening request still goes through JSON. */
  async openStream(host: string, operation: StreamOperation, call: string): Promise<Duplex> {
    return this.server(host, operation).openStream(call);
  }
}

/** A ComputeAgent for target's host whose every call goes through JSON to target. */
export class LoopbackAgent extends RemoteAgent {
  constructor(target: ComputeAgent) {
    const transport = new LoopbackTransport();
    transport.attach(target);
    super(target.host, transport);
  }
}
