// `ditto web`: serves the page (web/, bundled into dist/web/page by `npm run build`) and the bundled
// models on 127.0.0.1, until stopped. The page fetches a model's safetensors and its L2P matrix from
// /models/ and runs the engine on the browser's WebGPU (or its CPU backend without one).
//
//   ditto web [--port 8080]
//
// Every response carries Cross-Origin-Opener-Policy and -Embedder-Policy: together they make the page
// cross-origin isolated, the condition for SharedArrayBuffer in a browser. WebGPU needs a secure
// context, which 127.0.0.1 is without a certificate.

import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { basename, dirname, join } from 'node:path';
import { UserError } from '../core/errors.js';
import { BUNDLED_MODEL } from '../models/pretrained.js';
import { PAGE_DIR } from '../web/build.js';
import { parseFlags, type CommandIo } from './flags.js';

export const webUsage = `usage: ditto web [--port N]
  serves the page that draws digits with full compute, TaylorSeer and L2P on the browser's WebGPU,
  at http://127.0.0.1:N/ (printed as the first line) until stopped with Ctrl-C. Query parameters make
  a run reproducible: ?class=7&seed=3&cache=l2p&interval=5 (also steps, cfg, model, backend)
  --port   the port (default 8080; 0 picks a free one)`;

const DEFAULT_PORT = 8080;

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json', '.safetensors': 'application/octet-stream',
};

/** URL path -> file: the page's two files, and the bundled models with their L2P matrices. */
function route(path: string): string | null {
  if (path === '/' || path === '/index.html') return join(PAGE_DIR, 'index.html');
  if (path === '/ditto.js') return join(PAGE_DIR, 'ditto.js');
  const model = /^\/models\/([a-z0-9-]+\.(?:safetensors|l2p\.json))$/.exec(path);
  return model ? join(dirname(BUNDLED_MODEL), model[1]) : null;
}

/** Starts the server on 127.0.0.1:port; resolves once it listens, with its URL. */
export async function servePage(port: number): Promise<{ server: Server; url: string }> {
  if (!existsSync(join(PAGE_DIR, 'ditto.js'))) throw new UserError(`the page is not built (${PAGE_DIR} has no ditto.js): run npm run build`);
  const server = createServer((req, res) => {
    const file = route(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    if (!file || !existsSync(file) || !statSync(file).isFile() || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' }).end('not found\n');
      return;
    }
    const type = TYPES[/\.[a-z]+$/.exec(basename(file))![0]];
    res.writeHead(200, { ...headers, 'Content-Type': type, 'Content-Length': statSync(file).size });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  await new Promise<void>((done, fail) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      fail(e.code === 'EADDRINUSE' ? new UserError(`--port ${port}: the port is in use: pick another (--port 0 takes a free one)`)
        : e.code === 'EACCES' ? new UserError(`--port ${port}: not allowed to listen there: use a port above 1023`) : e));
    server.listen(port, '127.0.0.1', done);
  });
  const address = server.address();
  return { server, url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}/` };
}

export async function webCommand(argv: string[], io: CommandIo): Promise<void> {
  const flags = parseFlags(argv, { port: { type: 'string' } }, webUsage);
  const port = flags.integer('port', { min: 0, max: 65535 }) ?? DEFAULT_PORT;
  const { server, url } = await servePage(port);
  io.print(url);
  io.info('serving the page until stopped (Ctrl-C)');
  await new Promise((done) => server.on('close', done));
}
