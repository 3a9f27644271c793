import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { syncTrustFiles, trustFilesOf, type TrustConfigMap } from '../../src/kube-agent/trust-files.js';

const ORG = 'acme';

function cm(
  name: string,
  labels: Record<string, string>,
  contents: { data?: Record<string, string>; binaryData?: Record<string, string> },
): TrustConfigMap {
  return { metadata: { name, namespace: 'meshguard-system', labels }, ...contents };
}

const trusted = cm(
  'meshguard-trust-acme',
  { 'meshguard.dev/org': ORG, 'meshguard.dev/config-dir': 'trusted_orgs' },
  { data: { 'acme.org': 'ORGKEY\n' } },
);
const revoked = cm(
  'meshguard-revoked-acme',
  { 'meshguard.dev/org': ORG, 'meshguard.dev/config-dir': 'revoked' },
  { binaryData: { '0123456789abcdef.revoke': Buffer.from('REVOCATION').toString('base64') } },
);

describe('trust ConfigMaps → config-dir files', () => {
  it('maps the org’s ConfigMaps onto trusted_orgs/ and revoked/ and refuses everything else', () => {
    const hostile = cm(
      'meshguard-revoked-acme-1',
      { 'meshguard.dev/org': ORG, 'meshguard.dev/config-dir': 'revoked' },
      { binaryData: { '../../identity.key': 'AAAA', '.hidden.revoke': 'AAAA', 'fedcba9876543210.revoke': 'AAAA' } },
    );
    const other = cm(
      'meshguard-trust-evil',
      { 'meshguard.dev/org': 'evil', 'meshguard.dev/config-dir': 'trusted_orgs' },
      {
        data: { 'evil.org': 'X' },
      },
    );
    const wrongKey = cm(
      'meshguard-trust-acme-x',
      { 'meshguard.dev/org': ORG, 'meshguard.dev/config-dir': 'trusted_orgs' },
      { data: { 'evil.org': 'X' } },
    );
    const unknownDir = cm('x', { 'meshguard.dev/org': ORG, 'meshguard.dev/config-dir': 'authorized_keys' }, {});
    const { files, problems } = trustFilesOf(ORG, [trusted, revoked, hostile, other, wrongKey, unknownDir]);
    assert.deepEqual(
      files.map((f) => `${f.dir}/${f.name}`),
      ['trusted_orgs/acme.org', 'revoked/0123456789abcdef.revoke', 'revoked/fedcba9876543210.revoke'],
    );
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems.join('\n'), /\.\.\/\.\.\/identity\.key/);
  });

  it('never yields a file name that leaves its directory, whatever the keys (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 40 }), fc.string({ maxLength: 20 })),
        fc.dictionary(fc.string({ maxLength: 40 }), fc.base64String({ maxLength: 20 })),
        fc.constantFrom('trusted_orgs', 'revoked', 'other', ''),
        (data, binaryData, dir) => {
          const { files } = trustFilesOf(ORG, [
            cm('x', { 'meshguard.dev/org': ORG, 'meshguard.dev/config-dir': dir }, { data, binaryData }),
          ]);
          for (const f of files) {
            assert.match(f.name, /^[A-Za-z0-9][A-Za-z0-9._-]*$/);
            assert.ok(!f.name.includes('..') || f.name === 'acme.org');
          }
        },
      ),
    );
  });

  it('writes atomically and only what changed; the org file follows the API, revocations stay', () => {
    const dir = mkdtempSync(join(tmpdir(), 'meshguard-trust-files-'));
    try {
      const { files } = trustFilesOf(ORG, [trusted, revoked]);
      assert.equal(syncTrustFiles(dir, ORG, files).changed, 2);
      assert.equal(readFileSync(join(dir, 'trusted_orgs', 'acme.org'), 'utf8'), 'ORGKEY\n');
      assert.equal(readFileSync(join(dir, 'revoked', '0123456789abcdef.revoke'), 'utf8'), 'REVOCATION');
      assert.equal(syncTrustFiles(dir, ORG, files).changed, 0, 'unchanged files are not rewritten');
      writeFileSync(join(dir, 'trusted_orgs', 'other.org'), 'kept: not ours to manage');
      // The org's ConfigMap is gone (its MeshOrg was deleted) and so is the revocation shard.
      assert.equal(syncTrustFiles(dir, ORG, []).changed, 1);
      assert.deepEqual(readdirSync(join(dir, 'trusted_orgs')), ['other.org']);
      assert.deepEqual(readdirSync(join(dir, 'revoked')), ['0123456789abcdef.revoke']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
