// Servers (Compute v2.1 §2.6–2.8): validation of the whole request before anything is
// written, the instance row and its "create" action, scheduling with a claim, then the
// compute agent; actions with their state preconditions; instance actions.
import { randomBytes, randomUUID } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import type { Fault, FlavorSnapshot, ImageRecord, Instance, Repositories } from '../db/index.js';
import type { ComputeAgent, PowerAction } from '../compute/agent.js';
import { silentLogger, type Logger } from '../util/log.js';
import type { RequestContext } from './context.js';
import { ServiceError, badRequest, conflict, forbidden, notFound } from './errors.js';
import type { FlavorService } from './flavors.js';
import { requireAdmin } from './flavors.js';
import { isUuid, type ImageService } from './images.js';
import { buildResourceRequest } from './scheduler/request.js';
import { claimResources } from './scheduler/claim.js';
import { statusOf, vmStatesFor } from './server-state.js';
import { parseOsloBool } from './validate.js';
import { refuseSevAction, validateMemoryEncryption, type SevHostDefaults } from './sev.js';

export interface ServerView {
  instance: Instance;
  fault?: Fault;
}

export interface ServerCreateResult {
  servers: Instance[];
  adminPass: string;
  reservationId: string;
}

export interface ServerListQuery {
  [k: string]: string | string[] | undefined;
}

interface BlockDevice {
  source_type?: string;
  destination_type?: string;
  uuid?: string;
  boot_index?: number | string | null;
}

const GiB = 1024 ** 3;
const ACTIONS_WITH_STATE: Record<
  string,
  { action: PowerAction; from: string[]; task: string; record: string }
> = {
  'os-start': { action: 'start', from: ['stopped'], task: 'powering-on', record: 'start' },
  'os-stop': {
    action: 'stop',
    from: ['active', 'error', 'paused', 'suspended', 'rescued'],
    task: 'powering-off',
    record: 'stop',
  },
  pause: { action: 'pause', from: ['active'], task: 'pausing', record: 'pause' },
  unpause: { action: 'unpause', from: ['paused'], task: 'unpausing', record: 'unpause' },
  suspend: { action: 'suspend', from: ['active'], task: 'suspending', record: 'suspend' },
  resume: { action: 'resume', from: ['suspended'], task: 'resuming', record: 'resume' },
};

const UNSUPPORTED_ACTIONS = new Set([
  'shelve',
  'shelveOffload',
  'unshelve',
  'rebuild',
  'resize',
  'confirmResize',
  'revertResize',
  'migrate',
  'os-migrateLive',
  'evacuate',
  'rescue',
  'unrescue',
  'changePassword',
  'addSecurityGroup',
  'removeSecurityGroup',
  'createBackup',
  'trigger_crash_dump',
  'addFixedIp',
  'removeFixedIp',
  'addFloatingIp',
  'removeFloatingIp',
  'restore',
]);

export class ServerService {
  private readonly log: Logger;
  private readonly background = new Set<Promise<unknown>>();

  constructor(
    private readonly repos: Repositories,
    private readonly flavors: FlavorService,
    private readonly images: ImageService,
    private readonly agents: Map<string, ComputeAgent>,
    opts: { logger?: Logger; maxCount?: number; sevDefaults?: SevHostDefaults } = {},
  ) {
    this.log = (opts.logger ?? silentLogger).child({ component: 'servers' });
    this.maxCount = opts.maxCount ?? 100;
    this.sevDefaults = opts.sevDefaults ?? {};
  }
  private readonly maxCount: number;
  private readonly sevDefaults: SevHostDefaults;

  /** Waits for scheduling and builds started by this service (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.background.size) await Promise.allSettled([...this.background]);
  }

  private spawnBackground(p: Promise<unknown>): void {
    const tracked = p.catch((e) => this.log.error({ err: e }, 'background work failed'));
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }

  /** The instance if the caller may see it; another project's server is a 404, not a 403. */
  async find(ctx: RequestContext, id: string): Promise<Instance> {
    const inst = isUuid(id) ? await this.repos.instances.get(id) : undefined;
    if (!inst || (!ctx.isAdmin && inst.projectId !== ctx.projectId)) {
      throw notFound(`Instance ${id} could not be found.`);
    }
    return inst;
  }

  async get(ctx: RequestContext, id: string): Promise<ServerView> {
    const instance = await this.find(ctx, id);
    const fault = (await this.repos.instances.latestFaults([instance.uuid])).get(instance.uuid);
    return { instance, fault };
  }

  // --- create ---------------------------------------------------------------------------

  async create(
    ctx: RequestContext,
    body: Record<string, unknown>,
    hints: Record<string, unknown> | undefined,
  ): Promise<ServerCreateResult> {
    void hints;
    const name = body.name;
    if (typeof name !== 'string' || name.trim() === '' || name.length > 255) {
      throw badRequest(
        'Invalid input for field/attribute name: a server name is 1 to 255 characters, not only spaces.',
      );
    }
    const image = await this.resolveImage(ctx, body);
    const flavorRef = body.flavorRef;
    if (typeof flavorRef !== 'string' && typeof flavorRef !== 'number')
      throw badRequest('flavorRef is required.');
    const flavorId = String(flavorRef).replace(/\/+$/, '').split('/').pop()!;
    const flavor = await this.flavors.get(ctx, flavorId).catch((e) => {
      if (e instanceof ServiceError && e.code === 'not_found')
        throw badRequest(`Flavor ${flavorId} could not be found.`);
      throw e;
    });
    if (flavor.disabled) throw badRequest(`Flavor ${flavor.id} is disabled.`);
    const extraSpecs = await this.repos.flavors.extraSpecs(flavor.id);
    const snapshot: FlavorSnapshot = {
      id: flavor.id,
      name: flavor.name,
      vcpus: flavor.vcpus,
      memoryMb: flavor.memoryMb,
      rootGb: flavor.rootGb,
      ephemeralGb: flavor.ephemeralGb,
      swapMb: flavor.swapMb,
      extraSpecs,
    };
    this.checkFit(snapshot, image);
    // Builds the request now so that trait conflicts are a 400 here, not a fault later.
    buildResourceRequest(snapshot, image.properties, Math.ceil((image.virtualSize ?? 0) / GiB));
    validateMemoryEncryption(snapshot, image, this.sevDefaults);
    this.checkMemoryEncryption(snapshot, image);

    const networks = body.networks;
    if (networks !== undefined && !(Array.isArray(networks) && networks.length === 0)) {
      if (Array.isArray(networks)) {
        const first = networks[0] as { uuid?: string; port?: string };
        throw badRequest(
          `Network ${first?.uuid ?? first?.port ?? ''} could not be found: Kestrel has no networking service; boot without --nic.`,
        );
      }
      throw badRequest('networks must be a list at microversion 2.1 ("none" and "auto" need 2.37).');
    }
    const metadata = this.checkMetadata(body.metadata);
    let keyName: string | null = null;
    if (body.key_name !== undefined && body.key_name !== null) {
      if (typeof body.key_name !== 'string') throw badRequest('key_name must be a string.');
      if (!(await this.repos.keypairs.get(ctx.userId, body.key_name))) {
        throw badRequest(`Invalid key_name provided: keypair ${body.key_name} does not exist.`);
      }
      keyName = body.key_name;
    }
    const az = body.availability_zone;
    if (
      az !== undefined &&
      az !== null &&
      az !== 'nova' &&
      !(typeof az === 'string' && az.startsWith('nova:'))
    ) {
      throw badRequest(
        `The requested availability zone ${String(az)} is not available; the only zone is "nova".`,
      );
    }
    if (typeof az === 'string' && az.startsWith('nova:'))
      requireAdmin(ctx, 'forcing a host with availability_zone');
    if (body.personality !== undefined) {
      throw badRequest('personality (file injection) is not supported; use user_data.');
    }
    if (body.user_data !== undefined && body.user_data !== null) {
      if (
        typeof body.user_data !== 'string' ||
        body.user_data.length > 65535 ||
        !/^[A-Za-z0-9+/=\s]*$/.test(body.user_data)
      ) {
        throw badRequest('user_data must be base64 text of at most 65535 characters.');
      }
    }
    const ip4 = body.accessIPv4 ?? '';
    const ip6 = body.accessIPv6 ?? '';
    if (typeof ip4 !== 'string' || (ip4 !== '' && !isIPv4(ip4)))
      throw badRequest(`accessIPv4 ${String(ip4)} is not an IPv4 address.`);
    if (typeof ip6 !== 'string' || (ip6 !== '' && !isIPv6(ip6)))
      throw badRequest(`accessIPv6 ${String(ip6)} is not an IPv6 address.`);
    const diskConfig = body['OS-DCF:diskConfig'] ?? 'AUTO';
    if (diskConfig !== 'AUTO' && diskConfig !== 'MANUAL')
      throw badRequest('OS-DCF:diskConfig must be AUTO or MANUAL.');
    const count = (v: unknown, what: string) => {
      if (v === undefined) return 1;
      const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
        throw badRequest(`${what} must be a whole number ≥ 1.`);
      return n;
    };
    const minCount = count(body.min_count, 'min_count');
    const maxCount = count(body.max_count, 'max_count');
    if (minCount > maxCount) throw badRequest('min_count must be ≤ max_count.');
    if (maxCount > this.maxCount) throw badRequest(`max_count is at most ${this.maxCount}.`);
    const adminPass =
      typeof body.adminPass === 'string' ? body.adminPass : randomBytes(9).toString('base64url');
    const reservationId = `r-${randomBytes(6).toString('hex')}`;

    const servers: Instance[] = [];
    for (let i = 0; i < maxCount; i++) {
      const inst = await this.repos.instances.create({
        uuid: randomUUID(),
        displayName: maxCount > 1 ? `${name}-${i + 1}` : name,
        projectId: ctx.projectId,
        userId: ctx.userId,
        flavor: snapshot,
        imageId: image.id,
        availabilityZone: 'nova',
        keyName,
        metadata,
        reservationId,
        accessIpv4: ip4,
        accessIpv6: ip6 === '' ? '' : normalizeV6(ip6),
        diskConfig: diskConfig as string,
      });
      const action = await this.repos.instances.startAction({
        instanceUuid: inst.uuid,
        requestId: ctx.requestId,
        action: 'create',
        userId: ctx.userId,
        projectId: ctx.projectId,
      });
      servers.push(inst);
      this.spawnBackground(this.scheduleAndBuild(inst, image, action.id));
    }
    return { servers, adminPass, reservationId };
  }

  private async resolveImage(ctx: RequestContext, body: Record<string, unknown>): Promise<ImageRecord> {
    let imageRef = body.imageRef;
    const bdms = body.block_device_mapping_v2;
    if (bdms !== undefined) {
      if (!Array.isArray(bdms)) throw badRequest('block_device_mapping_v2 must be a list.');
      for (const raw of bdms as BlockDevice[]) {
        if (!raw || typeof raw !== 'object')
          throw badRequest('Each block_device_mapping_v2 entry must be an object.');
        const src = raw.source_type ?? 'image';
        const dst = raw.destination_type ?? 'local';
        if (dst !== 'local' || (src !== 'image' && src !== 'blank')) {
          throw badRequest(
            `Block device mapping ${src}→${dst} is not supported: Kestrel has no volume service; only the image as the local root disk.`,
          );
        }
        if (src === 'blank') {
          throw badRequest('Swap and ephemeral block devices (source_type blank) are not supported yet.');
        }
        const boot = raw.boot_index === undefined || raw.boot_index === null ? -1 : Number(raw.boot_index);
        if (src === 'image' && boot === 0) {
          if (typeof raw.uuid !== 'string') throw badRequest('The image block device needs a uuid.');
          if (imageRef && imageRef !== raw.uuid)
            throw badRequest('imageRef and the boot block device name different images.');
          imageRef = raw.uuid;
        }
      }
    }
    if (typeof imageRef !== 'string' || imageRef === '') {
      throw badRequest('imageRef is required: Kestrel boots from images (no volumes).');
    }
    const id = imageRef.replace(/\/+$/, '').split('/').pop()!;
    if (!isUuid(id)) throw badRequest(`Invalid imageRef provided: ${imageRef} is not an image id.`);
    const image = await this.images.get(ctx, id).catch((e) => {
      if (e instanceof ServiceError && e.code === 'not_found')
        throw badRequest(`Image ${id} could not be found.`);
      throw e;
    });
    if (image.status !== 'active') throw badRequest(`Image ${id} is not active (it is ${image.status}).`);
    return image;
  }

  private checkFit(flavor: FlavorSnapshot, image: ImageRecord): void {
    if (image.minRam > flavor.memoryMb) {
      throw badRequest(
        `Flavor's memory is too small for requested image: it has ${flavor.memoryMb} MB, the image needs ${image.minRam} MB.`,
      );
    }
    if (flavor.rootGb > 0) {
      if (image.minDisk > flavor.rootGb) {
        throw badRequest(
          `Flavor's disk is too small for requested image: ${flavor.rootGb} GB < min_disk ${image.minDisk} GB.`,
        );
      }
      if ((image.virtualSize ?? 0) > flavor.rootGb * GiB) {
        throw badRequest(
          `Flavor's disk is too small for requested image: flavor disk is ${flavor.rootGb * GiB} bytes, image is ${image.virtualSize} bytes.`,
        );
      }
    }
  }

  /** Encrypted memory (SEV) needs UEFI, q35, and a boot disk on virtio, SATA or SCSI. */
  private checkMemoryEncryption(flavor: FlavorSnapshot, image: ImageRecord): void {
    const f = flavor.extraSpecs['hw:mem_encryption'];
    const i = image.properties['hw_mem_encryption'];
    const fOn = f !== undefined && parseOsloBool(f);
    const iOn = i !== undefined && parseOsloBool(i);
    if (!fOn && !iOn) return;
    if ((f !== undefined && !fOn) || (i !== undefined && !iOn)) {
      throw badRequest(
        'Flavor and image disagree on hw:mem_encryption / hw_mem_encryption. Fix: set both the same, or only one.',
      );
    }
    const fw = image.properties['hw_firmware_type'];
    if (fw !== 'uefi') {
      throw badRequest(
        'Memory encryption requires UEFI firmware. Fix: openstack image set --property hw_firmware_type=uefi IMAGE.',
      );
    }
    const mt = image.properties['hw_machine_type'];
    if (mt !== undefined && !/q35/.test(mt)) {
      throw badRequest(
        `Memory encryption requires a q35 machine type, the image asks for ${mt}. Fix: --property hw_machine_type=q35.`,
      );
    }
    const bus = image.properties['hw_disk_bus'];
    if (bus !== undefined && !['virtio', 'sata', 'scsi'].includes(bus)) {
      throw badRequest(`Memory encryption needs the boot disk on virtio, sata or scsi, not ${bus}.`);
    }
  }

  private checkMetadata(m: unknown): Record<string, string> {
    if (m === undefined || m === null) return {};
    if (typeof m !== 'object' || Array.isArray(m)) throw badRequest('metadata must be an object of strings.');
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(m as Record<string, unknown>)) {
      if (k.length === 0 || k.length > 255) throw badRequest('Metadata keys are 1 to 255 characters.');
      if (typeof v !== 'string' || v.length > 255)
        throw badRequest(`Metadata value for ${k} must be a string of at most 255 characters.`);
      out[k] = v;
    }
    if (Object.keys(out).length > 128) throw badRequest('At most 128 metadata items per server.');
    return out;
  }

  /** Schedules (claim in one transaction) and hands the build to the chosen host's agent. */
  private async scheduleAndBuild(inst: Instance, image: ImageRecord, actionId: string): Promise<void> {
    const ev = await this.repos.instances.startEvent(actionId, 'conductor_schedule_and_build_instances');
    let host: string;
    try {
      const req = buildResourceRequest(
        inst.flavor,
        image.properties,
        Math.ceil((image.virtualSize ?? 0) / GiB),
      );
      const disabled = new Set(
        (await this.repos.services.list())
          .filter((s) => s.binary === 'nova-compute' && s.disabled)
          .map((s) => s.host),
      );
      const claim = await claimResources(this.repos, inst.uuid, req, { disabledHosts: disabled });
      host = claim.host;
      await this.repos.instances.finishEvent(ev, 'Success');
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      await this.repos.instances.finishEvent(ev, 'Error', message);
      await this.repos.instances.addFault(inst.uuid, { code: 500, message, details: message });
      await this.repos.instances.update(inst.uuid, { vmState: 'error', taskState: null });
      await this.repos.instances.finishAction(actionId, 'Error');
      return;
    }
    // Deleted while scheduling: give the claim back.
    if (!(await this.repos.instances.get(inst.uuid))) {
      await this.repos.placement.deleteAllocations(inst.uuid);
      return;
    }
    const agent = this.agents.get(host);
    if (!agent) {
      const message = `No compute agent for host ${host} in this process (a multi-host transport is not configured).`;
      await this.repos.instances.addFault(inst.uuid, { code: 500, message, details: message });
      await this.repos.instances.update(inst.uuid, { vmState: 'error', taskState: null });
      await this.repos.placement.deleteAllocations(inst.uuid);
      await this.repos.instances.finishAction(actionId, 'Error');
      return;
    }
    await this.repos.instances.update(inst.uuid, { host, node: host, taskState: 'networking' });
    await agent.build(inst.uuid, actionId);
  }

  // --- list -------------------------------------------------------------------------------

  async list(ctx: RequestContext, q: ServerListQuery): Promise<{ servers: ServerView[]; next?: string }> {
    const one = (k: string) => {
      const v = q[k];
      return Array.isArray(v) ? v[v.length - 1] : v;
    };
    const allTenants = one('all_tenants');
    const wantAll = allTenants !== undefined && ['', '1', 'true', 'True', 'yes'].includes(allTenants);
    let projectId: string | undefined = ctx.projectId;
    if (ctx.isAdmin) {
      if (wantAll) projectId = one('project_id') ?? one('tenant_id');
      else if (one('project_id') ?? one('tenant_id')) projectId = one('project_id') ?? one('tenant_id');
    }
    const status = one('status');
    let vmStates: string[] | undefined;
    let includeDeleted = false;
    if (status !== undefined) {
      if (status.toUpperCase() === 'DELETED') {
        if (!ctx.isAdmin) throw forbidden('Only administrators may list deleted servers.');
        includeDeleted = true;
      }
      vmStates = vmStatesFor(status) ?? [];
    }
    const vmStateF = one('vm_state');
    if (vmStateF !== undefined) vmStates = [vmStateF];
    const changesSince = one('changes-since');
    if (changesSince !== undefined && Number.isNaN(Date.parse(changesSince))) {
      throw badRequest('changes-since must be an ISO 8601 time.');
    }
    const imageF = one('image');
    const flavorF = one('flavor');
    let rows = await this.repos.instances.list({
      projectId,
      host: ctx.isAdmin ? one('host') : undefined,
      imageId: imageF?.split('/').pop(),
      flavorId: flavorF?.split('/').pop(),
      reservationId: one('reservation_id'),
      keyName: one('key_name'),
      userId: one('user_id'),
      vmStates,
      includeDeleted: includeDeleted || changesSince !== undefined,
      changesSince: changesSince ? new Date(changesSince).toISOString() : undefined,
    });
    if (status !== undefined) {
      const s = status.toUpperCase();
      rows = rows.filter((r) => statusOf(r.vmState, r.taskState) === s);
    }
    const nameF = one('name');
    if (nameF !== undefined) {
      let re: RegExp;
      try {
        re = new RegExp(nameF);
      } catch {
        throw badRequest(`name filter ${nameF} is not a valid regular expression.`);
      }
      rows = rows.filter((r) => re.test(r.displayName));
    }
    const taskF = one('task_state');
    if (taskF !== undefined) rows = rows.filter((r) => (r.taskState ?? '') === taskF);
    const powerF = one('power_state');
    if (powerF !== undefined) rows = rows.filter((r) => String(r.powerState) === powerF);
    const ipF = one('ip') ?? one('ip6');
    if (ipF !== undefined) rows = [];
    const sortKey = one('sort_key');
    if (sortKey !== undefined) {
      const dir = one('sort_dir') === 'asc' ? 1 : -1;
      const key =
        sortKey === 'display_name'
          ? 'displayName'
          : sortKey === 'created_at'
            ? 'createdAt'
            : sortKey === 'updated_at'
              ? 'updatedAt'
              : sortKey === 'uuid'
                ? 'uuid'
                : undefined;
      if (!key)
        throw badRequest(
          `sort_key ${sortKey} is not supported; use display_name, created_at, updated_at or uuid.`,
        );
      rows.sort((a, b) => String(a[key]).localeCompare(String(b[key])) * dir);
    }
    const marker = one('marker');
    if (marker !== undefined) {
      const i = rows.findIndex((r) => r.uuid === marker);
      if (i < 0) throw badRequest(`marker [${marker}] not found`);
      rows = rows.slice(i + 1);
    }
    const limitS = one('limit');
    let next: string | undefined;
    if (limitS !== undefined && !/^\d+$/.test(limitS)) throw badRequest('limit must be a whole number ≥ 0.');
    // Without a limit Nova still pages at [api] max_limit (osapi_max_limit, 1000).
    const limit = Math.min(limitS === undefined ? 1000 : Number(limitS), 1000);
    if (rows.length > limit) {
      rows = rows.slice(0, limit);
      next = rows.length ? rows[rows.length - 1].uuid : undefined;
    }
    const errored = rows.filter((r) => r.vmState === 'error' || r.deleted).map((r) => r.uuid);
    const faults = await this.repos.instances.latestFaults(errored);
    return { servers: rows.map((instance) => ({ instance, fault: faults.get(instance.uuid) })), next };
  }

  // --- update / delete -------------------------------------------------------------------

  async update(ctx: RequestContext, id: string, body: Record<string, unknown>): Promise<ServerView> {
    const inst = await this.find(ctx, id);
    const patch: { displayName?: string; accessIpv4?: string; accessIpv6?: string; diskConfig?: string } = {};
    for (const [k, v] of Object.entries(body)) {
      if (k === 'name') {
        if (typeof v !== 'string' || v.trim() === '' || v.length > 255)
          throw badRequest('name must be 1 to 255 characters.');
        patch.displayName = v;
      } else if (k === 'accessIPv4') {
        if (typeof v !== 'string' || (v !== '' && !isIPv4(v)))
          throw badRequest('accessIPv4 must be an IPv4 address.');
        patch.accessIpv4 = v;
      } else if (k === 'accessIPv6') {
        if (typeof v !== 'string' || (v !== '' && !isIPv6(v)))
          throw badRequest('accessIPv6 must be an IPv6 address.');
        patch.accessIpv6 = v === '' ? '' : normalizeV6(v);
      } else if (k === 'OS-DCF:diskConfig') {
        if (v !== 'AUTO' && v !== 'MANUAL') throw badRequest('OS-DCF:diskConfig must be AUTO or MANUAL.');
        patch.diskConfig = v;
      } else throw badRequest(`Additional properties are not allowed ('${k}' was unexpected).`);
    }
    await this.repos.instances.update(inst.uuid, patch);
    return this.get(ctx, id);
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const inst = await this.find(ctx, id);
    if (inst.locked && !ctx.isAdmin) throw conflict(`Instance ${id} is locked.`);
    await this.repos.instances.update(inst.uuid, { taskState: 'deleting' });
    const action = await this.repos.instances.startAction({
      instanceUuid: inst.uuid,
      requestId: ctx.requestId,
      action: 'delete',
      userId: ctx.userId,
      projectId: ctx.projectId,
    });
    const agent = inst.host ? this.agents.get(inst.host) : undefined;
    if (!agent) {
      // Never reached a host (no valid host, or still scheduling): nothing to destroy there.
      await this.repos.placement.deleteAllocations(inst.uuid);
      await this.repos.instances.markDeleted(inst.uuid);
      await this.repos.instances.finishAction(action.id, null);
      return;
    }
    this.spawnBackground(agent.delete(inst.uuid, action.id));
  }

  async setMetadata(
    ctx: RequestContext,
    id: string,
    metadata: unknown,
    replace: boolean,
  ): Promise<Record<string, string>> {
    const inst = await this.find(ctx, id);
    const m = this.checkMetadata(metadata);
    const merged = replace ? m : { ...inst.metadata, ...m };
    await this.repos.instances.update(inst.uuid, { metadata: merged });
    return merged;
  }

  async deleteMetadata(ctx: RequestContext, id: string, key: string): Promise<void> {
    const inst = await this.find(ctx, id);
    if (!(key in inst.metadata)) throw notFound(`Metadata item ${key} was not found.`);
    const m = { ...inst.metadata };
    delete m[key];
    await this.repos.instances.update(inst.uuid, { metadata: m });
  }

  // --- actions --------------------------------------------------------------------------

  private stateConflict(inst: Instance, action: string): ServiceError {
    return conflict(
      inst.taskState
        ? `Cannot '${action}' instance ${inst.uuid} while it is in task_state ${inst.taskState}`
        : `Cannot '${action}' instance ${inst.uuid} while it is in vm_state ${inst.vmState}`,
    );
  }

  /**
   * POST /servers/{id}/action. Returns undefined (202, empty), console output, or the
   * snapshot's image id (createImage).
   */
  async action(
    ctx: RequestContext,
    id: string,
    body: Record<string, unknown>,
  ): Promise<undefined | { output: string } | { imageId: string }> {
    const keys = Object.keys(body);
    if (keys.length !== 1)
      throw badRequest('The action body must have exactly one action key, e.g. {"os-stop": null}.');
    const name = keys[0];
    const arg = body[name];
    const inst = await this.find(ctx, id);
    const agent = inst.host ? this.agents.get(inst.host) : undefined;
    if (inst.locked && !ctx.isAdmin && name !== 'unlock' && name !== 'os-getConsoleOutput') {
      throw conflict(`Instance ${id} is locked; an administrator or its owner must unlock it first.`);
    }
    await refuseSevAction(name, inst, async (imageId) => (await this.repos.images.get(imageId))?.properties);
    const simple = ACTIONS_WITH_STATE[name];
    if (simple || name === 'reboot') {
      let plan = simple;
      if (name === 'reboot') {
        const type = (arg as { type?: unknown } | null)?.type;
        if (type !== 'SOFT' && type !== 'HARD' && type !== 'soft' && type !== 'hard') {
          throw badRequest('reboot needs {"type": "SOFT"} or {"type": "HARD"}.');
        }
        plan =
          String(type).toUpperCase() === 'HARD'
            ? {
                action: 'reboot-hard',
                from: ['active', 'stopped', 'paused', 'suspended', 'error'],
                task: 'rebooting_hard',
                record: 'reboot',
              }
            : { action: 'reboot-soft', from: ['active'], task: 'rebooting', record: 'reboot' };
      } else if (
        arg !== null &&
        arg !== undefined &&
        !(typeof arg === 'object' && Object.keys(arg).length === 0)
      ) {
        throw badRequest(`${name} takes no arguments ({"${name}": null}).`);
      }
      if (!agent) throw this.stateConflict(inst, name);
      if (!(await this.repos.instances.startTask(inst.uuid, plan.from, plan.task))) {
        throw this.stateConflict((await this.repos.instances.get(inst.uuid)) ?? inst, name);
      }
      const action = await this.repos.instances.startAction({
        instanceUuid: inst.uuid,
        requestId: ctx.requestId,
        action: plan.record,
        userId: ctx.userId,
        projectId: ctx.projectId,
      });
      this.spawnBackground(agent.act(inst.uuid, plan.action, action.id));
      return undefined;
    }
    switch (name) {
      case 'os-getConsoleOutput': {
        const len = (arg as { length?: unknown } | null)?.length;
        let lines: number | undefined;
        if (len !== undefined && len !== null) {
          const n = typeof len === 'string' && /^-?\d+$/.test(len) ? Number(len) : len;
          if (typeof n !== 'number' || !Number.isInteger(n) || n < -1)
            throw badRequest('length must be a whole number ≥ -1.');
          lines = n === -1 ? undefined : n;
        }
        if (!agent || inst.vmState === 'building') {
          throw conflict(
            `Cannot get the console output of instance ${id} while it is in vm_state ${inst.vmState}.`,
          );
        }
        let text: string;
        try {
          text = await agent.consoleOutput(inst.uuid, 1024 * 1024);
        } catch (e) {
          if ((e as { code?: unknown }).code === 'instance-not-found') {
            throw conflict(
              `Instance ${id} has no guest on its host (it is ${inst.vmState}); there is no console output.`,
            );
          }
          throw e;
        }
        if (lines === undefined) return { output: text };
        const all = text.split('\n');
        if (all.length && all[all.length - 1] === '') all.pop();
        return { output: lines === 0 ? '' : all.slice(-lines).join('\n') };
      }
      case 'createImage':
        return this.createImage(ctx, inst, arg, agent);
      case 'lock':
      case 'unlock':
        await this.repos.instances.update(inst.uuid, { locked: name === 'lock' });
        await this.recordInstant(ctx, inst, name);
        return undefined;
      case 'os-resetState': {
        requireAdmin(ctx, 'os_compute_api:os-admin-actions:reset_state');
        const state = (arg as { state?: unknown } | null)?.state;
        if (state !== 'error' && state !== 'active')
          throw badRequest('os-resetState needs {"state": "error"} or {"state": "active"}.');
        await this.repos.instances.update(inst.uuid, { vmState: state, taskState: null });
        return undefined;
      }
      case 'forceDelete':
        await this.delete(ctx, id);
        return undefined;
    }
    if (UNSUPPORTED_ACTIONS.has(name)) {
      throw new ServiceError('not_implemented', `The ${name} action is not implemented by Kestrel yet.`);
    }
    throw badRequest(`There is no such action: ${name}`);
  }

  private async recordInstant(ctx: RequestContext, inst: Instance, action: string): Promise<void> {
    const a = await this.repos.instances.startAction({
      instanceUuid: inst.uuid,
      requestId: ctx.requestId,
      action,
      userId: ctx.userId,
      projectId: ctx.projectId,
    });
    await this.repos.instances.finishAction(a.id, null);
  }

  private async createImage(
    ctx: RequestContext,
    inst: Instance,
    arg: unknown,
    agent: ComputeAgent | undefined,
  ): Promise<{ imageId: string }> {
    const a = arg as { name?: unknown; metadata?: unknown } | null;
    if (!a || typeof a.name !== 'string' || a.name.trim() === '' || a.name.length > 255) {
      throw badRequest('createImage needs {"name": "…"} (1 to 255 characters).');
    }
    const extra = this.checkMetadata(a.metadata);
    const allowed = ['active', 'stopped', 'paused', 'suspended'];
    if (!agent || !allowed.includes(inst.vmState)) throw this.stateConflict(inst, 'createImage');
    const source = await this.repos.images.get(inst.imageId);
    const props: Record<string, unknown> = { ...(source?.properties ?? {}) };
    for (const k of Object.keys(props)) if (k.startsWith('owner_specified.')) delete props[k];
    Object.assign(props, extra, {
      image_type: 'snapshot',
      instance_uuid: inst.uuid,
      base_image_ref: inst.imageId,
      user_id: ctx.userId,
    });
    if (!(await this.repos.instances.startTask(inst.uuid, allowed, 'image_snapshot'))) {
      throw this.stateConflict((await this.repos.instances.get(inst.uuid)) ?? inst, 'createImage');
    }
    let image: ImageRecord;
    try {
      image = await this.images.create(ctx, {
        name: a.name,
        disk_format: 'qcow2',
        container_format: 'bare',
        visibility: 'private',
        min_disk: source?.minDisk ?? 0,
        min_ram: source?.minRam ?? 0,
        ...props,
      });
    } catch (e) {
      await this.repos.instances.update(inst.uuid, { taskState: null });
      throw e;
    }
    const action = await this.repos.instances.startAction({
      instanceUuid: inst.uuid,
      requestId: ctx.requestId,
      action: 'createImage',
      userId: ctx.userId,
      projectId: ctx.projectId,
    });
    this.spawnBackground(agent.snapshot(inst.uuid, image.id, action.id));
    return { imageId: image.id };
  }

  // --- instance actions -------------------------------------------------------------------

  async listActions(ctx: RequestContext, id: string) {
    const inst = await this.find(ctx, id);
    return this.repos.instances.listActions(inst.uuid);
  }

  async getAction(ctx: RequestContext, id: string, requestId: string) {
    const inst = await this.find(ctx, id);
    const a = await this.repos.instances.getAction(inst.uuid, requestId);
    if (!a) throw notFound(`Action ${requestId} on instance ${id} could not be found.`);
    return a;
  }

  statusOf(inst: Instance): string {
    return statusOf(inst.vmState, inst.taskState);
  }
}

function normalizeV6(ip: string): string {
  // The canonical short form, as Python's netaddr prints it (tempest compares to that).
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip;
  }
}
