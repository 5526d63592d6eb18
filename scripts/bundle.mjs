// Bundles the CLI into one CommonJS file for start-up speed: Node's ESM loader and the builtins an ES
// module graph drags in cost more than the work of a quick command such as `berth images`. Heavy
// dependencies stay external and load on first use; commander's eager child_process import is deferred.
import { build } from "esbuild";

const lazyChildProcess = {
  name: "lazy-child-process",
  setup(b) {
    b.onResolve({ filter: /^(node:)?child_process$/ }, (args) =>
      args.importer.includes("node_modules/commander") ? { path: "child_process", namespace: "lazy" } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "lazy" }, () => ({
      contents: 'module.exports = new Proxy({}, { get: (_, k) => require("node:child_process")[k] });',
      loader: "js",
    }));
  },
};

await build({
  entryPoints: ["src/cli/run.ts"],
  outfile: "dist/bundle/berth.cjs",
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  external: ["better-sqlite3", "undici", "yaml", "zod", "tar-stream", "cli-progress"],
  plugins: [lazyChildProcess],
  // Smaller to read and pre-parse at every start; identifiers stay, so stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
  legalComments: "none",
  logLevel: "warning",
});
