// Which transformer a checkpoint holds, told by its tensor names (each family has its own layout):
//   DiT         facebookresearch/DiT       x_embedder.proj.weight, blocks.{i}.attn.qkv.weight, ...
//   FLUX        black-forest-labs/flux     img_in.weight, double_blocks.{i}.img_attn.qkv.weight, ...
//   Qwen-Image  diffusers                  img_in.weight, txt_norm.weight, transformer_blocks.{i}.img_mod.1.weight, ...
// Anything else is read as a DiT, whose loader then says which DiT tensor is missing.

import { openCheckpoint } from '../core/checkpoint.js';

export type Architecture = 'dit' | 'flux' | 'qwen-image';

export function architectureOf(names: Iterable<string>): Architecture {
  let flux = false, qwen = false;
  for (const name of names) {
    if (/^(double_blocks|single_blocks)\.|^vector_in\.in_layer\.weight$/.test(name)) flux = true;
    if (/^transformer_blocks\.|^txt_norm\.weight$/.test(name)) qwen = true;
  }
  return qwen && !flux ? 'qwen-image' : flux && !qwen ? 'flux' : 'dit';
}

/** The architecture of the checkpoint at `path`, from its index alone. */
export function checkpointArchitecture(path: string): Architecture {
  const file = openCheckpoint(path);
  try {
    return architectureOf(file.tensors.keys());
  } finally {
    file.close();
  }
}
