// core/files.ts in a web page: a page has no file system. Its checkpoints arrive by fetch and are read
// from memory (SafetensorsFile.fromBytes), and its results stay in the page, so nothing the page runs
// calls these; each one says so instead of failing somewhere deeper. The page bundle takes this module
// in place of core/files.ts (web/build.ts: a module with a .browser.ts twin is replaced by it).

import { UserError } from './errors.js';
import type { ByteSource } from './safetensors.js';

export interface NamedPath {
  flag: string;
  path: string;
}

function noFiles(file: string): never {
  throw new UserError(`${file}: a web page has no file system: fetch the bytes and read them from memory`);
}

export const requireRegularFile = (file: string): number => noFiles(file);
export const openFileSource = (file: string): ByteSource => noFiles(file);
export const readTextFile = (file: string): string => noFiles(file);
export const sameFile = (a: string): boolean => noFiles(a);
export const checkOutput = (output: NamedPath): void => noFiles(output.path);
export const checkOutputFolder = (output: NamedPath): void => noFiles(output.path);
export const writeFileAtomic = (file: string): void => noFiles(file);
