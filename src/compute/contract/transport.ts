// The seam a transport fits under: control's side (RemoteAgent) turns each contract method
// into one request of JSON text; the host's side (AgentServer) turns that text back into a
// call of its ComputeAgent and the outcome into a reply of JSON text, errors included. The
// loopback joins the two in memory; a broker transport (NATS request/reply for calls, a work
// queue for casts) carries the same texts between processes. Operation reports travel the
// other way through an OperationReportSink, as JSON text too.
import type { Duplex } from 'node:stream';
import type { ComputeAgent } from './agent.js';
import { KestrelError, errorFromJson, errorToJson } from '../../errors/index.js';
import { decode, encode, encodeCall, encodeReply, type CallEnvelope, type ReplyEnvelope } from './codec.js';
import {
  CALL_OPERATIONS,
  CAST_OPERATIONS,
  type AgentOperation,
  type OperationReport,
  type StreamOperation,
} from './types.js';

export interface AgentTransport {
  /**
   * Delivers one encoded call to host's agent and resolves with its encoded reply. For a cast
   * the reply comes once the agent accepted the work. Rejects with KestrelError host-unreachable
   * when no agent answers for host.
   */
  request(host: string, kind: 'cast' | 'call', operation: AgentOperation, call: string): Promise<string>;
  /**
   * Opens a byte stream to host's agent for a stream operation; the encoded call says which.
   * Errors before the stream opens reject as KestrelErrors (from their JSON form).
   */
  openStream(host: string, operation: StreamOperation, call: string): Promise<Duplex>;
}

/** Where an agent sends the report of each finished long operation. */
export type OperationReportSink = (report: OperationReport) => void;

type RequestOf<K extends AgentOperation> = Parameters<ComputeAgent[K]>[0];
type ReplyOf<K extends AgentOperation> = Awaited<ReturnType<ComputeAgent[K]>>;

const OPERATIONS = new Set<string>([...CAST_OPERATIONS, ...CALL_OPERATIONS]);

export function kindOf(operation: AgentOperation): 'cast' | 'call' {
  return (CAST_OPERATIONS as readonly string[]).includes(operation) ? 'cast' : 'call';
}

/** The host's end: decodes a call, runs it on the agent, encodes the result or the error. */
export class AgentServer {
  constructor(private readonly agent: ComputeAgent) {}

  get host(): string {
    return this.agent.host;
  }

  /** A stream operation: decodes the call and opens the agent's stream. */
  async openStream(call: string): Promise<Duplex> {
    const { operation, request } = decode<CallEnvelope>(call);
    if (operation !== 'openSerialConsole') {
      throw new KestrelError(
        'unknown-operation',
        `the compute agent of host ${this.agent.host} has no stream ${operation}`,
        {
          fix: 'run the same Kestrel version on the controller and the compute hosts.',
        },
      );
    }
    return this.agent.openSerialConsole(request as Parameters<ComputeAgent['openSerialConsole']>[0]);
  }

  async handle(call: string): Promise<string> {
    let reply: ReplyEnvelope;
    try {
      const { operation, request } = decode<CallEnvelope>(call);
      if (!OPERATIONS.has(operation)) {
        throw new KestrelError(
          'unknown-operation',
          `the compute agent of host ${this.agent.host} has no operation ${operation}`,
          { fix: 'run the same Kestrel version on the controller and the compute hosts.' },
        );
      }
      const method = this.agent[operation as AgentOperation] as (r: unknown) => Promise<unknown>;
      reply = { ok: true, result: await method.call(this.agent, request) };
    } catch (e) {
      reply = { ok: false, error: errorToJson(e) };
    }
    try {
      return encodeReply(reply);
    } catch (e) {
      return encodeReply({ ok: false, error: errorToJson(e) });
    }
  }
}

/** Control's end: a ComputeAgent whose every method is one request over the transport. */
export class RemoteAgent implements ComputeAgent {
  constructor(
    readonly host: string,
    private readonly transport: AgentTransport,
  ) {}

  private async send<K extends AgentOperation>(operation: K, request: RequestOf<K>): Promise<ReplyOf<K>> {
    const call = encodeCall(operation, request);
    const reply = decode<ReplyEnvelope>(
      await this.transport.request(this.host, kindOf(operation), operation, call),
    );
    if (!reply.ok) throw errorFromJson(reply.error);
    return reply.result as ReplyOf<K>;
  }

  build(r: RequestOf<'build'>) {
    return this.send('build', r);
  }
  delete(r: RequestOf<'delete'>) {
    return this.send('delete', r);
  }
  power(r: RequestOf<'power'>) {
    return this.send('power', r);
  }
  snapshot(r: RequestOf<'snapshot'>) {
    return this.send('snapshot', r);
  }
  rebuild(r: RequestOf<'rebuild'>) {
    return this.send('rebuild', r);
  }
  shelve(r: RequestOf<'shelve'>) {
    return this.send('shelve', r);
  }
  shelveOffload(r: RequestOf<'shelveOffload'>) {
    return this.send('shelveOffload', r);
  }
  unshelve(r: RequestOf<'unshelve'>) {
    return this.send('unshelve', r);
  }
  backup(r: RequestOf<'backup'>) {
    return this.send('backup', r);
  }
  softDelete(r: RequestOf<'softDelete'>) {
    return this.send('softDelete', r);
  }
  restore(r: RequestOf<'restore'>) {
    return this.send('restore', r);
  }
  setPassword(r: RequestOf<'setPassword'>) {
    return this.send('setPassword', r);
  }
  diagnostics(r: RequestOf<'diagnostics'>) {
    return this.send('diagnostics', r);
  }
  consoleOutput(r: RequestOf<'consoleOutput'>) {
    return this.send('consoleOutput', r);
  }
  vncEndpoint(r: RequestOf<'vncEndpoint'>) {
    return this.send('vncEndpoint', r);
  }
  hostReport(r: RequestOf<'hostReport'>) {
    return this.send('hostReport', r);
  }
  networkApply(r: RequestOf<'networkApply'>) {
    return this.send('networkApply', r);
  }
  networkSync(r: RequestOf<'networkSync'>) {
    return this.send('networkSync', r);
  }
  openSerialConsole(r: Parameters<ComputeAgent['openSerialConsole']>[0]): Promise<Duplex> {
    return this.transport.openStream(this.host, 'openSerialConsole', encodeCall('openSerialConsole', r));
  }
}

/** A report sink whose reports go through JSON text before they reach `sink`. */
export function jsonReportSink(sink: OperationReportSink): OperationReportSink {
  return (report) => sink(decode<OperationReport>(encode(report, 'report')));
}
