// `kestrel serve --role compute`: this host's end of the message bus, with no database. It
// answers calls about its host (hostStatus) over NATS request/reply and sends a heartbeat
// every report_interval, which the controller's conductor records; a host whose beats stop
// is reported down after service_down_time.
import type { KestrelConfig } from '../config/index.js';
import type { HypervisorDriver } from '../virt/driver.js';
import { parseTransportUrl } from '../transport/url.js';
import { connectNats } from '../transport/nats/connect.js';
import { NatsAgentEndpoint } from '../transport/nats/agent.js';
import type { Json } from '../transport/types.js';
import { silentLogger, type Logger } from '../util/log.js';

export interface ComputeRole {
  host: string;
  transport: string;
  stop(): Promise<void>;
}

export async function startComputeRole(o: {
  config: KestrelConfig;
  driver: HypervisorDriver;
  logger?: Logger;
}): Promise<ComputeRole> {
  const log = o.logger ?? silentLogger;
  const host = o.config.DEFAULT.host;
  const target = parseTransportUrl(o.config.DEFAULT.transport_url ?? '');
  const nc = await connectNats(target, { name: `kestrel-compute ${host}`, logger: log });
  const endpoint = await NatsAgentEndpoint.create(nc, host, { logger: log });
  await endpoint.serve({
    calls: {
      hostStatus: async () => (await o.driver.hostStatus()) as unknown as Json,
    },
    operations: {},
  });
  const beat = () =>
    endpoint.heartbeat({ binary: 'nova-compute' }).catch((err) => log.warn({ err }, 'heartbeat not sent'));
  await beat();
  const timer = setInterval(() => void beat(), o.config.DEFAULT.report_interval * 1000);
  return {
    host,
    transport: target.redacted,
    async stop() {
      clearInterval(timer);
      await endpoint.close();
      await nc.drain().catch(() => undefined);
    },
  };
}
