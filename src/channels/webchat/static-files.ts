/**
 * Serves the chat page's own files (public/webchat, shipped in the package) by a fixed list of
 * names: nothing from a request reaches the file system as a path. Every response carries a
 * strict Content-Security-Policy: no inline script, no other origins, so even a rendering bug
 * could not load or run anything foreign.
 */
import path from 'path';
import { promises as fs } from 'fs';
import type { ServerResponse } from 'http';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
};

/** The files a page may ask for (request path -> file in the public dir). */
export const PAGE_FILES: Record<string, string> = {
  '/': 'index.html',
  '/index.html': 'index.html',
  '/chat.js': 'chat.js',
  '/markdown.js': 'markdown.js',
  '/chat.css': 'chat.css',
  '/icon.svg': 'icon.svg',
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'self'",
].join('; ');

/** Headers every web chat response gets. */
export function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cache-Control', 'no-cache');
}

/** Send one page file; false if `requestPath` is not one of {@link PAGE_FILES}. */
export async function sendPageFile(publicDir: string, requestPath: string, res: ServerResponse, head = false): Promise<boolean> {
  const name = PAGE_FILES[requestPath];
  if (!name) return false;
  const body = await fs.readFile(path.join(publicDir, name));
  securityHeaders(res);
  res.statusCode = 200;
  res.setHeader('Content-Type', TYPES[path.extname(name)] ?? 'application/octet-stream');
  res.setHeader('Content-Length', String(body.length));
  res.end(head ? undefined : body);
  return true;
}

/** A JSON response with the security headers. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  securityHeaders(res);
  res.statusCode = status;
  res.setHeader('Content-Type', TYPES['.json']);
  res.setHeader('Content-Length', String(body.length));
  res.end(body);
}
