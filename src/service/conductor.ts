// The controller's conductor: what the compute hosts report over the message bus, written to
// the database (they hold no credentials of it). Heartbeats refresh each host's service
// record, so os-services shows it up until service_down_time passes without one.
import type { Repositories } from '../db/index.js';
import type { KestrelConfig } from '../config/index.js';
import { parseTransportUrl } from '../transport/url.js';
import { connectNats } from '../transport/nats/connect.js';
import { NatsControllerTransport } from '../transport/nats/controller.js';
import { silentLogger, type Logger } from '../util/log.js';

const TOPICS: Record<string, string> = { 'nova-compute': 'compute' };

export interface Conductor {
  transport: NatsControllerTransport;
  stop(): Promise<void>;
}

export async function startConductor(o: {
  config: KestrelConfig;
  repos: Repositories;
  logger?: Logger;
}): Promise<Conductor> {
  const log = o.logger ?? silentLogger;
  const target = parseTransportUrl(o.config.DEFAULT.transport_url ?? '');
  const nc = await connectNats(target, { name: `kestrel-controller ${o.config.DEFAULT.host}`, logger: log });
  const transport = await NatsControllerTransport.create(nc, { logger: log });
  transport.onHeartbeat(async (beat) => {
    const topic = TOPICS[beat.binary];
    if (!topic) return;
    await o.repos.services.heartbeat(beat.host, beat.binary, topic, 'nova');
  });
  return {
    transport,
    async stop() {
      await transport.close();
      await nc.drain().catch(() => undefined);
    },
  };
}
