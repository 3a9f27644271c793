import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Every path under `dir` with its mode and content, to prove a refused command changed nothing. */
export function snapshotTree(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string, rel: string): void => {
    let entries;
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      const r = join(rel, e.name);
      const mode = (lstatSync(p).mode & 0o7777).toString(8);
      if (e.isDirectory()) {
        out.set(`${r}/`, mode);
        walk(p, r);
      } else {
        out.set(r, `${mode}:${readFileSync(p).toString('hex')}`);
      }
    }
  };
  walk(dir, '');
  return out;
}
