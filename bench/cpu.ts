export async function runCpuBench(_o: { json: boolean; runs: number; torch: boolean }, _io: unknown): Promise<void> {}
