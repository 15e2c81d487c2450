// The kernels that the CPU backend runs on several threads. Each takes its arguments and a range of
// work items [start, end); the main thread and the worker threads import this same table, so a
// kernel is written once and runs anywhere.

import { attentionRows, type AttentionArgs } from './attention.js';
import { conv2dBlocks, type Conv2dArgs } from './conv.js';
import { linearColumns, type LinearArgs } from './matmul.js';
import { conv2dBandsSimd, type SimdConv2dArgs } from './wasm/conv.js';
import { groupNormRange, layerNormRange, softmaxRange, unaryRange, type GroupNormArgs, type LayerNormArgs, type SoftmaxArgs, type UnaryArgs } from './wasm/rows.js';
import { linearColumnsSimd, packPanelRange, type PanelArgs, type SimdLinearArgs } from './wasm/matmul.js';

export const parallelKernels = {
  linear: (args: LinearArgs, start: number, end: number) => linearColumns(args, start, end),
  linearSimd: (args: SimdLinearArgs, start: number, end: number) => linearColumnsSimd(args, start, end),
  packPanels: (args: PanelArgs, start: number, end: number) => packPanelRange(args, start, end),
  attention: (args: AttentionArgs, start: number, end: number) => attentionRows(args, start, end),
  conv2d: (args: Conv2dArgs, start: number, end: number) => conv2dBlocks(args, start, end),
  conv2dSimd: (args: SimdConv2dArgs, start: number, end: number) => conv2dBandsSimd(args, start, end),
  unarySimd: (args: UnaryArgs, start: number, end: number) => unaryRange(args, start, end),
  softmaxSimd: (args: SoftmaxArgs, start: number, end: number) => softmaxRange(args, start, end),
  layerNormSimd: (args: LayerNormArgs, start: number, end: number) => layerNormRange(args, start, end),
  groupNormSimd: (args: GroupNormArgs, start: number, end: number) => groupNormRange(args, start, end),
};

export type ParallelKernel = keyof typeof parallelKernels;
export type KernelArgs<K extends ParallelKernel> = Parameters<(typeof parallelKernels)[K]>[0];
