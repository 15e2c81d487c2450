// A small typed WebAssembly module builder: just enough of the binary format for the CPU kernels that
// TypeScript emits at run time (kernels/cpu/wasm/matmul.ts). No assembler, no .wasm files: a kernel
// is a TypeScript function that writes opcodes through the methods below, and `build()` returns the
// module's bytes for `new WebAssembly.Module`.
//
// What it knows, and nothing more: the type, import, function, export and code sections; an imported
// linear memory (optionally shared); functions with i32/f32/v128 params and locals; structured control
// (block, loop, br, br_if); i32 and f32 arithmetic; f32 and v128 loads and stores; and the few 128-bit
// SIMD opcodes (0xfd prefix) a matmul, an exp and row reductions need, including the relaxed-SIMD
// fused multiply-add.
//
// Reference: the WebAssembly core spec, section 5 (binary format), the fixed-width SIMD proposal and
// the relaxed-SIMD proposal (opcode table in its Overview.md).

/** The parts of the WebAssembly JS API the kernels use (the ES2022 lib declares none of it). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}

export interface WasmApi {
  validate(bytes: Uint8Array<ArrayBuffer>): boolean;
  Module: new (bytes: Uint8Array<ArrayBuffer>) => object;
  Instance: new (module: object, imports: Record<string, Record<string, unknown>>) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
}

/** The runtime's WebAssembly, or null where there is none (e.g. a browser page whose CSP forbids it). */
export const wasm: WasmApi | null = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly ?? null;

export type ValType = 'i32' | 'f32' | 'v128';

const VALTYPE: Record<ValType, number> = { i32: 0x7f, f32: 0x7d, v128: 0x7b };

/** Unsigned LEB128: section sizes, counts, indices, memarg offsets, SIMD sub-opcodes. */
function uleb(out: number[], v: number): void {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`wasm: ${v} is not a u32`);
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Signed LEB128 of an i32 (the immediate of i32.const). */
function sleb(out: number[], v: number): void {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`wasm: ${v} is not an i32`);
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    if ((v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return;
    }
    out.push(byte | 0x80);
  }
}

function name(out: number[], s: string): void {
  const bytes = new TextEncoder().encode(s);
  uleb(out, bytes.length);
  out.push(...bytes);
}

/** A local (or parameter) of a function being built: its index and type, so misuse is a type error. */
export interface Local<T extends ValType = ValType> {
  readonly index: number;
  readonly type: T;
}

/**
 * The body of one function. Each method appends one instruction; the structured ones (block, loop)
 * take the body as a callback, so every `end` is emitted by construction. Branch targets are depths:
 * 0 is the innermost enclosing block or loop.
 */
export class FunctionBuilder {
  readonly code: number[] = [];
  private readonly locals: ValType[] = [];

  constructor(readonly params: readonly ValType[], readonly results: readonly ValType[]) {}

  /** The i-th parameter, typed. */
  param<T extends ValType>(i: number, type: T): Local<T> {
    if (this.params[i] !== type) throw new Error(`wasm: parameter ${i} is ${this.params[i]}, not ${type}`);
    return { index: i, type };
  }

  /** A new local of the function, zero-initialised on entry. */
  local<T extends ValType>(type: T): Local<T> {
    this.locals.push(type);
    return { index: this.params.length + this.locals.length - 1, type };
  }

  private op(...bytes: number[]): this {
    this.code.push(...bytes);
    return this;
  }

  /** An opcode of the 0xfd (SIMD) space: prefix, then the sub-opcode as a u32 LEB128. */
  private simd(sub: number): this {
    this.code.push(0xfd);
    uleb(this.code, sub);
    return this;
  }

  /** A memory access immediate: log2 of the alignment, then a constant byte offset. */
  private memarg(alignLog2: number, offset: number): this {
    uleb(this.code, alignLog2);
    uleb(this.code, offset);
    return this;
  }

  // Variables.
  get(l: Local): this { this.op(0x20); uleb(this.code, l.index); return this; }
  set(l: Local): this { this.op(0x21); uleb(this.code, l.index); return this; }
  tee(l: Local): this { this.op(0x22); uleb(this.code, l.index); return this; }

  // Control. Blocks and loops here take and leave nothing on the stack (block type 0x40).
  block(body: () => void): this { this.op(0x02, 0x40); body(); return this.op(0x0b); }
  loop(body: () => void): this { this.op(0x03, 0x40); body(); return this.op(0x0b); }
  br(depth: number): this { this.op(0x0c); uleb(this.code, depth); return this; }
  brIf(depth: number): this { this.op(0x0d); uleb(this.code, depth); return this; }
  drop(): this { return this.op(0x1a); }

  // i32.
  i32Const(v: number): this { this.op(0x41); sleb(this.code, v); return this; }
  i32Eqz(): this { return this.op(0x45); }
  i32Ne(): this { return this.op(0x47); }
  i32LtU(): this { return this.op(0x49); }
  i32Add(): this { return this.op(0x6a); }
  i32Sub(): this { return this.op(0x6b); }
  i32Mul(): this { return this.op(0x6c); }

  // f32.
  f32Const(v: number): this {
    this.op(0x43);
    const bytes = new Uint8Array(new Float32Array([v]).buffer);
    return this.op(...bytes);
  }
  f32Load(offset = 0): this { return this.op(0x2a).memarg(2, offset); }
  f32Store(offset = 0): this { return this.op(0x38).memarg(2, offset); }
  f32Sqrt(): this { return this.op(0x91); }
  f32Add(): this { return this.op(0x92); }
  f32Sub(): this { return this.op(0x93); }
  f32Mul(): this { return this.op(0x94); }
  f32Div(): this { return this.op(0x95); }
  f32Max(): this { return this.op(0x97); }

  // v128 (fixed-width SIMD). Alignment hints are 16 bytes for vectors, 4 for the splat load; they are
  // hints only (a misaligned access is still correct).
  v128Load(offset = 0): this { return this.simd(0x00).memarg(4, offset); }
  /** Loads one f32 (any 32-bit lane) and splats it to all four lanes. */
  v128Load32Splat(offset = 0): this { return this.simd(0x09).memarg(2, offset); }
  v128Store(offset = 0): this { return this.simd(0x0b).memarg(4, offset); }
  i32x4Splat(): this { return this.simd(0x11); }
  f32x4Splat(): this { return this.simd(0x13); }
  f32x4ExtractLane(lane: number): this { this.simd(0x1f); return this.op(lane); }
  /** Round to the nearest integer, ties to even. */
  f32x4Nearest(): this { return this.simd(0x6a); }
  /** Shift each lane left by an i32 (stack: v128, i32). */
  i32x4Shl(): this { return this.simd(0xab); }
  i32x4Add(): this { return this.simd(0xae); }
  f32x4Add(): this { return this.simd(0xe4); }
  f32x4Sub(): this { return this.simd(0xe5); }
  f32x4Mul(): this { return this.simd(0xe6); }
  f32x4Div(): this { return this.simd(0xe7); }
  /** Lane-wise min and max; a NaN in either operand gives NaN. */
  f32x4Min(): this { return this.simd(0xe8); }
  f32x4Max(): this { return this.simd(0xe9); }
  /** f32 lanes to i32, saturating (NaN to 0). */
  i32x4TruncSatF32x4S(): this { return this.simd(0xf8); }
  /** Relaxed SIMD: a * b + c, fused or not at the engine's choice (stack: a, b, c). */
  f32x4RelaxedMadd(): this { return this.simd(0x105); }

  /** The code-section entry: size, local declarations (run-length by type), body, end. */
  encode(): number[] {
    const body: number[] = [];
    const runs: [number, ValType][] = [];
    for (const t of this.locals) {
      const last = runs.at(-1);
      if (last && last[1] === t) last[0]++;
      else runs.push([1, t]);
    }
    uleb(body, runs.length);
    for (const [count, t] of runs) {
      uleb(body, count);
      body.push(VALTYPE[t]);
    }
    body.push(...this.code, 0x0b);
    const out: number[] = [];
    uleb(out, body.length);
    out.push(...body);
    return out;
  }
}

export interface MemoryImport {
  module: string;
  name: string;
  /** Initial size in 64 KiB pages. */
  minPages: number;
  /** Required for a shared memory. */
  maxPages?: number;
  shared?: boolean;
}

/** A module: one imported memory (optional) and any number of exported functions. */
export class ModuleBuilder {
  private memory: MemoryImport | null = null;
  private readonly functions: { name: string; fn: FunctionBuilder }[] = [];

  importMemory(m: MemoryImport): this {
    if (m.shared && m.maxPages === undefined) throw new Error('wasm: a shared memory needs maxPages');
    this.memory = m;
    return this;
  }

  /** Adds an exported function; `body` writes its instructions. */
  function(name: string, params: ValType[], results: ValType[], body: (f: FunctionBuilder) => void): this {
    const fn = new FunctionBuilder(params, results);
    body(fn);
    this.functions.push({ name, fn });
    return this;
  }

  build(): Uint8Array<ArrayBuffer> {
    const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]; // "\0asm", version 1
    const section = (id: number, write: (s: number[]) => void) => {
      const s: number[] = [];
      write(s);
      out.push(id);
      uleb(out, s.length);
      out.push(...s);
    };
    // Type section: one signature per function (duplicates are allowed and keep indices trivial).
    section(1, (s) => {
      uleb(s, this.functions.length);
      for (const { fn } of this.functions) {
        s.push(0x60);
        uleb(s, fn.params.length);
        for (const p of fn.params) s.push(VALTYPE[p]);
        uleb(s, fn.results.length);
        for (const r of fn.results) s.push(VALTYPE[r]);
      }
    });
    const m = this.memory;
    if (m) {
      section(2, (s) => {
        uleb(s, 1);
        name(s, m.module);
        name(s, m.name);
        s.push(0x02); // memory
        const flags = (m.maxPages !== undefined ? 1 : 0) | (m.shared ? 2 : 0);
        s.push(flags);
        uleb(s, m.minPages);
        if (m.maxPages !== undefined) uleb(s, m.maxPages);
      });
    }
    section(3, (s) => {
      uleb(s, this.functions.length);
      this.functions.forEach((_, i) => uleb(s, i));
    });
    section(7, (s) => {
      uleb(s, this.functions.length);
      this.functions.forEach(({ name: n }, i) => {
        name(s, n);
        s.push(0x00); // function
        uleb(s, i);
      });
    });
    section(10, (s) => {
      uleb(s, this.functions.length);
      for (const { fn } of this.functions) s.push(...fn.encode());
    });
    return new Uint8Array(out);
  }
}
