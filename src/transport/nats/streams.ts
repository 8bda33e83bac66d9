// The JetStream streams and durable consumers, created by whichever side needs them first
// (adding a stream or consumer with the same configuration again is a no-op). File storage,
// so a NATS restart loses no queued operation or report.
import { AckPolicy, DeliverPolicy, RetentionPolicy, StorageType, nanos, type JetStreamManager } from 'nats';
import {
  OPS_CONSUMER,
  REPORT_CONSUMER,
  REPORT_STREAM,
  REPORT_WILDCARD,
  opsStream,
  opsSubject,
} from './subjects.js';

/** Operations are deduplicated by key (Nats-Msg-Id) within this window. */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

export interface QueueTuning {
  /** Redelivery after this long without an ack or an in-progress signal (default 30 s). */
  ackWaitMs: number;
  /** Operations one agent runs at once. */
  concurrency: number;
}

export const defaultTuning: QueueTuning = { ackWaitMs: 30_000, concurrency: 4 };

async function addStream(jsm: JetStreamManager, name: string, subjects: string[]): Promise<void> {
  await jsm.streams.add({
    name,
    subjects,
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
  });
}

export async function ensureOpsStream(jsm: JetStreamManager, host: string): Promise<string> {
  const name = opsStream(host);
  await addStream(jsm, name, [opsSubject(host)]);
  return name;
}

export async function ensureOpsConsumer(jsm: JetStreamManager, host: string, t: QueueTuning): Promise<void> {
  const stream = await ensureOpsStream(jsm, host);
  await addOrUpdateConsumer(jsm, stream, OPS_CONSUMER, t);
}

export async function ensureReportStream(jsm: JetStreamManager): Promise<void> {
  await addStream(jsm, REPORT_STREAM, [REPORT_WILDCARD]);
}

export async function ensureReportConsumer(jsm: JetStreamManager, t: QueueTuning): Promise<void> {
  await ensureReportStream(jsm);
  await addOrUpdateConsumer(jsm, REPORT_STREAM, REPORT_CONSUMER, t);
}

async function addOrUpdateConsumer(jsm: JetStreamManager, stream: string, durable: string, t: QueueTuning) {
  const cfg = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(t.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: t.concurrency,
  };
  try {
    await jsm.consumers.add(stream, cfg);
  } catch {
    // A consumer made with other tuning (another ack wait or concurrency): take ours.
    await jsm.consumers.update(stream, durable, {
      ack_wait: cfg.ack_wait,
      max_ack_pending: cfg.max_ack_pending,
    });
  }
}
