import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadCrdManifests } from '../../src/api/crd-manifests.js';
import { CHART_CRD_DIR, CRD_SOURCE_DIR } from './helm.js';

// crds/ is the single source of the CRDs (DESIGN.md §2). A chart cannot reference files outside
// its directory, so charts/meshguard/files/crds holds a copy, which must stay byte-identical.

const SYNC = 'charts/meshguard/scripts/sync-crds.sh';

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort();
}

describe('chart CRDs', () => {
  it('are the same files as crds/, byte for byte', () => {
    const source = yamlFiles(CRD_SOURCE_DIR);
    assert.ok(source.length > 0, `no CRDs in ${CRD_SOURCE_DIR}`);
    assert.deepEqual(yamlFiles(CHART_CRD_DIR), source, `the chart's CRD files differ from crds/: run ${SYNC}`);
    for (const file of source) {
      const want = readFileSync(join(CRD_SOURCE_DIR, file), 'utf8');
      const have = readFileSync(join(CHART_CRD_DIR, file), 'utf8');
      assert.ok(have === want, `charts/meshguard/files/crds/${file} differs from crds/${file}: run ${SYNC}`);
    }
  });

  it('load as the operator loads crds/ (one CRD per file, our group, names and version)', async () => {
    const fromChart = await loadCrdManifests(CHART_CRD_DIR);
    const fromSource = await loadCrdManifests(CRD_SOURCE_DIR);
    assert.deepEqual(
      fromChart.map((c) => c.name),
      fromSource.map((c) => c.name),
    );
  });
});
