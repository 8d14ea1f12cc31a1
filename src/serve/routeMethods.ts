// Which methods the server has for a path: what a 405's Allow header lists when a known path
// is called with another method (GET on a POST route), and empty for an unknown path (404).
// Route patterns are fastify's: `/v1/medical/samples/:id/:file`, a trailing `*` for the rest.

/** A registered route as the matcher needs it. */
export interface MethodRoute {
  readonly method: string;
  readonly url: string;
}

type Segment = { readonly kind: "literal"; readonly text: string } | { readonly kind: "param" } | { readonly kind: "rest" };

interface CompiledPattern {
  readonly segments: readonly Segment[];
  readonly methods: Set<string>;
}

function compile(url: string): Segment[] {
  return url.split("/").map((part): Segment => {
    if (part === "*") return { kind: "rest" };
    if (part.startsWith(":")) return { kind: "param" };
    return { kind: "literal", text: part };
  });
}

/** fastify matches on the decoded path; a path that does not decode matches only literally. */
function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

function matches(segments: readonly Segment[], parts: readonly string[]): boolean {
  for (let i = 0; i < segments.length; i++) {
    const s = segments[i];
    if (s.kind === "rest") return true;
    const part = parts[i];
    if (part === undefined) return false;
    // A parameter matches any segment, empty included (fastify routes "/" to "/:id").
    if (s.kind === "literal" && s.text !== part) return false;
  }
  return segments.length === parts.length;
}

/** The methods of a route list by path pattern, compiled once; `methodsFor` answers per request. */
export class RouteMethods {
  private compiled: CompiledPattern[] | undefined;
  private compiledFrom = -1;

  /** `routes` may still grow (it fills as routes register); the patterns are recompiled when it has. */
  constructor(private readonly routes: readonly MethodRoute[]) {}

  /** The methods registered for the path of `url` (query ignored), sorted; empty when no route has that path. */
  methodsFor(url: string): string[] {
    const path = url.split("?", 1)[0];
    const parts = path.split("/").map(decodeSegment);
    const methods = new Set<string>();
    for (const p of this.patterns()) if (matches(p.segments, parts)) for (const m of p.methods) methods.add(m);
    return [...methods].sort();
  }

  private patterns(): CompiledPattern[] {
    if (this.compiled && this.compiledFrom === this.routes.length) return this.compiled;
    const byUrl = new Map<string, CompiledPattern>();
    for (const r of this.routes) {
      const p = byUrl.get(r.url) ?? { segments: compile(r.url), methods: new Set<string>() };
      // A route declared for several methods is listed as "GET,HEAD".
      for (const m of r.method.split(",")) p.methods.add(m.trim().toUpperCase());
      byUrl.set(r.url, p);
    }
    this.compiled = [...byUrl.values()];
    this.compiledFrom = this.routes.length;
    return this.compiled;
  }
}
