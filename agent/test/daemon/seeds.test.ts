import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ArgumentError } from '@meshguard/core';
import { parseSeed, readSeedsFile, resolveSeeds } from '../../src/daemon/seeds.js';

const root = mkdtempSync(join(tmpdir(), 'meshguard-seeds-'));
after(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('seeds', () => {
  it('parses every seed form, defaulting to port 51821', () => {
    assert.deepEqual(parseSeed('192.0.2.1:4000'), { family: 4, address: '192.0.2.1', port: 4000 });
    assert.deepEqual(parseSeed('192.0.2.1'), { family: 4, address: '192.0.2.1', port: 51821 });
    assert.deepEqual(parseSeed('[2001:db8::1]:5'), { family: 6, address: '2001:db8::1', port: 5 });
    assert.deepEqual(parseSeed('2001:db8::1'), { family: 6, address: '2001:db8::1', port: 51821 });
    assert.deepEqual(parseSeed('[2001:db8::1]'), { family: 6, address: '2001:db8::1', port: 51821 });
    assert.deepEqual(parseSeed('seed.example.org:7'), { family: 'hostname', hostname: 'seed.example.org', port: 7 });
    for (const bad of ['', ':1', '1.2.3.4:0', '1.2.3.4:99999', 'bad host:1'])
      assert.throws(() => parseSeed(bad), ArgumentError);
  });
  it('reads the seeds file and reports bad lines', () => {
    const dir = join(root, 'a');
    mkdirSync(dir);
    writeFileSync(join(dir, 'seeds'), '192.0.2.1:51821\r\n\n# comment\n[2001:db8::2]:51821  \nnot a seed!\n');
    const { seeds, problems } = readSeedsFile(dir);
    assert.equal(seeds.length, 2);
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /seeds:5/);
    assert.deepEqual(readSeedsFile(join(root, 'missing')), { seeds: [], problems: [] });
  });
  it('resolves host names, de-duplicates and caps at 16', async () => {
    const many = Array.from({ length: 20 }, (_, i) => parseSeed(`192.0.2.${i + 1}`));
    const { endpoints, problems } = await resolveSeeds([parseSeed('localhost:9'), parseSeed('localhost:9'), ...many]);
    assert.ok(endpoints.some((e) => e.port === 9 && (e.address === '127.0.0.1' || e.address === '::1')));
    assert.equal(endpoints.length, 16);
    assert.ok(problems.some((p) => p.includes('more than 16')));
  });
});
