#!/bin/sh
# Copies the CRDs from the repository's crds/ (their single source) into the chart, which cannot
# reference files outside its own directory. operator/test/chart/ fails while the two differ.
# Usage: charts/meshguard/scripts/sync-crds.sh
set -eu
chart=$(cd "$(dirname "$0")/.." && pwd)
source_dir=$chart/../../crds
[ -d "$source_dir" ] || { echo "sync-crds: $source_dir not found" >&2; exit 1; }
rm -f "$chart"/files/crds/*.yaml
mkdir -p "$chart/files/crds"
cp "$source_dir"/*.yaml "$chart/files/crds/"
echo "sync-crds: copied $(ls "$source_dir"/*.yaml | wc -l) CRD file(s) into $chart/files/crds/"
