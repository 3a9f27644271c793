import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fsyncSync,
  linkSync,
  mkdirSync,
  openSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ConflictError } from '../errors.js';

export interface AtomicWriteOptions {
  /** File mode, applied with fchmod so the umask cannot widen or narrow it. */
  readonly mode?: number;
  /** false → fail with ConflictError if the target exists (checked atomically by link(2)). */
  readonly overwrite?: boolean;
}

/** A written temp file waiting to be moved into place; see `writeFilesAtomic`. */
interface StagedFile {
  readonly target: string;
  readonly temp: string;
  readonly overwrite: boolean;
}

function stage(path: string, data: Uint8Array | string, options: AtomicWriteOptions): StagedFile {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const temp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const mode = options.mode ?? 0o644;
  const fd = openSync(temp, 'wx', mode);
  try {
    fchmodSync(fd, mode);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let written = 0;
    while (written < bytes.length) written += writeSync(fd, bytes, written, bytes.length - written);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    removeQuietly(temp);
    throw err;
  }
  closeSync(fd);
  return { target: path, temp, overwrite: options.overwrite ?? true };
}

function commit(file: StagedFile): void {
  if (file.overwrite) {
    renameSync(file.temp, file.target);
    return;
  }
  try {
    linkSync(file.temp, file.target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new ConflictError(`${file.target} already exists`);
    }
    throw err;
  } finally {
    removeQuietly(file.temp);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone (renamed or linked away); nothing to clean.
  }
}

function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes via a temp file in the same directory and rename(2), so readers (and a crash)
 * see either the old or the new content, never a torn file.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): void {
  writeFilesAtomic([{ path, data, options }]);
}

export interface FileToWrite {
  readonly path: string;
  readonly data: Uint8Array | string;
  readonly options?: AtomicWriteOptions;
}

/**
 * Several files that belong together (identity.key + identity.pub): every temp file is
 * written and synced before any is moved into place, so a failure while writing changes
 * nothing. A failure between renames is limited to the rename syscalls themselves.
 */
export function writeFilesAtomic(files: readonly FileToWrite[]): void {
  const staged: StagedFile[] = [];
  try {
    for (const f of files) staged.push(stage(f.path, f.data, f.options ?? {}));
  } catch (err) {
    for (const s of staged) removeQuietly(s.temp);
    throw err;
  }
  let next = 0;
  try {
    for (; next < staged.length; next++) commit(staged[next]!);
  } finally {
    // Temps not moved into place (after a failed rename) must not litter the config dir.
    for (let i = next; i < staged.length; i++) removeQuietly(staged[i]!.temp);
  }
  for (const dir of new Set(staged.map((s) => dirname(s.target)))) fsyncDir(dir);
}
