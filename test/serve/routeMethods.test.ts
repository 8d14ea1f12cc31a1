// The path matcher behind 405's Allow header, checked against fastify's own router: for
// random route tables and random paths, a method is in `methodsFor(path)` exactly when
// fastify routes that method and path to a handler (not to its 404).

import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import Fastify from "fastify";
import { type MethodRoute, RouteMethods } from "../../src/serve/routeMethods.js";

const methods = ["GET", "POST", "PUT"] as const;
const segment = fc.constantFrom("a", "b", "v1", ":p", ":q");
/** Unique by method and shape: fastify refuses `/v1/:p` and `/v1/:q` under one method. */
const routeTable = fc.uniqueArray(
  fc.record({
    method: fc.constantFrom(...methods),
    url: fc.array(segment, { minLength: 1, maxLength: 3 }).map((s) => `/${s.join("/")}`),
  }),
  { minLength: 1, maxLength: 6, selector: (r) => `${r.method} ${r.url.replace(/:[a-z]+/g, ":")}` },
);
const pathPart = fc.constantFrom("a", "b", "v1", "x", "", "%61", "a%2Fb");
const path = fc.array(pathPart, { minLength: 0, maxLength: 4 }).map((s) => `/${s.join("/")}`);

test("property: methodsFor agrees with fastify's router", async () => {
  await fc.assert(
    fc.asyncProperty(routeTable, fc.array(path, { minLength: 1, maxLength: 6 }), async (table, paths) => {
      const app = Fastify();
      const routes: MethodRoute[] = [];
      app.addHook("onRoute", (r) => {
        routes.push({ method: String(r.method), url: r.url });
      });
      for (const r of table) app.route({ method: r.method, url: r.url, handler: async () => "ok" });
      await app.ready();
      const matcher = new RouteMethods(routes);
      // Paths filled in from the table too, so most cases hit a route.
      const filled = table.map((r) => r.url.replace(/:[a-z]+/g, "x"));
      for (const p of [...paths, ...filled]) {
        const allowed = matcher.methodsFor(p);
        for (const method of [...methods, "HEAD"] as const) {
          const r = await app.inject({ method, url: p });
          assert.equal(allowed.includes(method), r.statusCode !== 404, `${method} ${p} in ${JSON.stringify(table)}: ${allowed}`);
        }
      }
      await app.close();
    }),
    { numRuns: 80, seed: 9 },
  );
});

test("routes registered after the matcher was made are seen; a query string is ignored", () => {
  const routes: MethodRoute[] = [{ method: "POST", url: "/v1/chat/completions" }];
  const matcher = new RouteMethods(routes);
  assert.deepEqual(matcher.methodsFor("/v1/chat/completions?stream=true"), ["POST"]);
  routes.push({ method: "GET", url: "/v1/samples/:id/:file" }, { method: "HEAD", url: "/v1/samples/:id/:file" });
  assert.deepEqual(matcher.methodsFor("/v1/samples/s1/image.png"), ["GET", "HEAD"]);
  assert.deepEqual(matcher.methodsFor("/v1/samples/s1"), []);
});
