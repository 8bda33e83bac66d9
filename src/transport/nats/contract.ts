// The compute-agent contract over NATS. Control's side (NatsAgentTransport, under a
// RemoteAgent) sends calls by request/reply and casts into the host's work queue, keyed by
// operation and action so a repeated cast is dropped as a duplicate; the host's side
// (serveContract) hands each to its AgentServer and acknowledges a cast only when the agent's
// OperationReport says it ended, which also goes to the controller as a durable report.
import type { Duplex } from 'node:stream';
import { KestrelError } from '../../errors/index.js';
import {
  CALL_OPERATIONS,
  CAST_OPERATIONS,
  decode,
  encodeReply,
  type AgentOperation,
  type AgentServer,
  type AgentTransport,
  type CallEnvelope,
  type OperationReport,
  type OperationReportSink,
  type ReplyEnvelope,
  type StreamOperation,
} from '../../compute/contract/index.js';
import type { AgentEndpoint, ControllerTransport, Json } from '../types.js';
import { silentLogger, type Logger } from '../../util/log.js';

/** The call text travels as one JSON field: the contract's codec already checked it. */
type Carried = { call: string };

export class NatsAgentTransport implements AgentTransport {
  constructor(
    private readonly t: ControllerTransport,
    private readonly opts: { callTimeoutMs?: number } = {},
  ) {}

  async request(
    host: string,
    kind: 'cast' | 'call',
    operation: AgentOperation,
    call: string,
  ): Promise<string> {
    const carried: Carried = { call };
    if (kind === 'call') {
      const reply = await this.t.call(host, operation, carried, { timeoutMs: this.opts.callTimeoutMs });
      return JSON.stringify(reply);
    }
    const { request } = decode<CallEnvelope>(call);
    const actionId = (request as { actionId?: string }).actionId ?? '';
    await this.t.submit(host, operation, carried, `${operation}:${actionId}`);
    return encodeReply({ ok: true, result: { accepted: true } });
  }

  openStream(host: string, operation: StreamOperation): Promise<Duplex> {
    return Promise.reject(
      new KestrelError(
        'not-implemented',
        `${operation} of a guest on ${host} does not travel over NATS yet.`,
        {
          fix: 'open the serial console on an all-in-one Kestrel (kestrel serve --role all).',
        },
      ),
    );
  }
}

/** Waits for the OperationReport of each running cast, by action id. */
class Finished {
  private readonly waiting = new Map<string, () => void>();
  wait(actionId: string): Promise<void> {
    return new Promise((resolve) => this.waiting.set(actionId, resolve));
  }
  cancel(actionId: string): void {
    this.waiting.delete(actionId);
  }
  done(actionId: string): void {
    this.waiting.get(actionId)?.();
    this.waiting.delete(actionId);
  }
}

/**
 * Serves server's agent on endpoint. Returns the sink the agent must send its operation
 * reports to: each ends the matching cast (then acknowledged) and is forwarded to control.
 */
export async function serveContract(
  endpoint: AgentEndpoint,
  server: AgentServer,
  logger: Logger = silentLogger,
): Promise<OperationReportSink> {
  const finished = new Finished();
  const handle = async (args: Json) => decode<ReplyEnvelope>(await server.handle((args as Carried).call));
  const calls = Object.fromEntries(
    CALL_OPERATIONS.map((op) => [op, async (args: Json) => (await handle(args)) as Json]),
  );
  const operations = Object.fromEntries(
    CAST_OPERATIONS.map((op) => [
      op,
      async (args: Json) => {
        const { request } = decode<CallEnvelope>((args as Carried).call);
        const actionId = (request as { actionId: string }).actionId;
        const ended = finished.wait(actionId);
        const reply = await handle(args);
        if (!reply.ok) {
          // Refused before it started (the agent recorded why): nothing will report its end.
          finished.cancel(actionId);
          return;
        }
        await ended;
      },
    ]),
  );
  await endpoint.serve({ calls, operations });
  return (report: OperationReport) => {
    finished.done(report.actionId);
    endpoint
      .report('operation', report as unknown as Json, `report:${report.operation}:${report.actionId}`)
      .catch((err) => logger.error({ err, report }, 'operation report not sent to the controller'));
  };
}
