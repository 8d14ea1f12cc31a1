// Tenant and tenants options, validated at the boundary with every default in one place.
// Keys appear only as SHA-256 hashes (`aigc`'s key command or `hashApiKey` makes them).

import { z } from "zod";

export const rateLimitSchema = z.strictObject({
  requestsPerMinute: z.number().int().positive().optional(),
  /** Counted from each request's token estimate (prompt + max completion). */
  tokensPerMinute: z.number().int().positive().optional(),
});

export type RateLimit = z.infer<typeof rateLimitSchema>;

const tenantIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9._-]{1,64}$/, "a tenant id is 1-64 letters, digits, '.', '_' or '-' (it is used in store keys)");

export const anonymousTenantId = "anonymous";

export const tenantConfigSchema = z.strictObject({
  id: tenantIdSchema.refine(
    (id) => id !== anonymousTenantId,
    `"${anonymousTenantId}" is reserved for the tenant used when auth is off`,
  ),
  name: z.string().min(1),
  /** SHA-256 hex of each API key the tenant may use. */
  keyHashes: z
    .array(z.string().regex(/^[0-9a-f]{64}$/, "a key hash is 64 lowercase hex characters (SHA-256 of the key)"))
    .default([]),
  rateLimit: rateLimitSchema.optional(),
  /** Total spend allowed, in USD; requests are refused once the ledger reaches it. */
  budgetUsd: z.number().nonnegative().optional(),
});

export type TenantConfig = z.infer<typeof tenantConfigSchema>;

export const tenantsConfigSchema = z
  .strictObject({
    /** false (the embedded default): every request is served as the anonymous tenant unless it carries a known key. */
    auth: z.boolean().default(false),
    tenants: z.array(tenantConfigSchema).default([]),
    /** SHA-256 hex of each admin key: with auth on, admin routes (/metrics) need one of these. */
    adminKeyHashes: z
      .array(z.string().regex(/^[0-9a-f]{64}$/, "a key hash is 64 lowercase hex characters (SHA-256 of the key)"))
      .default([]),
    /** Limits of the anonymous tenant (used when auth is off). */
    anonymous: z
      .strictObject({ rateLimit: rateLimitSchema.optional(), budgetUsd: z.number().nonnegative().optional() })
      .default({}),
    /** e.g. redis://localhost:6379/0: rate limits and budgets shared by replicas; omit for in-process. */
    redisUrl: z.string().startsWith("redis", "redisUrl must be a redis:// or rediss:// URL").optional(),
    /** Prefix of every Redis key the tenants module writes. */
    redisPrefix: z.string().default("aigc:"),
    /** Redis command timeout in ms; past it the request falls back to local counters. */
    timeoutMs: z.number().int().positive().default(100),
    /** Ledger rows kept per tenant and overall (spend totals are always kept whole). */
    ledgerRowsKept: z.number().int().positive().default(10_000),
    /** Ledger rows queued in memory while Redis is down. */
    ledgerMaxPendingRows: z.number().int().positive().default(100_000),
  })
  .superRefine((config, ctx) => {
    const ids = new Set<string>();
    const hashes = new Map<string, string>();
    for (const tenant of config.tenants) {
      if (ids.has(tenant.id))
        ctx.addIssue({ code: "custom", message: `tenant id "${tenant.id}" is used twice; ids must be unique` });
      ids.add(tenant.id);
      for (const hash of tenant.keyHashes) {
        if (config.adminKeyHashes.includes(hash))
          ctx.addIssue({ code: "custom", message: `tenant "${tenant.id}" uses an admin key; give admins keys of their own` });
        const owner = hashes.get(hash);
        if (owner !== undefined)
          ctx.addIssue({
            code: "custom",
            message: `tenants "${owner}" and "${tenant.id}" share a key hash; give each its own key`,
          });
        hashes.set(hash, tenant.id);
      }
    }
    if (config.auth && hashes.size === 0)
      ctx.addIssue({
        code: "custom",
        message: "auth is on but no tenant has a key: add keyHashes (hashApiKey of a newApiKey) or set auth: false",
      });
  });

export type TenantsConfig = z.infer<typeof tenantsConfigSchema>;
