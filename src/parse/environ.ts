/** Variables allocators read: glibc (MALLOC_*, GLIBC_TUNABLES), jemalloc (MALLOC_CONF, JE_MALLOC_CONF for a je_-prefixed copy), tcmalloc, mimalloc. */
const ALLOCATOR_ENV = /^(MALLOC_|TCMALLOC_|MIMALLOC_|GLIBC_TUNABLES$|_RJEM_MALLOC_CONF$|JE_MALLOC_CONF$)/;

/** Keeps only what the allocator reads from the environment; everything else in environ stays private. */
export function allocatorEnv(environ: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of environ.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (ALLOCATOR_ENV.test(name)) env[name] = entry.slice(eq + 1);
  }
  return env;
}

/** A tunable's value from GLIBC_TUNABLES or its MALLOC_* alias (the tunable wins, as in glibc). */
export function tunable(env: Record<string, string>, name: string, alias?: string): number | null {
  for (const part of (env.GLIBC_TUNABLES ?? '').split(':')) {
    const [key, value] = part.split('=');
    if (key === `glibc.malloc.${name}` && value !== undefined && /^\d+$/.test(value)) return Number(value);
  }
  const raw = alias === undefined ? undefined : env[alias];
  return raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : null;
}
