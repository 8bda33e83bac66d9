// Runs a durable pull consumer: up to `concurrency` messages at once, each kept alive with
// in-progress signals while its handler runs and acknowledged only when the handler is done,
// so a process killed mid-way leaves the message to be delivered again (to its successor).
import type { ConsumerMessages, JetStreamClient, JsMsg } from 'nats';
import type { Logger } from '../../util/log.js';

export interface ConsumeLoop {
  /** Stops taking messages and waits for the running handlers. */
  stop(): Promise<void>;
}

export type Outcome = 'ack' | 'retry' | 'drop';

export async function consumeLoop(o: {
  js: JetStreamClient;
  stream: string;
  durable: string;
  concurrency: number;
  ackWaitMs: number;
  logger: Logger;
  /** The connection's end (nc.closed()): the loop stops with it instead of retrying for ever. */
  closed: Promise<unknown>;
  handle(m: JsMsg): Promise<Outcome>;
}): Promise<ConsumeLoop> {
  const consumer = await o.js.consumers.get(o.stream, o.durable);
  const messages: ConsumerMessages = await consumer.consume({ max_messages: o.concurrency });
  const running = new Set<Promise<void>>();
  const keepAlives = new Set<NodeJS.Timeout>();
  // With the connection gone no ack can be sent: stop pulling and signalling; the server
  // delivers the unacknowledged messages again after the ack wait.
  void o.closed.then(() => {
    messages.stop();
    for (const t of keepAlives) clearInterval(t);
  });
  let freed: (() => void) | undefined;

  const runOne = async (m: JsMsg) => {
    const keepAlive = setInterval(() => m.working(), Math.max(1000, Math.floor(o.ackWaitMs / 3)));
    keepAlives.add(keepAlive);
    try {
      const outcome = await o.handle(m);
      if (outcome === 'ack') await m.ackAck().catch(() => m.ack());
      else if (outcome === 'retry') m.nak(1000);
      else m.term();
    } catch (err) {
      o.logger.error({ err, stream: o.stream, seq: m.seq }, 'message handler failed; delivering it again');
      m.nak(1000);
    } finally {
      clearInterval(keepAlive);
      keepAlives.delete(keepAlive);
    }
  };

  const loop = (async () => {
    for await (const m of messages) {
      const p = runOne(m).finally(() => {
        running.delete(p);
        freed?.();
      });
      running.add(p);
      while (running.size >= o.concurrency) await new Promise<void>((r) => (freed = r));
    }
  })().catch((err) => o.logger.error({ err, stream: o.stream }, 'consumer stopped'));

  return {
    async stop() {
      await messages.close().catch(() => undefined);
      await loop;
      await Promise.all(running);
    },
  };
}
