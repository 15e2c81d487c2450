// The file rules every reader and writer of ditto follows, so that no input can hang or exhaust the
// process and no output is ever left half-written:
//
//   - inputs are regular files: a FIFO would block open() until a writer comes, /dev/zero never ends,
//     a directory is not data. Checked with stat() before anything is opened.
//   - text inputs (JSON) have a size cap, checked before reading.
//   - outputs are checked before any work (their folder can be written, they are not a folder, they
//     are not one of the inputs), and written atomically: a temporary file beside the target, renamed
//     over it once complete, so a failed write leaves the previous file as it was.
//
// Every failure is a UserError: one line naming the file, the problem and the fix.

import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from './errors.js';
import type { ByteSource } from './safetensors.js';

/** JSON inputs (weight matrices) are small: a 1000 x 1000 matrix of doubles is about 25 MB of text. */
const MAX_JSON_BYTES = 64 * 2 ** 20;

/** Stats `file` and requires a regular file; returns its size in bytes. `what` names it in errors. */
export function requireRegularFile(file: string, what = 'file'): number {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${file}: no such ${what}: check the path`);
    throw new UserError(`${file}: cannot read the ${what} (${code ?? (e as Error).message}): check the path and its permissions`);
  }
  if (stat.isDirectory()) throw new UserError(`${file} is a directory, not a ${what}: pass the path of the file itself`);
  if (!stat.isFile()) throw new UserError(`${file} is not a regular file (a pipe, socket or device): save it to a file and pass that`);
  return stat.size;
}

/**
 * Opens a regular file for positioned reads (a checkpoint's tensors are read one at a time, never the
 * whole file). Its size is taken once, at open: a reader checks its layout against it.
 */
export function openFileSource(file: string, what = 'file'): ByteSource {
  requireRegularFile(file, what);
  const fd = fs.openSync(file, 'r');
  try {
    const stat = fs.fstatSync(fd);
    // The path may have been swapped for a pipe between the check and the open.
    if (!stat.isFile()) throw new UserError(`${file} is not a regular file (a pipe, socket or device): save it to a file and pass that`);
    let open = true;
    return {
      size: stat.size,
      read: (target, position) => fs.readSync(fd, target, 0, target.length, position),
      close: () => {
        if (open) fs.closeSync(fd);
        open = false;
      },
    };
  } catch (e) {
    fs.closeSync(fd);
    throw e;
  }
}

/** Reads a regular text file of at most `maxBytes` bytes. */
export function readTextFile(file: string, what: string, maxBytes = MAX_JSON_BYTES): string {
  const size = requireRegularFile(file, what);
  if (size > maxBytes) {
    throw new UserError(`${file}: the ${what} is ${mib(size)}, more than the ${mib(maxBytes)} a ${what} can be: check that this is the right file`);
  }
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new UserError(`${file}: cannot read the ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

/** Whether two paths name the same file (the same inode once both exist, else the same resolved path). */
export function sameFile(a: string, b: string): boolean {
  try {
    const sa = fs.statSync(a), sb = fs.statSync(b);
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

export interface NamedPath {
  /** How the user gave it, e.g. "--out". */
  flag: string;
  path: string;
}

/**
 * Checks, before any work, that `output` can be written: it is not a directory, it is none of the
 * `inputs`, and its folder (or the nearest folder above it that exists: missing folders are created
 * at write time) is a folder we can create files in.
 */
export function checkOutput(output: NamedPath, inputs: readonly NamedPath[] = []): void {
  const { flag, path: file } = output;
  for (const input of inputs) {
    if (sameFile(file, input.path)) {
      throw new UserError(`${flag} ${file} is also ${input.flag}: writing it would destroy the input; choose another output path`);
    }
  }
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(file);
  } catch {
    // Does not exist yet: fine.
  }
  if (stat?.isDirectory()) throw new UserError(`${flag} ${file} is a directory: give a file path inside it`);
  if (stat && !stat.isFile()) throw new UserError(`${flag} ${file} is not a regular file (a pipe, socket or device): give a file path`);
  let dir = path.dirname(path.resolve(file));
  for (;;) {
    let dirStat: fs.Stats | null = null;
    try {
      dirStat = fs.statSync(dir);
    } catch {
      // Missing: look further up.
    }
    if (dirStat) {
      if (!dirStat.isDirectory()) throw new UserError(`${flag} ${file}: ${dir} is a file, not a folder: choose another output path`);
      probeWritable(dir, flag, file);
      return;
    }
    const up = path.dirname(dir);
    if (up === dir) throw new UserError(`${flag} ${file}: no folder of it exists: check the path`);
    dir = up;
  }
}

/** Checks a folder that a command fills with files (bench cache --save-images). */
export function checkOutputFolder(output: NamedPath): void {
  let stat: fs.Stats | null = null;
  try {
    stat = fs.statSync(output.path);
  } catch {
    // Created at write time.
  }
  if (stat && !stat.isDirectory()) throw new UserError(`${output.flag} ${output.path} is a file, not a folder: give a folder path`);
  checkOutput({ flag: output.flag, path: path.join(output.path, 'probe') });
}

/** Creating a file is the only check that holds for every user (root ignores permission bits, not read-only mounts). */
function probeWritable(dir: string, flag: string, file: string): void {
  const probe = path.join(dir, `.ditto-probe-${process.pid}-${Math.random().toString(36).slice(2)}`);
  try {
    fs.closeSync(fs.openSync(probe, 'wx'));
    fs.rmSync(probe, { force: true });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new UserError(`${flag} ${file}: cannot create files in ${dir} (${code}): choose a folder you can write to`);
  }
}

/**
 * Writes `data` to `file` atomically: into a temporary file beside it, then renamed over it. Missing
 * folders are created. A failure removes the temporary file and leaves any previous `file` untouched.
 */
export function writeFileAtomic(file: string, data: string | Uint8Array | Iterable<Uint8Array>): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const temp = path.join(path.dirname(path.resolve(file)), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    const fd = fs.openSync(temp, 'w');
    try {
      const chunks = typeof data === 'string' ? [Buffer.from(data, 'utf8')] : data instanceof Uint8Array ? [data] : data;
      for (const chunk of chunks) {
        let done = 0;
        while (done < chunk.length) done += fs.writeSync(fd, chunk, done, chunk.length - done);
      }
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
  } catch (e) {
    fs.rmSync(temp, { force: true });
    if (e instanceof UserError) throw e; // from an iterable that produces the data (a damaged checkpoint being converted)
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(`${file}: writing failed (${code ?? (e as Error).message})${code === 'ENOSPC' ? ': the disk is full' : ''}; any previous file there is unchanged`);
  }
}

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}
