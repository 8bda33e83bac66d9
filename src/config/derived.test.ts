import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apiEndpoints, resolvedImagesType } from './derived.js';
import { parseConfigText } from './parse.js';

const conf = (text: string) => parseConfigText(text).config;

test('images_type default resolves by use_cow_images; raw is flat', () => {
  assert.equal(resolvedImagesType(conf('')), 'qcow2');
  assert.equal(resolvedImagesType(conf('[DEFAULT]\nuse_cow_images = false\n')), 'flat');
  assert.equal(resolvedImagesType(conf('[libvirt]\nimages_type = raw\n')), 'flat');
});

test('catalog URLs: devstack-like ports; a wildcard listen address is not put in the catalog', () => {
  assert.deepEqual(apiEndpoints(conf('')), {
    identity: 'http://127.0.0.1:5000/v3',
    compute: 'http://127.0.0.1:8774/v2.1',
    image: 'http://127.0.0.1:9292',
    network: 'http://127.0.0.1:9696',
  });
  assert.equal(apiEndpoints(conf('[api]\nlisten_host = 0.0.0.0\n')).compute, 'http://127.0.0.1:8774/v2.1');
  assert.equal(
    apiEndpoints(conf('[api]\nlisten_host = ::\npublic_host = fd00::5\n')).image,
    'http://[fd00::5]:9292',
  );
  assert.equal(
    apiEndpoints(conf('[api]\npublic_host = cloud.example\nidentity_port = 15000\n')).identity,
    'http://cloud.example:15000/v3',
  );
});
