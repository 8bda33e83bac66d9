// The database schema as Kysely sees it. Types are chosen to mean the same on SQLite and
// PostgreSQL: text ids and ISO-8601 timestamps, integers 0/1 for booleans, JSON as text.
import type { Generated } from 'kysely';

export interface ProjectTable {
  id: string;
  name: string;
  domain_id: string;
  description: string;
  enabled: number;
  created_at: string;
}

export interface UserTable {
  id: string;
  name: string;
  domain_id: string;
  /** scrypt$N$r$p$salt$hash (base64) */
  password_hash: string;
  default_project_id: string | null;
  enabled: number;
  created_at: string;
}

export interface RoleTable {
  id: string;
  name: string;
}

export interface RoleAssignmentTable {
  user_id: string;
  project_id: string;
  role_id: string;
}

export interface TokenTable {
  /** sha256 hex of the opaque token; the token itself is never stored. */
  token_hash: string;
  user_id: string;
  project_id: string | null;
  methods: string;
  audit_id: string;
  issued_at: string;
  expires_at: string;
}

export interface CounterTable {
  name: string;
  value: number;
}

export interface FlavorTable {
  id: string;
  name: string;
  vcpus: number;
  memory_mb: number;
  root_gb: number;
  ephemeral_gb: number;
  swap_mb: number;
  rxtx_factor: number;
  is_public: number;
  disabled: number;
  created_at: string;
}

export interface FlavorExtraSpecTable {
  flavor_id: string;
  key: string;
  value: string;
}

export interface FlavorAccessTable {
  flavor_id: string;
  project_id: string;
}

export interface ImageTable {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  protected: number;
  os_hidden: number;
  owner: string | null;
  container_format: string | null;
  disk_format: string | null;
  min_disk: number;
  min_ram: number;
  size: number | null;
  virtual_size: number | null;
  checksum: string | null;
  os_hash_algo: string | null;
  os_hash_value: string | null;
  location: string | null;
  /** Why the image is `killed` (the inspector's or the store's message). */
  failure: string | null;
  created_at: string;
  updated_at: string;
}

export interface ImagePropertyTable {
  image_id: string;
  key: string;
  value: string;
}

export interface ImageTagTable {
  image_id: string;
  tag: string;
}

export interface InstanceTable {
  uuid: string;
  /** Small integer for the libvirt-style name instance-%08x. */
  number: number;
  display_name: string;
  project_id: string;
  user_id: string;
  flavor_id: string;
  /** The flavor as it was at boot (Nova keeps a copy: the flavor may change or go). */
  flavor_json: string;
  image_id: string;
  vm_state: string;
  task_state: string | null;
  power_state: number;
  host: string | null;
  node: string | null;
  availability_zone: string;
  key_name: string | null;
  metadata_json: string;
  reservation_id: string;
  locked: number;
  access_ipv4: string;
  access_ipv6: string;
  disk_config: string;
  /** Base64 user data as received (migration 0007); read with InstanceRepo.userData. */
  user_data?: string | null;
  /** '' or 'True' (migration 0007). */
  config_drive: string;
  hostname: string;
  launch_index: number;
  created_at: string;
  updated_at: string;
  launched_at: string | null;
  terminated_at: string | null;
  deleted: number;
  deleted_at: string | null;
}

export interface InstanceActionTable {
  id: string;
  instance_uuid: string;
  request_id: string;
  action: string;
  user_id: string;
  project_id: string;
  start_time: string;
  finish_time: string | null;
  message: string | null;
}

export interface InstanceActionEventTable {
  id: Generated<number>;
  action_id: string;
  event: string;
  start_time: string;
  finish_time: string | null;
  result: string | null;
  traceback: string | null;
}

export interface InstanceFaultTable {
  id: Generated<number>;
  instance_uuid: string;
  code: number;
  message: string;
  details: string;
  created_at: string;
}

export interface KeypairTable {
  id: number;
  user_id: string;
  name: string;
  public_key: string;
  fingerprint: string;
  type: string;
  created_at: string;
}

export interface ResourceProviderTable {
  uuid: string;
  /** Integer id (hypervisor ids are integers at microversion 2.1). */
  number: number;
  name: string;
  generation: number;
}

export interface InventoryTable {
  provider_uuid: string;
  resource_class: string;
  total: number;
  reserved: number;
  min_unit: number;
  max_unit: number;
  step_size: number;
  allocation_ratio: number;
}

export interface ProviderTraitTable {
  provider_uuid: string;
  trait: string;
}

export interface AllocationTable {
  consumer_uuid: string;
  provider_uuid: string;
  resource_class: string;
  used: number;
}

export interface ProviderNumaTopologyTable {
  provider_uuid: string;
  topology: string;
}

export interface NumaPlacementTable {
  consumer_uuid: string;
  provider_uuid: string;
  placement: string;
}

export interface ServiceTable {
  id: number;
  host: string;
  binary: string;
  topic: string;
  zone: string;
  disabled: number;
  disabled_reason: string | null;
  updated_at: string;
  created_at: string;
}

export interface ComputeHostReportTable {
  host: string;
  /** The agent's HostReport as JSON text. */
  report: string;
  reported_at: string;
}

export interface ConsoleAuthTokenTable {
  token_hash: string;
  console_type: string;
  instance_uuid: string;
  project_id: string;
  host: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

/** Networking v2 resources as JSON documents (migration 0006 says why). */
export interface NetworkResourceTable {
  id: string;
  kind: string;
  project_id: string;
  /** The network of a subnet or port; the security group of a rule. */
  parent_id: string | null;
  device_id: string | null;
  mac_address: string | null;
  body: string;
  created_at: string;
  updated_at: string;
}

export interface NetworkIpAllocationTable {
  subnet_id: string;
  ip_address: string;
  port_id: string;
}

export interface Database {
  projects: ProjectTable;
  users: UserTable;
  roles: RoleTable;
  role_assignments: RoleAssignmentTable;
  tokens: TokenTable;
  counters: CounterTable;
  flavors: FlavorTable;
  flavor_extra_specs: FlavorExtraSpecTable;
  flavor_access: FlavorAccessTable;
  images: ImageTable;
  image_properties: ImagePropertyTable;
  image_tags: ImageTagTable;
  instances: InstanceTable;
  instance_actions: InstanceActionTable;
  instance_action_events: InstanceActionEventTable;
  instance_faults: InstanceFaultTable;
  keypairs: KeypairTable;
  resource_providers: ResourceProviderTable;
  inventories: InventoryTable;
  provider_traits: ProviderTraitTable;
  allocations: AllocationTable;
  provider_numa_topologies: ProviderNumaTopologyTable;
  numa_placements: NumaPlacementTable;
  services: ServiceTable;
  compute_host_reports: ComputeHostReportTable;
  console_auth_tokens: ConsoleAuthTokenTable;
  network_resources: NetworkResourceTable;
  network_ip_allocations: NetworkIpAllocationTable;
}
