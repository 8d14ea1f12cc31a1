// The layering of src/, checked by `npm run lint:deps` (tools/lintDeps.mjs).
// Folders, lowest first: a folder imports only folders before it in this list; every import
// from one top-level folder into another goes through that folder's index.ts (its public
// face); no circular imports.
const layers = ["graph", "runtime", "data", "nn", "models", "generate", "train", "secure", "serve", "apps", "cli"];

const upward = layers.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} imports only ${layers.slice(0, i).join(", ") || "nothing else in src"} (a lower layer must not depend on a higher one)`,
  severity: "error",
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${layers.slice(i + 1).join("|")})/` },
}));

module.exports = {
  layers,
  forbidden: [
    ...upward,
    {
      name: "through-index",
      comment: "an import from one top-level folder of src into another goes through that folder's index.ts",
      severity: "error",
      from: { path: "^src/([^/]+)/" },
      to: { path: "^src/[^/]+/", pathNot: ["^src/$1/", "^src/[^/]+/index\\.ts$"] },
    },
    {
      name: "no-circular",
      comment: "no module imports itself through a chain of imports",
      severity: "error",
      from: { path: "^src/" },
      to: { circular: true },
    },
  ],
  options: {
    parser: "swc",
    includeOnly: "^src/",
    doNotFollow: { path: "node_modules" },
    moduleSystems: ["es6"],
    enhancedResolveOptions: {
      extensions: [".ts", ".js"],
      extensionAlias: { ".js": [".ts", ".js"] },
    },
  },
};
