// Security groups and their rules. Every project has a `default` group, made on first use:
// all egress allowed, ingress only from members of the same group (Neutron's default). A rule
// change rewrites the chains of the ports in that group; membership is an nftables set, so a
// port joining or leaving changes set elements, not other ports' chains.
import type { NetworkResource } from '../../db/index.js';
import type { RequestContext } from '../context.js';
import type { NetworkContext } from './context.js';
import { NeutronError, inUse, invalidInput } from './errors.js';
import { optInt, optNullableString, optString, resourceBody } from './fields.js';
import { parseCidr } from './ipam.js';
import type { PortDoc, RuleDoc, SecurityGroupDoc } from './model.js';
import type { Quotas } from './quotas.js';
import type { Ports } from './ports.js';

const PROTOCOLS: Record<string, number> = {
  icmp: 1,
  tcp: 6,
  udp: 17,
  icmpv6: 58,
  gre: 47,
  sctp: 132,
  any: 0,
};

const RULE_FIELDS = [
  'security_group_id',
  'direction',
  'ethertype',
  'protocol',
  'port_range_min',
  'port_range_max',
  'remote_ip_prefix',
  'remote_group_id',
  'remote_address_group_id',
  'description',
  'project_id',
  'tenant_id',
] as const;

export type SecurityGroupView = SecurityGroupDoc & { security_group_rules: RuleDoc[] };

export class SecurityGroups {
  constructor(
    private readonly nc: NetworkContext,
    private readonly quotas: Quotas,
    private readonly ports: () => Ports,
  ) {}

  async view(r: NetworkResource<SecurityGroupDoc>): Promise<SecurityGroupView> {
    const rules = await this.nc.repos.networking.list<RuleDoc>('security_group_rule', { parentId: r.id });
    return { ...r.body, security_group_rules: rules.map((x) => x.body) };
  }

  /** The project's `default` group, created with Neutron's four rules when missing. */
  async ensureDefault(projectId: string): Promise<NetworkResource<SecurityGroupDoc>> {
    const existing = (
      await this.nc.repos.networking.list<SecurityGroupDoc>('security_group', { projectId })
    ).find((g) => g.body.name === 'default');
    if (existing) return existing;
    const now = this.nc.now();
    const doc: SecurityGroupDoc = {
      id: this.nc.newId(),
      name: 'default',
      description: 'Default security group',
      project_id: projectId,
      tags: [],
      created_at: now,
      updated_at: now,
      revision_number: 0,
      stateful: true,
    };
    const row = await this.nc.repos.networking.insert({
      id: doc.id,
      kind: 'security_group',
      projectId,
      parentId: null,
      deviceId: null,
      macAddress: null,
      body: doc,
    });
    for (const ethertype of ['IPv4', 'IPv6'] as const) {
      await this.insertRule(projectId, {
        security_group_id: doc.id,
        direction: 'egress',
        ethertype,
        protocol: null,
        port_range_min: null,
        port_range_max: null,
        remote_ip_prefix: null,
        remote_group_id: null,
      });
      await this.insertRule(projectId, {
        security_group_id: doc.id,
        direction: 'ingress',
        ethertype,
        protocol: null,
        port_range_min: null,
        port_range_max: null,
        remote_ip_prefix: null,
        remote_group_id: doc.id,
      });
    }
    return row;
  }

  async list(ctx: RequestContext): Promise<SecurityGroupView[]> {
    await this.ensureDefault(ctx.projectId);
    const rows = await this.nc.visibleList<SecurityGroupDoc>(ctx, 'security_group');
    return Promise.all(rows.map((r) => this.view(r)));
  }

  async show(ctx: RequestContext, id: string): Promise<SecurityGroupView> {
    return this.view(await this.nc.visible<SecurityGroupDoc>(ctx, 'security_group', id));
  }

  async create(ctx: RequestContext, body: unknown): Promise<SecurityGroupView> {
    const b = resourceBody(body, 'security_group', [
      'name',
      'description',
      'project_id',
      'tenant_id',
      'stateful',
    ]);
    const projectId = this.nc.projectFor(ctx, b);
    const name = optString(b, 'name') ?? '';
    if (name === 'default') {
      await this.ensureDefault(projectId);
      throw new NeutronError(
        'conflict',
        'SecurityGroupDefaultAlreadyExists',
        'Default security group already exists. Fix: use another name.',
      );
    }
    if (b.stateful === false)
      throw invalidInput('Stateless security groups are not supported (stateful must be true).');
    await this.ensureDefault(projectId);
    await this.quotas.check('security_group', projectId);
    const doc: SecurityGroupDoc = {
      ...this.nc.common(ctx, { name, description: optString(b, 'description') }, projectId),
      stateful: true,
    };
    const row = await this.nc.repos.networking.insert({
      id: doc.id,
      kind: 'security_group',
      projectId,
      parentId: null,
      deviceId: null,
      macAddress: null,
      body: doc,
    });
    for (const ethertype of ['IPv4', 'IPv6'] as const)
      await this.insertRule(projectId, {
        security_group_id: doc.id,
        direction: 'egress',
        ethertype,
        protocol: null,
        port_range_min: null,
        port_range_max: null,
        remote_ip_prefix: null,
        remote_group_id: null,
      });
    return this.view(row);
  }

  async update(ctx: RequestContext, id: string, body: unknown): Promise<SecurityGroupView> {
    const r = await this.nc.owned<SecurityGroupDoc>(ctx, 'security_group', id);
    const b = resourceBody(body, 'security_group', ['name', 'description']);
    const name = optString(b, 'name');
    if (r.body.name === 'default' && name !== undefined && name !== 'default')
      throw new NeutronError(
        'conflict',
        'SecurityGroupCannotUpdateDefault',
        'Updating default security group not allowed.',
      );
    r.body.name = name ?? r.body.name;
    r.body.description = optString(b, 'description') ?? r.body.description;
    await this.nc.save('security_group', r);
    return this.view(r);
  }

  async delete(ctx: RequestContext, id: string): Promise<void> {
    const r = await this.nc.owned<SecurityGroupDoc>(ctx, 'security_group', id);
    if (r.body.name === 'default' && !ctx.isAdmin)
      throw new NeutronError(
        'conflict',
        'SecurityGroupCannotRemoveDefault',
        'Insufficient rights for removing default security group.',
      );
    const users = (await this.nc.repos.networking.list<PortDoc>('port')).filter((p) =>
      p.body.security_groups.includes(id),
    );
    if (users.length)
      throw inUse(
        'SecurityGroupInUse',
        `Security Group ${id} in use by port(s) ${users.map((p) => p.id).join(', ')}. Fix: remove it from those ports first (openstack port set --no-security-group).`,
      );
    for (const rule of await this.nc.repos.networking.list('security_group_rule', { parentId: id }))
      await this.nc.repos.networking.delete('security_group_rule', rule.id);
    await this.nc.repos.networking.delete('security_group', id);
  }

  // --- rules -------------------------------------------------------------------------------

  async listRules(ctx: RequestContext): Promise<RuleDoc[]> {
    await this.ensureDefault(ctx.projectId);
    return (await this.nc.visibleList<RuleDoc & { project_id: string }>(ctx, 'security_group_rule')).map(
      (r) => r.body,
    );
  }

  async showRule(ctx: RequestContext, id: string): Promise<RuleDoc> {
    return (await this.nc.visible<RuleDoc>(ctx, 'security_group_rule', id)).body;
  }

  async createRule(ctx: RequestContext, body: unknown): Promise<RuleDoc> {
    const b = resourceBody(body, 'security_group_rule', RULE_FIELDS);
    const sgId = optString(b, 'security_group_id');
    if (!sgId) throw invalidInput('Invalid input for security_group_id: it is required.');
    const sg = await this.nc.owned<SecurityGroupDoc>(ctx, 'security_group', sgId);
    const direction = optString(b, 'direction');
    if (direction !== 'ingress' && direction !== 'egress')
      throw invalidInput(
        `Invalid input for direction: '${String(direction)}' is not in ['ingress', 'egress'].`,
      );
    const ethertype = optString(b, 'ethertype') ?? 'IPv4';
    if (ethertype !== 'IPv4' && ethertype !== 'IPv6')
      throw invalidInput(`Invalid input for ethertype: '${ethertype}' is not in ['IPv4', 'IPv6'].`);
    let protocol = optNullableString(b, 'protocol') ?? null;
    if (typeof b.protocol === 'number') protocol = String(b.protocol);
    if (protocol !== null) {
      protocol = protocol.toLowerCase();
      if (!(protocol in PROTOCOLS) && !(/^\d+$/.test(protocol) && Number(protocol) <= 255))
        throw new NeutronError(
          'bad-request',
          'SecurityGroupRuleInvalidProtocol',
          `Security group rule protocol ${protocol} not supported. Only protocol values [${Object.keys(PROTOCOLS).join(', ')}] and integer representations [0 to 255] are supported.`,
        );
      if (protocol === 'any' || protocol === '0') protocol = null;
    }
    const min = optInt(b, 'port_range_min', 0, 65535) ?? null;
    const max = optInt(b, 'port_range_max', 0, 65535) ?? null;
    const isPorted = protocol === 'tcp' || protocol === 'udp' || protocol === '6' || protocol === '17';
    if ((min !== null || max !== null) && protocol === null)
      throw new NeutronError(
        'bad-request',
        'SecurityGroupProtocolRequiredWithPorts',
        'Must also specify protocol if port range is given.',
      );
    if (isPorted && (min !== null || max !== null)) {
      if (min === null || max === null || min < 1 || min > max)
        throw new NeutronError(
          'bad-request',
          'SecurityGroupInvalidPortRange',
          `For TCP/UDP protocols, port_range_min (${min}) must be 1 to 65535 and <= port_range_max (${max}).`,
        );
    }
    if (
      (protocol === 'icmp' || protocol === '1') &&
      ((min !== null && min > 255) || (max !== null && max > 255))
    )
      throw new NeutronError(
        'bad-request',
        'SecurityGroupInvalidIcmpValue',
        `Invalid value for ICMP type ${min} or code ${max}: each must be 0 to 255.`,
      );
    const remoteGroup = optNullableString(b, 'remote_group_id') ?? null;
    let remotePrefix = optNullableString(b, 'remote_ip_prefix') ?? null;
    if (remoteGroup && remotePrefix)
      throw new NeutronError(
        'bad-request',
        'SecurityGroupRemoteGroupAndRemoteIpPrefix',
        'Only remote_ip_prefix or remote_group_id may be provided.',
      );
    if (remoteGroup) await this.nc.visible(ctx, 'security_group', remoteGroup);
    if (remotePrefix) {
      if (ethertype === 'IPv6') throw invalidInput('IPv6 remote_ip_prefix is not supported yet.');
      const c = parseCidr(remotePrefix.includes('/') ? remotePrefix : `${remotePrefix}/32`);
      if (typeof c === 'string' && remotePrefix !== '0.0.0.0/0')
        throw invalidInput(`Invalid input for remote_ip_prefix: ${c}.`);
      remotePrefix = typeof c === 'string' ? '0.0.0.0/0' : c.text;
    }
    const want = {
      security_group_id: sgId,
      direction,
      ethertype,
      protocol,
      port_range_min: min,
      port_range_max: max,
      remote_ip_prefix: remotePrefix,
      remote_group_id: remoteGroup,
    } as const;
    for (const existing of await this.nc.repos.networking.list<RuleDoc>('security_group_rule', {
      parentId: sgId,
    })) {
      const e = existing.body;
      if (
        e.direction === want.direction &&
        e.ethertype === want.ethertype &&
        e.protocol === want.protocol &&
        e.port_range_min === want.port_range_min &&
        e.port_range_max === want.port_range_max &&
        e.remote_ip_prefix === want.remote_ip_prefix &&
        e.remote_group_id === want.remote_group_id
      )
        throw new NeutronError(
          'conflict',
          'SecurityGroupRuleExists',
          `Security group rule already exists. Rule id is ${e.id}.`,
        );
    }
    await this.quotas.check('security_group_rule', sg.projectId);
    const rule = await this.insertRule(sg.projectId, {
      ...want,
      description: optString(b, 'description') ?? '',
    });
    try {
      await this.ports().replugGroup(sgId);
    } catch (e) {
      await this.nc.repos.networking.delete('security_group_rule', rule.id);
      await this.ports()
        .replugGroup(sgId)
        .catch(() => undefined);
      throw e;
    }
    return rule;
  }

  async deleteRule(ctx: RequestContext, id: string): Promise<void> {
    const r = await this.nc.owned<RuleDoc>(ctx, 'security_group_rule', id);
    await this.nc.repos.networking.delete('security_group_rule', id);
    await this.ports().replugGroup(r.body.security_group_id);
  }

  private async insertRule(
    projectId: string,
    r: Omit<
      RuleDoc,
      | 'id'
      | 'project_id'
      | 'created_at'
      | 'updated_at'
      | 'revision_number'
      | 'description'
      | 'remote_address_group_id'
    > & { description?: string },
  ): Promise<RuleDoc> {
    const now = this.nc.now();
    const doc: RuleDoc = {
      id: this.nc.newId(),
      description: '',
      ...r,
      remote_address_group_id: null,
      project_id: projectId,
      created_at: now,
      updated_at: now,
      revision_number: 0,
    };
    await this.nc.repos.networking.insert({
      id: doc.id,
      kind: 'security_group_rule',
      projectId,
      parentId: r.security_group_id,
      deviceId: null,
      macAddress: null,
      body: doc,
    });
    return doc;
  }
}
