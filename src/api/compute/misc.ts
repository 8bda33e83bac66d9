// os-hypervisors, os-availability-zone, os-keypairs, limits, os-services (§2.9–2.10).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import type { Repositories } from '../../db/index.js';
import type { KeypairService } from '../../control/keypairs.js';
import { requireAdmin } from '../../control/flavors.js';
import { badRequest, notFound } from '../../errors/index.js';
import type { HostReport } from '../../compute/contract/types.js';
import { capacityOf } from '../../control/scheduler/select.js';
import { need, novaMicros, queryOf } from '../common.js';
import { keypairView } from './views.js';

const KeypairCreate = Type.Object(
  {
    keypair: Type.Object(
      { name: Type.String(), public_key: Type.Optional(Type.String()) },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export interface MiscDeps {
  repos: Repositories;
  keypairs: KeypairService;
  hostIp: string;
  startedAt: number;
  /** [DEFAULT] service_down_time: a service silent for longer is down. */
  serviceDownTime: number;
}

export function registerMiscRoutes(app: FastifyInstance, d: MiscDeps): void {
  // The hypervisor facts come from the reports the hosts' agents published into the database.
  const hypervisors = async () => {
    const providers = await d.repos.placement.providers();
    const services = await d.repos.services.list();
    const instances = await d.repos.instances.list({});
    const reports = new Map((await d.repos.hostReports.list()).map((r) => [r.host, r.report as HostReport]));
    return Promise.all(
      providers.map(async (p) => {
        const svc = services.find((s) => s.host === p.name && s.binary === 'nova-compute');
        const up = svc ? Date.now() - Date.parse(svc.updatedAt) < d.serviceDownTime * 1000 : false;
        const st = reports.get(p.name);
        const inv = (rc: string) => p.inventories[rc];
        const used = (rc: string) => p.usages[rc] ?? 0;
        const memTotal = inv('MEMORY_MB')?.total ?? 0;
        const diskTotal = inv('DISK_GB')?.total ?? 0;
        return {
          brief: {
            id: p.number,
            hypervisor_hostname: p.name,
            state: up ? 'up' : 'down',
            status: svc?.disabled ? 'disabled' : 'enabled',
          },
          detail: {
            hypervisor_type: st?.hypervisorType ?? 'QEMU',
            hypervisor_version: st?.hypervisorVersion ?? 0,
            host_ip: d.hostIp,
            vcpus: inv('VCPU')?.total ?? 0,
            vcpus_used: used('VCPU'),
            memory_mb: memTotal,
            memory_mb_used: used('MEMORY_MB'),
            free_ram_mb: memTotal - used('MEMORY_MB'),
            local_gb: diskTotal,
            local_gb_used: used('DISK_GB'),
            free_disk_gb: diskTotal - used('DISK_GB'),
            disk_available_least: inv('DISK_GB') ? capacityOf(inv('DISK_GB')) - used('DISK_GB') : 0,
            running_vms: instances.filter((i) => i.host === p.name).length,
            current_workload: instances.filter((i) => i.host === p.name && i.taskState !== null).length,
            // Nova's hypervisor schemas allow no extra keys; cpu_info is a JSON text whose
            // content they leave open, so Kestrel's own figures (AMD SEV guest slots:
            // MEM_ENCRYPTION_CONTEXT total / used) travel inside it.
            cpu_info: JSON.stringify({
              ...(st
                ? {
                    arch: st.cpuInfo.arch,
                    model: st.cpuInfo.model,
                    vendor: st.cpuInfo.vendor,
                    features: st.cpuInfo.features,
                    topology: {},
                  }
                : {}),
              kestrel: {
                mem_encryption_slots: inv('MEM_ENCRYPTION_CONTEXT')?.total ?? 0,
                mem_encryption_slots_used: used('MEM_ENCRYPTION_CONTEXT'),
              },
            }),
            service: { host: p.name, id: svc?.id ?? 0, disabled_reason: svc?.disabledReason ?? null },
          },
          servers: instances
            .filter((i) => i.host === p.name)
            .map((i) => ({ uuid: i.uuid, name: i.displayName })),
        };
      }),
    );
  };
  const admin = (req: FastifyRequest) => {
    const ctx = need(req);
    requireAdmin(ctx, 'os_compute_api:os-hypervisors');
    return ctx;
  };
  app.get('/v2.1/os-hypervisors', async (req) => {
    admin(req);
    return { hypervisors: (await hypervisors()).map((h) => h.brief) };
  });
  app.get('/v2.1/os-hypervisors/detail', async (req) => {
    admin(req);
    return { hypervisors: (await hypervisors()).map((h) => ({ ...h.brief, ...h.detail })) };
  });
  app.get('/v2.1/os-hypervisors/statistics', async (req) => {
    admin(req);
    const all = await hypervisors();
    const sum = (k: keyof (typeof all)[number]['detail']) => all.reduce((a, h) => a + Number(h.detail[k]), 0);
    return {
      hypervisor_statistics: {
        count: all.length,
        vcpus: sum('vcpus'),
        vcpus_used: sum('vcpus_used'),
        memory_mb: sum('memory_mb'),
        memory_mb_used: sum('memory_mb_used'),
        free_ram_mb: sum('free_ram_mb'),
        local_gb: sum('local_gb'),
        local_gb_used: sum('local_gb_used'),
        free_disk_gb: sum('free_disk_gb'),
        disk_available_least: sum('disk_available_least'),
        running_vms: sum('running_vms'),
        current_workload: sum('current_workload'),
      },
    };
  });
  const byId = async (id: string) => {
    const all = await hypervisors();
    const h = all.find((x) => String(x.brief.id) === id);
    if (!h) throw notFound(`Hypervisor with ID ${id} could not be found.`);
    return h;
  };
  app.get<{ Params: { id: string } }>('/v2.1/os-hypervisors/:id', async (req) => {
    admin(req);
    const h = await byId(req.params.id);
    return { hypervisor: { ...h.brief, ...h.detail } };
  });
  app.get<{ Params: { id: string } }>('/v2.1/os-hypervisors/:id/uptime', async (req) => {
    admin(req);
    const h = await byId(req.params.id);
    const secs = Math.floor((Date.now() - d.startedAt) / 1000);
    const hh = String(Math.floor(secs / 3600) % 24).padStart(2, '0');
    const mm = String(Math.floor(secs / 60) % 60).padStart(2, '0');
    return {
      hypervisor: {
        ...h.brief,
        uptime: ` ${new Date().toISOString().slice(11, 19)} up ${Math.floor(secs / 86400)} days, ${hh}:${mm},  1 user,  load average: 0.00, 0.00, 0.00`,
      },
    };
  });
  const matching = async (pattern: string) => {
    const all = (await hypervisors()).filter((h) => h.brief.hypervisor_hostname.includes(pattern));
    if (all.length === 0) throw notFound(`No hypervisor matching '${pattern}' could be found.`);
    return all;
  };
  app.get<{ Params: { pattern: string } }>('/v2.1/os-hypervisors/:pattern/search', async (req) => {
    admin(req);
    return { hypervisors: (await matching(req.params.pattern)).map((h) => h.brief) };
  });
  app.get<{ Params: { pattern: string } }>('/v2.1/os-hypervisors/:pattern/servers', async (req) => {
    admin(req);
    return {
      hypervisors: (await matching(req.params.pattern)).map((h) => ({
        ...h.brief,
        ...(h.servers.length ? { servers: h.servers } : {}),
      })),
    };
  });

  // OSC's `hypervisor show` lists aggregates to name the host's; Kestrel has none.
  app.get('/v2.1/os-aggregates', async (req) => {
    requireAdmin(need(req), 'os_compute_api:os-aggregates:index');
    return { aggregates: [] };
  });

  // --- availability zones ------------------------------------------------------------------
  app.get('/v2.1/os-availability-zone', async (req) => {
    need(req);
    return { availabilityZoneInfo: [{ zoneName: 'nova', zoneState: { available: true }, hosts: null }] };
  });
  app.get('/v2.1/os-availability-zone/detail', async (req) => {
    requireAdmin(need(req), 'os_compute_api:os-availability-zone:detail');
    const services = await d.repos.services.list();
    const zones = new Map<string, Record<string, Record<string, unknown>>>();
    for (const s of services) {
      const hosts = zones.get(s.zone) ?? {};
      hosts[s.host] = {
        ...(hosts[s.host] ?? {}),
        [s.binary]: {
          available: !s.disabled,
          active: Date.now() - Date.parse(s.updatedAt) < d.serviceDownTime * 1000,
          updated_at: novaMicros(s.updatedAt),
        },
      };
      zones.set(s.zone, hosts);
    }
    return {
      availabilityZoneInfo: [...zones].map(([zoneName, hosts]) => ({
        zoneName,
        zoneState: { available: true },
        hosts,
      })),
    };
  });

  // --- keypairs ---------------------------------------------------------------------------
  app.get('/v2.1/os-keypairs', async (req) => ({
    keypairs: (await d.keypairs.list(need(req))).map((k) => ({ keypair: keypairView(k, false) })),
  }));
  app.post('/v2.1/os-keypairs', { schema: { body: KeypairCreate } }, async (req) => {
    const kp = (req.body as { keypair: { name: string; public_key?: string } }).keypair;
    const k = await d.keypairs.create(need(req), kp.name, kp.public_key);
    const v: Record<string, unknown> = { ...keypairView(k, false), user_id: k.userId };
    if (k.privateKey) v.private_key = k.privateKey;
    return { keypair: v };
  });
  app.get<{ Params: { name: string } }>('/v2.1/os-keypairs/:name', async (req) => ({
    keypair: keypairView(await d.keypairs.get(need(req), req.params.name), true),
  }));
  app.delete<{ Params: { name: string } }>('/v2.1/os-keypairs/:name', async (req, reply) => {
    await d.keypairs.delete(need(req), req.params.name);
    return reply.code(202).send();
  });

  // --- limits -----------------------------------------------------------------------------
  app.get('/v2.1/limits', async (req) => {
    const ctx = need(req);
    const mine = await d.repos.instances.list({ projectId: ctx.projectId });
    return {
      limits: {
        rate: [],
        absolute: {
          maxTotalInstances: -1,
          maxTotalCores: -1,
          maxTotalRAMSize: -1,
          maxServerMeta: 128,
          maxImageMeta: 128,
          maxPersonality: 0,
          maxPersonalitySize: 0,
          maxTotalKeypairs: -1,
          maxServerGroups: -1,
          maxServerGroupMembers: -1,
          maxSecurityGroups: -1,
          maxSecurityGroupRules: -1,
          maxTotalFloatingIps: -1,
          totalInstancesUsed: mine.length,
          totalCoresUsed: mine.reduce((a, i) => a + i.flavor.vcpus, 0),
          totalRAMUsed: mine.reduce((a, i) => a + i.flavor.memoryMb, 0),
          totalSecurityGroupsUsed: 0,
          totalFloatingIpsUsed: 0,
          totalServerGroupsUsed: 0,
        },
      },
    };
  });

  // --- services ---------------------------------------------------------------------------
  app.get('/v2.1/os-services', async (req) => {
    requireAdmin(need(req), 'os_compute_api:os-services:list');
    const q = queryOf(req);
    const host = typeof q.host === 'string' ? q.host : undefined;
    const binary = typeof q.binary === 'string' ? q.binary : undefined;
    const all = (await d.repos.services.list()).filter(
      (s) => (host === undefined || s.host === host) && (binary === undefined || s.binary === binary),
    );
    return {
      services: all.map((s) => ({
        id: s.id,
        binary: s.binary,
        host: s.host,
        zone: s.zone,
        status: s.disabled ? 'disabled' : 'enabled',
        state: Date.now() - Date.parse(s.updatedAt) < d.serviceDownTime * 1000 ? 'up' : 'down',
        updated_at: novaMicros(s.updatedAt),
        disabled_reason: s.disabledReason,
      })),
    };
  });
  for (const op of ['enable', 'disable', 'disable-log-reason'] as const) {
    app.put(`/v2.1/os-services/${op}`, async (req) => {
      requireAdmin(need(req), 'os_compute_api:os-services:update');
      const b = (req.body ?? {}) as { host?: unknown; binary?: unknown; disabled_reason?: unknown };
      if (typeof b.host !== 'string' || typeof b.binary !== 'string')
        throw badRequest('The body needs host and binary.');
      const reason = op === 'disable-log-reason' ? b.disabled_reason : null;
      if (op === 'disable-log-reason' && (typeof reason !== 'string' || reason.length > 255)) {
        throw badRequest('disabled_reason must be a string of at most 255 characters.');
      }
      if (
        !(await d.repos.services.setDisabled(
          b.host,
          b.binary,
          op !== 'enable',
          (reason as string | null) ?? null,
        ))
      ) {
        throw notFound(`Service ${b.binary} on host ${b.host} could not be found.`);
      }
      const service: Record<string, unknown> = {
        host: b.host,
        binary: b.binary,
        status: op === 'enable' ? 'enabled' : 'disabled',
      };
      if (op === 'disable-log-reason') service.disabled_reason = reason;
      return { service };
    });
  }
}
