import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PAGES, staticFile } from './pages.js';

test('console pages: noVNC and xterm.js from the local npm packages, nothing else', async () => {
  const page = await staticFile('novnc', '/vnc_lite.html');
  assert.match(String(page?.body), /noVNC/);
  assert.match(String(page?.body), /<script/);
  assert.doesNotMatch(Object.values(PAGES.novnc).join() + Object.values(PAGES.serial).join(), /https?:\/\//);
  assert.equal((await staticFile('novnc', '/novnc/core/rfb.js'))?.type, 'text/javascript; charset=utf-8');
  assert.ok((await staticFile('serial', '/xterm/lib/xterm.js'))?.body.length);
  assert.ok((await staticFile('serial', '/xterm/css/xterm.css'))?.body.length);
  assert.match(String((await staticFile('serial', '/'))?.body), /new Terminal/);
  // Each listener serves its own page and assets only.
  assert.equal(await staticFile('serial', '/novnc/core/rfb.js'), undefined);
  assert.equal(await staticFile('novnc', '/'), undefined);
  // No way out of the package folders, and only code files.
  for (const p of [
    '/novnc/core/../../../../etc/passwd',
    '/novnc/core/%2e%2e/%2e%2e/package.json',
    '/novnc/core/../package.json',
    '/xterm/lib/%00.js',
    '/novnc/vendor/pako/README.md',
    '/novnc/core/%E0%A4%A.js',
  ]) {
    assert.equal(await staticFile(p.startsWith('/xterm') ? 'serial' : 'novnc', p), undefined, p);
  }
});
