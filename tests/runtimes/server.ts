// A static file server on 127.0.0.1 for the browser tests: serves `root`, plus pages given inline.
// `.wasm` goes out as application/wasm, except under the /badmime/ prefix (the same files), where it
// is sent as application/octet-stream, as a misconfigured server would.
import { createServer, Server } from 'http';
import { readFile } from 'fs/promises';
import { extname, join, normalize } from 'path';
import { AddressInfo } from 'net';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.css': 'text/css',
  '.png': 'image/png',
};

export interface StaticServer {
  url: string;
  requests: { path: string; type: string }[];
  close(): Promise<void>;
}

/** `headers` go out with every response (say, COOP/COEP for a cross-origin-isolated page). */
export async function serve(root: string, pages: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<StaticServer> {
  const requests: { path: string; type: string }[] = [];
  const server: Server = createServer(async (req, res) => {
    let path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path === '/') path = '/index.html';
    const bad = path.startsWith('/badmime/');
    if (bad) path = path.slice('/badmime'.length);
    let type = TYPES[extname(path)] ?? 'application/octet-stream';
    if (bad && path.endsWith('.wasm')) type = 'application/octet-stream';
    let body: Buffer | string | undefined = pages[path];
    if (body === undefined) {
      const file = normalize(join(root, path));
      if (!file.startsWith(normalize(root))) body = undefined;
      else body = await readFile(file).catch(() => undefined);
    }
    requests.push({ path: req.url ?? '', type });
    if (body === undefined) {
      res.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
