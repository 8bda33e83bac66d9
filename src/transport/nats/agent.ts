// The compute host's end of the NATS transport: answers calls on kestrel.agent.<host>.call.*,
// runs the operations of its work queue (acknowledged when their handler is done, so one
// interrupted by a crash is delivered again, flagged redelivered), and sends heartbeats and
// reports. It holds no database credentials: everything it has to record goes as a report.
import {
  JSONCodec,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { silentLogger, type Logger } from '../../util/log.js';
import {
  toWireError,
  type AgentEndpoint,
  type AgentHandlers,
  type Heartbeat,
  type Json,
  type Report,
} from '../types.js';
import { OPS_CONSUMER, callWildcard, heartbeatSubject, opsStream, reportSubject } from './subjects.js';
import { defaultTuning, ensureOpsConsumer, ensureReportStream, type QueueTuning } from './streams.js';
import { consumeLoop, type ConsumeLoop } from './consume.js';
import type { CallReply, OperationMessage } from './controller.js';

const codec = JSONCodec<unknown>();

export class NatsAgentEndpoint implements AgentEndpoint {
  private readonly js: JetStreamClient;
  private sub?: Subscription;
  private loop?: ConsumeLoop;
  private reportStream?: Promise<void>;
  private readonly log: Logger;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    readonly host: string,
    private readonly tuning: QueueTuning,
    logger?: Logger,
  ) {
    this.js = nc.jetstream();
    this.log = (logger ?? silentLogger).child({ host });
  }

  static async create(
    nc: NatsConnection,
    host: string,
    o: { logger?: Logger; tuning?: Partial<QueueTuning> } = {},
  ): Promise<NatsAgentEndpoint> {
    const jsm = await nc.jetstreamManager();
    return new NatsAgentEndpoint(nc, jsm, host, { ...defaultTuning, ...o.tuning }, o.logger);
  }

  async serve(h: AgentHandlers): Promise<void> {
    this.sub = this.nc.subscribe(callWildcard(this.host), {
      queue: 'agent',
      callback: (err, msg) => {
        if (err) return;
        const method = msg.subject.slice(msg.subject.lastIndexOf('.') + 1);
        const answer = async (): Promise<CallReply> => {
          const fn = Object.hasOwn(h.calls, method) ? h.calls[method] : undefined;
          if (!fn)
            return {
              ok: false,
              error: {
                code: 'not-implemented',
                message: `the agent of ${this.host} has no call "${method}" (an older Kestrel?)`,
              },
            };
          try {
            return { ok: true, result: await fn(codec.decode(msg.data) as Json) };
          } catch (e) {
            return { ok: false, error: toWireError(e) };
          }
        };
        void answer().then((r) => msg.respond(codec.encode(r)));
      },
    });
    await ensureOpsConsumer(this.jsm, this.host, this.tuning);
    this.loop = await consumeLoop({
      js: this.js,
      stream: opsStream(this.host),
      durable: OPS_CONSUMER,
      concurrency: this.tuning.concurrency,
      ackWaitMs: this.tuning.ackWaitMs,
      logger: this.log,
      closed: this.nc.closed(),
      handle: async (m) => {
        let op: OperationMessage;
        try {
          op = codec.decode(m.data) as OperationMessage;
        } catch {
          this.log.error({ seq: m.seq }, 'undecodable operation dropped');
          return 'drop';
        }
        const fn = Object.hasOwn(h.operations, op.method) ? h.operations[op.method] : undefined;
        if (!fn) {
          this.log.error({ method: op.method }, 'operation this agent does not know dropped');
          return 'drop';
        }
        const key = m.headers?.get('Nats-Msg-Id') ?? `seq-${m.seq}`;
        try {
          await fn(op.args, { key, redelivered: m.redelivered });
        } catch (err) {
          // The handler records its own failure (the instance ends in ERROR with a fault);
          // running it again would repeat what already failed.
          this.log.error({ err, method: op.method, key }, 'operation failed');
        }
        return 'ack';
      },
    });
  }

  async heartbeat(beat: Omit<Heartbeat, 'host' | 'sentAt'>): Promise<void> {
    const full: Heartbeat = { ...beat, host: this.host, sentAt: new Date().toISOString() };
    this.nc.publish(heartbeatSubject(this.host), codec.encode(full));
    await this.nc.flush();
  }

  async report(kind: string, body: Json, key: string): Promise<void> {
    this.reportStream ??= ensureReportStream(this.jsm).catch((e) => {
      this.reportStream = undefined;
      throw e;
    });
    await this.reportStream;
    const r: Report = { host: this.host, kind, body, key };
    await this.js.publish(reportSubject(this.host), codec.encode(r), { msgID: key });
  }

  async close(): Promise<void> {
    this.sub?.unsubscribe();
    await this.loop?.stop();
  }
}
