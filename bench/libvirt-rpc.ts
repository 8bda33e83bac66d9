// `npm run bench -- libvirt-rpc`: the RPC client's call latency and pipelined throughput against
// the real libvirtd, and the baseline it replaces (spawning `virsh version`), measured in one run.
// Env: KT_BENCH_URI (default qemu:///system), KT_BENCH_SEQ (2000), KT_BENCH_PIPE (20000),
// KT_BENCH_CONCURRENCY (64), KT_BENCH_VIRSH (20).
import { performance } from 'node:perf_hooks';
import { LibvirtClient } from '../src/libvirt/index.js';
import { run } from '../src/util/run.js';

const uri = process.env.KT_BENCH_URI ?? 'qemu:///system';
const seqCalls = Number(process.env.KT_BENCH_SEQ ?? 2000);
const pipeCalls = Number(process.env.KT_BENCH_PIPE ?? 20000);
const concurrency = Number(process.env.KT_BENCH_CONCURRENCY ?? 64);
const virshRuns = Number(process.env.KT_BENCH_VIRSH ?? 20);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

const round = (x: number, d = 3) => Math.round(x * 10 ** d) / 10 ** d;

/** pipeCalls GET_VERSION calls from `concurrency` callers at once; returns calls per second. */
async function pipelined(client: LibvirtClient): Promise<number> {
  for (let i = 0; i < 200; i++) await client.host.getVersion();
  let issued = 0;
  const worker = async () => {
    while (issued < pipeCalls) {
      issued++;
      await client.host.getVersion();
    }
  };
  const p0 = performance.now();
  const elu0 = performance.eventLoopUtilization();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elu = performance.eventLoopUtilization(elu0);
  lastClientCpuUsPerCall = (elu.active * 1000) / pipeCalls; // active is in ms
  return pipeCalls / ((performance.now() - p0) / 1000);
}

/** Main-thread busy time per call in the last pipelined run (event-loop utilization): the client's own cost. */
let lastClientCpuUsPerCall = 0;

async function main(): Promise<void> {
  const t0 = performance.now();
  const client = await LibvirtClient.connect({ uri });
  const handshakeMs = performance.now() - t0;
  try {
    // Warm-up (JIT, daemon worker threads).
    for (let i = 0; i < 200; i++) await client.host.getVersion();

    const lat: number[] = [];
    for (let i = 0; i < seqCalls; i++) {
      const s = performance.now();
      await client.host.getVersion();
      lat.push(performance.now() - s);
    }
    const seqMedian = median(lat);
    console.log(`libvirt-rpc: ${uri}, handshake ${round(handshakeMs, 1)} ms`);
    console.log(
      `sequential CONNECT_GET_VERSION x${seqCalls}: median ${round(seqMedian)} ms, p90 ${round(percentile(lat, 90))} ms, p99 ${round(percentile(lat, 99))} ms`,
    );

    const perSec = await pipelined(client);
    const clientCpuUs = lastClientCpuUsPerCall;
    console.log(
      `pipelined CONNECT_GET_VERSION x${pipeCalls}, ${concurrency} callers (at most 4 on the wire, one below libvirtd's max_client_requests): ${Math.round(perSec)} calls/s (${round(1000 / perSec, 4)} ms/call amortized)`,
    );
    console.log(
      `client main-thread busy time per pipelined call: ${round(clientCpuUs, 1)} µs (the rest of the wait is libvirtd)`,
    );
    // The same through the in-daemon test driver, whose GET_VERSION takes no QEMU-driver locks:
    // shows how much of the figure above is the client and how much the QEMU driver.
    const testClient = await LibvirtClient.connect({ uri: 'test+unix:///default' });
    const testPerSec = await pipelined(testClient).finally(() => testClient.close());
    console.log(`pipelined, same load, test+unix:///default: ${Math.round(testPerSec)} calls/s`);

    const virsh: number[] = [];
    for (let i = 0; i < virshRuns; i++) {
      const s = performance.now();
      const r = await run(['virsh', '-c', uri, 'version'], { timeoutMs: 60_000 });
      if (r.code !== 0) throw new Error(`virsh version failed: ${r.stderr}`);
      virsh.push(performance.now() - s);
    }
    const virshMedian = median(virsh);
    const speedup = virshMedian / seqMedian;
    console.log(
      `baseline: spawn \`virsh -c ${uri} version\` x${virshRuns}: median ${round(virshMedian, 1)} ms`,
    );
    console.log(`speedup (virsh median / sequential call median): ${round(speedup, 0)}x`);
    console.log(
      `targets: sequential <= 0.3 ms ${seqMedian <= 0.3 ? 'met' : 'MISSED'}; >= 100x virsh ${speedup >= 100 ? 'met' : 'MISSED'}`,
    );
    console.log(
      `BENCH ${JSON.stringify({
        bench: 'libvirt-rpc',
        uri,
        sequential_ms: round(seqMedian, 4),
        pipelined_calls_per_s: Math.round(perSec),
        pipelined_calls_per_s_test_driver: Math.round(testPerSec),
        client_busy_us_per_call: round(clientCpuUs, 1),
        virsh_ms: round(virshMedian, 2),
        speedup_vs_virsh: round(speedup, 1),
      })}`,
    );
  } finally {
    await client.close();
  }
}

main().catch((e: unknown) => {
  console.error(`libvirt-rpc bench failed: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
