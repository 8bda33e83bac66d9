// The controller's end of the NATS transport: calls as request/reply (no responders = the
// host is down, said at once), operations published to the host's work queue with their key
// as Nats-Msg-Id (a second submit of the same key is a duplicate the server drops),
// heartbeats from a core subscription, reports from the durable report queue.
import {
  ErrorCode,
  JSONCodec,
  NatsError,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
  type Subscription,
} from 'nats';
import { silentLogger, type Logger } from '../../util/log.js';
import {
  fromWireError,
  hostDown,
  hostTimeout,
  type CallOptions,
  type ControllerTransport,
  type Heartbeat,
  type Json,
  type Report,
  type WireError,
} from '../types.js';
import {
  HEARTBEAT_WILDCARD,
  REPORT_CONSUMER,
  REPORT_STREAM,
  callSubject,
  checkMethod,
  opsSubject,
} from './subjects.js';
import { defaultTuning, ensureOpsStream, ensureReportConsumer, type QueueTuning } from './streams.js';
import { consumeLoop, type ConsumeLoop } from './consume.js';

const codec = JSONCodec<unknown>();
export const DEFAULT_CALL_TIMEOUT_MS = 60_000;

export type CallReply = { ok: true; result: Json } | { ok: false; error: WireError };
export interface OperationMessage {
  method: string;
  args: Json;
}

export class NatsControllerTransport implements ControllerTransport {
  private readonly js: JetStreamClient;
  private readonly streams = new Map<string, Promise<string>>();
  private readonly subs: Subscription[] = [];
  private readonly loops: ConsumeLoop[] = [];
  private readonly log: Logger;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly tuning: QueueTuning,
    logger?: Logger,
  ) {
    this.js = nc.jetstream();
    this.log = logger ?? silentLogger;
  }

  static async create(
    nc: NatsConnection,
    o: { logger?: Logger; tuning?: Partial<QueueTuning> } = {},
  ): Promise<NatsControllerTransport> {
    const jsm = await nc.jetstreamManager();
    return new NatsControllerTransport(nc, jsm, { ...defaultTuning, ...o.tuning }, o.logger);
  }

  async call(host: string, method: string, args: Json, opts: CallOptions = {}): Promise<Json> {
    const timeout = opts.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    let reply;
    try {
      reply = await this.nc.request(callSubject(host, checkMethod(method)), codec.encode(args), { timeout });
    } catch (e) {
      if (e instanceof NatsError && e.code === ErrorCode.NoResponders) throw hostDown(host);
      if (e instanceof NatsError && e.code === ErrorCode.Timeout) throw hostTimeout(host, method, timeout);
      throw e;
    }
    const r = codec.decode(reply.data) as CallReply;
    if (!r.ok) throw fromWireError(r.error);
    return r.result;
  }

  async submit(host: string, method: string, args: Json, key: string): Promise<{ duplicate: boolean }> {
    const streamName = await this.opsStream(host);
    const body: OperationMessage = { method: checkMethod(method), args };
    const ack = await this.js.publish(opsSubject(host), codec.encode(body), {
      msgID: key,
      expect: { streamName },
    });
    return { duplicate: ack.duplicate };
  }

  onHeartbeat(handler: (beat: Heartbeat) => Promise<void>): void {
    // One queue group: with several controllers, each beat is written once.
    const sub = this.nc.subscribe(HEARTBEAT_WILDCARD, {
      queue: 'controller',
      callback: (err, msg) => {
        if (err) return;
        let beat: Heartbeat;
        try {
          beat = codec.decode(msg.data) as Heartbeat;
        } catch {
          return;
        }
        handler(beat).catch((e) => this.log.warn({ err: e, host: beat.host }, 'heartbeat handler failed'));
      },
    });
    this.subs.push(sub);
  }

  onReport(handler: (report: Report) => Promise<void>): void {
    const start = async () => {
      await ensureReportConsumer(this.jsm, this.tuning);
      this.loops.push(
        await consumeLoop({
          js: this.js,
          stream: REPORT_STREAM,
          durable: REPORT_CONSUMER,
          concurrency: this.tuning.concurrency,
          ackWaitMs: this.tuning.ackWaitMs,
          logger: this.log,
          closed: this.nc.closed(),
          handle: async (m) => {
            let report: Report;
            try {
              report = codec.decode(m.data) as Report;
            } catch {
              this.log.error({ subject: m.subject }, 'undecodable report dropped');
              return 'drop';
            }
            await handler(report);
            return 'ack';
          },
        }),
      );
    };
    this.reportsReady = start();
  }

  /** Resolves once the report consumer runs (after onReport). */
  reportsReady: Promise<void> = Promise.resolve();

  private opsStream(host: string): Promise<string> {
    let p = this.streams.get(host);
    if (!p) {
      p = ensureOpsStream(this.jsm, host);
      p.catch(() => this.streams.delete(host));
      this.streams.set(host, p);
    }
    return p;
  }

  async close(): Promise<void> {
    for (const s of this.subs) s.unsubscribe();
    await this.reportsReady.catch(() => undefined);
    await Promise.all(this.loops.map((l) => l.stop()));
  }
}
