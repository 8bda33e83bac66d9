// [api]: Kestrel's own HTTP APIs. Identity v3, Compute v2.1 and Image v2 each listen on their
// own port, as in devstack (identity :5000/v3, compute :8774/v2.1, image :9292), and the token
// catalog points at http://<public_host>:<port>. Nova's [api] options are not Kestrel's and
// draw an "unknown option" warning.
import { choice, group, port, str } from './option.js';

export const apiGroup = group(
  'api',
  "Kestrel's HTTP APIs (Identity v3, Compute v2.1, Image v2): addresses, ports and authentication.",
  {
    listen_host: str({
      default: '127.0.0.1',
      help: 'Address the APIs listen on; 0.0.0.0 or :: for every interface.',
    }),
    public_host: str({
      default: null,
      defaultDoc: 'unset (listen_host, or 127.0.0.1 when listening on every interface)',
      help: 'Host name or address clients use, written into the service catalog.',
    }),
    identity_port: port({
      default: 5000,
      help: 'Port of the Identity v3 API (catalog: http://host:5000/v3).',
    }),
    compute_port: port({
      default: 8774,
      help: 'Port of the Compute v2.1 API (catalog: http://host:8774/v2.1).',
    }),
    image_port: port({ default: 9292, help: 'Port of the Image v2 API (catalog: http://host:9292).' }),
    dhcp_domain: str({
      default: 'novalocal',
      help: "Domain added to a guest's host name in its metadata (hostname test → test.novalocal); empty for none.",
    }),
    network_port: port({
      default: 9696,
      help: 'Port of the Networking v2 API (catalog: http://host:9696), when [network] enabled.',
    }),
    region_name: str({ default: 'RegionOne', help: 'Region name in the service catalog.' }),
    auth_strategy: choice({
      default: 'keystone',
      choices: [
        { value: 'keystone', help: 'Tokens from the built-in Identity v3 API (password auth).' },
        { value: 'noauth', help: 'No tokens: every request acts as the admin user. For development only.' },
      ],
      aliases: { noauth2: 'noauth' },
      help: "How API requests are authenticated. Nova's noauth2 is read as noauth.",
    }),
    admin_user: str({ default: 'admin', help: 'Name of the admin user created at first start.' }),
    admin_project: str({ default: 'admin', help: 'Name of the admin project created at first start.' }),
    admin_password: str({
      default: 'admin',
      secret: true,
      help: "The admin user's password. Change it on any shared machine.",
    }),
    admin_token: str({
      default: null,
      secret: true,
      help: 'A static token accepted on every API (for --os-token); unset disables it.',
    }),
  },
);
