import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { UserError } from '../../core/errors.js';
import { checkOutput, checkOutputFolder, readTextFile, requireRegularFile, sameFile, writeFileAtomic } from '../../core/files.js';

const dir = mkdtempSync(join(tmpdir(), 'ditto-files-'));
const file = join(dir, 'a.txt');
writeFileSync(file, 'hello');
const fifo = join(dir, 'fifo');
execFileSync('mkfifo', [fifo]);

function userError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: Error) => e instanceof UserError && pattern.test(e.message) && !e.message.includes('\n'), String(pattern));
}

test('inputs: regular files only, checked without opening (a FIFO would block open)', () => {
  assert.is(requireRegularFile(file), 5);
  userError(() => requireRegularFile(join(dir, 'missing'), 'weight file'), /no such weight file: check the path/);
  userError(() => requireRegularFile(dir), /is a directory/);
  userError(() => requireRegularFile(fifo), /not a regular file \(a pipe, socket or device\)/);
  userError(() => requireRegularFile('/dev/zero'), /not a regular file/);
});

test('text inputs have a size cap, checked before reading', () => {
  assert.is(readTextFile(file, 'weight file'), 'hello');
  userError(() => readTextFile(file, 'weight file', 4), /the weight file is 0\.0 MiB, more than the 0\.0 MiB/);
});

test('sameFile: the same inode through another path, or the same path before it exists', () => {
  assert.ok(sameFile(file, join(dir, '.', 'a.txt')));
  assert.ok(sameFile(join(dir, 'new'), join(dir, 'x', '..', 'new')));
  assert.not.ok(sameFile(file, join(dir, 'new')));
});

test('outputs: checked before any work', () => {
  checkOutput({ flag: '--out', path: join(dir, 'fresh', 'deeper', 'o.png') });
  checkOutput({ flag: '--out', path: file });
  userError(() => checkOutput({ flag: '--out', path: file }, [{ flag: '--model', path: join(dir, '.', 'a.txt') }]), /--out .* is also --model: writing it would destroy the input/);
  userError(() => checkOutput({ flag: '--out', path: dir }), /is a directory: give a file path inside it/);
  userError(() => checkOutput({ flag: '--out', path: join(file, 'o.png') }), /a\.txt is a file, not a folder/);
  userError(() => checkOutput({ flag: '--out', path: fifo }), /not a regular file/);
  userError(() => checkOutputFolder({ flag: '--save-images', path: file }), /is a file, not a folder/);
  checkOutputFolder({ flag: '--save-images', path: join(dir, 'images') });
  assert.not.ok(existsSync(join(dir, 'fresh')), 'checking creates no folders');
  assert.equal(readdirSync(dir).filter((n) => n.startsWith('.ditto-probe')), [], 'the write probe leaves nothing behind');
});

test('an unwritable folder is refused (when permissions apply to this user)', () => {
  const locked = join(dir, 'locked');
  mkdirSync(locked);
  chmodSync(locked, 0o500);
  let writable = true;
  try {
    writeFileSync(join(locked, 'x'), '');
  } catch {
    writable = false;
  }
  // root ignores permission bits: there the check rightly passes, and the probe proves it.
  if (writable) checkOutput({ flag: '--out', path: join(locked, 'o.png') });
  else userError(() => checkOutput({ flag: '--out', path: join(locked, 'o.png') }), /cannot create files in .*locked \(EACCES\)/);
  chmodSync(locked, 0o700);
});

test('atomic writes: complete or nothing, and the previous file survives a failure', () => {
  const target = join(dir, 'sub', 'w.json');
  writeFileAtomic(target, 'first');
  assert.is(readFileSync(target, 'utf8'), 'first');
  writeFileAtomic(target, [Buffer.from('sec'), Buffer.from('ond')]);
  assert.is(readFileSync(target, 'utf8'), 'second');
  // Renaming a file over a non-empty directory fails: the write must not leave a temp file or half a file.
  const blocked = join(dir, 'blocked');
  mkdirSync(join(blocked, 'inner'), { recursive: true });
  userError(() => writeFileAtomic(blocked, 'x'), /writing failed .*any previous file there is unchanged/);
  assert.equal(readdirSync(dir).filter((n) => n.includes('.tmp-')), []);
  assert.ok(existsSync(join(blocked, 'inner')));
});

test.run();
