// The Neutron extensions Kestrel's Networking API implements (clients such as the openstack
// CLI ask for an alias before they send the fields it adds).
const ext = (alias: string, name: string, description: string) => ({
  alias,
  name,
  description,
  links: [],
  updated: '2026-01-01T00:00:00-00:00',
});

export const EXTENSIONS = [
  ext('external-net', 'Neutron external network', 'Adds external network attribute to network resource.'),
  ext(
    'router',
    'Neutron L3 Router',
    'Router abstraction for basic L3 forwarding between L2 Neutron networks and access to external networks via a NAT gateway.',
  ),
  ext(
    'ext-gw-mode',
    'Neutron L3 Configurable external gateway mode',
    'Extension of the router abstraction for specifying whether SNAT should occur on the external gateway.',
  ),
  ext('security-group', 'security-group', 'The security groups extension.'),
  ext('port-security', 'Port Security', 'Provides port security.'),
  ext('allowed-address-pairs', 'Allowed Address Pairs', 'Provides allowed address pairs.'),
  ext('binding', 'Port Binding', 'Expose port bindings of a virtual port to external application.'),
  ext('quotas', 'Quota management support', 'Expose functions for quotas management per project.'),
  ext(
    'quota_details',
    'Quota details management support',
    'Expose functions for quotas usage statistics per project.',
  ),
  ext('net-mtu', 'Network MTU', 'Provides MTU attribute for a network resource.'),
  ext('project-id', 'project_id field enabled', 'Extension that indicates that project_id field is enabled.'),
  ext(
    'standard-attr-description',
    'standard-attr-description',
    'Extension to add descriptions to standard attributes.',
  ),
  ext(
    'standard-attr-timestamp',
    'Resource timestamps',
    'Adds created_at and updated_at fields to all Neutron resources that have Neutron standard attributes.',
  ),
  ext(
    'standard-attr-revisions',
    'Resource revision numbers',
    'This extension will display the revision number of neutron resources.',
  ),
  ext(
    'stateful-security-group',
    'Stateful security group',
    'Indicates if the security group is stateful or not.',
  ),
];
