import { resolve } from 'node:path';
import { UeeError } from '../core/index.js';
import { DEFAULT_NPM_SETTINGS, type NpmSettings } from '../compiler/npm-deps.js';

/** Environment variable behind each npm setting (environment only, like the front-door limits). */
export const NPM_ENV = {
  registry: 'UEE_NPM_REGISTRY',
  cacheDir: 'UEE_NPM_CACHE_DIR',
  allow: 'UEE_NPM_ALLOW',
  deny: 'UEE_NPM_DENY',
  maxPackages: 'UEE_NPM_MAX_PACKAGES',
  maxBytes: 'UEE_NPM_MAX_BYTES',
  tarballOrigins: 'UEE_NPM_TARBALL_ORIGINS',
} as const;

const list = (raw: string | undefined): string[] => (raw ?? '').split(',').map((s) => s.trim()).filter((s) => s.length > 0);

function int(env: NodeJS.ProcessEnv, key: 'maxPackages' | 'maxBytes', fallback: number, max: number): number {
  const raw = env[NPM_ENV[key]];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) {
    throw new UeeError('CONFIG_INVALID', `${NPM_ENV[key]} must be an integer in 1..${max}, got "${raw}"`, {
      details: { setting: key, env: NPM_ENV[key] },
      hint: `fix ${NPM_ENV[key]}`,
    });
  }
  return n;
}

/**
 * npm dependencies of JS plugins: the registry, the shared package cache (default
 * `<dataDir>/npm-cache`), the operator's allow- and deny-lists (comma-separated names or `@scope/*`),
 * the per-plugin limits on packages and unpacked bytes, and the origins besides the registry's that
 * tarballs may come from.
 */
export function parseNpmSettings(env: NodeJS.ProcessEnv, dataDir: string): NpmSettings {
  const registry = env[NPM_ENV.registry] || DEFAULT_NPM_SETTINGS.registry;
  if (!/^https?:\/\/[^\s]+$/.test(registry)) {
    throw new UeeError('CONFIG_INVALID', `${NPM_ENV.registry} must be an http(s) URL, got "${registry}"`, {
      details: { setting: 'registry', env: NPM_ENV.registry },
      hint: 'e.g. https://registry.npmjs.org or your mirror',
    });
  }
  const tarballOrigins = list(env[NPM_ENV.tarballOrigins]).map((raw) => {
    try {
      const u = new URL(raw);
      if (u.protocol === 'https:' || u.protocol === 'http:') return u.origin;
    } catch {
      // reported below
    }
    throw new UeeError('CONFIG_INVALID', `${NPM_ENV.tarballOrigins} must list http(s) origins, got "${raw}"`, {
      details: { setting: 'tarballOrigins', env: NPM_ENV.tarballOrigins },
      hint: 'e.g. https://files.example.com,https://cdn.example.com:8443',
    });
  });
  return {
    registry,
    cacheDir: resolve(env[NPM_ENV.cacheDir] || resolve(dataDir, 'npm-cache')),
    allow: list(env[NPM_ENV.allow]),
    deny: list(env[NPM_ENV.deny]),
    maxPackages: int(env, 'maxPackages', DEFAULT_NPM_SETTINGS.maxPackages, 10_000),
    maxBytes: int(env, 'maxBytes', DEFAULT_NPM_SETTINGS.maxBytes, 1024 * 1024 * 1024),
    requestTimeoutMs: DEFAULT_NPM_SETTINGS.requestTimeoutMs,
    tarballOrigins,
  };
}
