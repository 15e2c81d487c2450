// core/checkpoint.ts in a web page: opening a checkpoint by path needs a file system, and the readers of
// PyTorch's zip format stay out of the page bundle. A page reads its safetensors checkpoint from the
// fetched bytes (SafetensorsFile.fromBytes), which is a Checkpoint like any other.

import { UserError } from './errors.js';
export type { Checkpoint, CheckpointFormat, CheckpointTensor } from './checkpoint.js';

function noFiles(path: string): never {
  throw new UserError(`${path}: a web page opens checkpoints from fetched bytes, not by path`);
}

export const checkpointFormat = (path: string): never => noFiles(path);
export const openCheckpoint = (path: string): never => noFiles(path);
