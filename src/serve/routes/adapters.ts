// LoRA adapters at run time, vLLM's API: POST /v1/load_lora_adapter { lora_name, lora_path }
// and POST /v1/unload_lora_adapter { lora_name }, for admins (an admin key when the server has
// keys, as /metrics). A loaded adapter is a model: requests name it as their `model`, and
// GET /v1/models lists it with its base as `parent`. The handlers only translate HTTP to
// platform.adapters (../platform.ts), whose refusals are OpenAI-shaped errors naming the field.

import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { defineRoute } from "../pipeline.js";
import type { Platform } from "../platform.js";

/** Optional, also accepting `null` (as the OpenAI-style schemas do), normalised to `undefined`. */
const opt = <T extends z.ZodType>(schema: T) => z.preprocess((v) => (v === null ? undefined : v), schema.optional());

const nonEmpty = (what: string) => z.string({ error: `expected ${what}` }).min(1, { error: `expected ${what}` });

/** An adapter's name is a model name: what requests put in `model`. */
const adapterName = nonEmpty("the adapter's name, a non-empty string")
  .max(256, { error: "expected a name of at most 256 characters" })
  .regex(/^[^\s\p{Cc}]+$/u, { error: "expected a name without spaces or control characters" });

export const loadLoraAdapterRequestSchema = z.strictObject({
  /** The name requests use as their `model`. */
  lora_name: adapterName,
  /** A PEFT adapter folder on the server (adapter_config.json, adapter_model.safetensors), relative to its working directory. */
  lora_path: nonEmpty("the adapter's folder on the server, a non-empty string"),
  /** The local model to serve it on (ours; vLLM has one base): default models.default, or the only local model. */
  base_model: opt(nonEmpty("the name of a local model")),
  /** Replace a loaded adapter of that name (vLLM's load_inplace). */
  load_inplace: opt(z.boolean({ error: "expected true or false" })),
});

export const unloadLoraAdapterRequestSchema = z.strictObject({
  lora_name: adapterName,
  /** vLLM's internal id of the adapter; accepted for its clients, not needed here (the name says which). */
  lora_int_id: opt(z.int({ error: "expected an integer" })),
});

export async function adapterRoutes(app: FastifyInstance, opts: { platform: Platform }): Promise<void> {
  const p = opts.platform;
  defineRoute(app, {
    method: "POST",
    url: "/v1/load_lora_adapter",
    body: loadLoraAdapterRequestSchema,
    policy: { name: "load-lora-adapter", access: "admin", classify: "none" },
    handler: async (ctx) => {
      const { lora_name, lora_path, base_model, load_inplace } = ctx.body;
      const loaded = await p.adapters.load({ name: lora_name, path: lora_path, base: base_model, replace: load_inplace });
      return {
        object: "lora_adapter",
        id: loaded.name,
        parent: loaded.base,
        replaced: loaded.replaced,
        message: `Success: LoRA adapter '${loaded.name}' ${loaded.replaced ? "replaced" : "added"} successfully.`,
      };
    },
  });
  defineRoute(app, {
    method: "POST",
    url: "/v1/unload_lora_adapter",
    body: unloadLoraAdapterRequestSchema,
    policy: { name: "unload-lora-adapter", access: "admin", classify: "none" },
    handler: async (ctx) => {
      const removed = p.adapters.unload(ctx.body.lora_name);
      return {
        object: "lora_adapter",
        id: removed.name,
        parent: removed.base,
        message: `Success: LoRA adapter '${removed.name}' removed successfully.`,
      };
    },
  });
}
