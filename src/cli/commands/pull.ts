import type { Command } from "commander";
import { BerthError } from "../../core/errors.js";
import { formatReference, parseReference } from "../../core/reference.js";
import { engineFor, registryAccess, withRegistryFlags } from "../context.js";

export function register(parent: Command, name = "pull"): void {
  withRegistryFlags(parent.command(`${name} <image>`))
    .description("Pull an image from a registry")
    .option("-q, --quiet", "print only the image ID")
    .option("--platform <os/arch[/variant]>", "platform to select from a multi-platform image (default: the host's)")
    .option("--export <file>", "also write the pulled image to an archive (gzip when FILE ends in .gz)")
    .option("--export-format <format>", "archive format for --export: docker-archive or oci-archive", "docker-archive")
    .action(async (image: string, o, cmd: Command) => {
      const engine = await engineFor(cmd);
      const access = registryAccess(o);
      const { pullRenderer } = await import("../progress.js");
      const renderer = pullRenderer(process.stdout, !!o.quiet);
      // First Ctrl-C: stop cleanly (nothing half-made stays visible). Second: leave at once.
      const abort = new AbortController();
      const onSigint = () => (abort.signal.aborted ? process.exit(130) : abort.abort(new BerthError("UNAVAILABLE", "pull interrupted")));
      process.on("SIGINT", onSigint);
      let img;
      try {
        img = await engine.images.pull(image, { ...access, ...(o.platform ? { platform: o.platform } : {}), onEvent: (e) => renderer.onEvent(e), signal: abort.signal });
      } catch (e) {
        if (abort.signal.aborted) throw Object.assign(abort.signal.reason as BerthError, { exitCode: 130 });
        throw e;
      } finally {
        renderer.stop();
        process.off("SIGINT", onSigint);
      }
      // Export under the pulled name, so the archive carries its tag.
      const parsed = parseReference(image);
      if (o.export) await engine.images.saveToFile([parsed.tag ? formatReference({ ...parsed, digest: undefined }) : img.id], o.export, { format: o.exportFormat, gzip: String(o.export).endsWith(".gz") });
      if (o.quiet) process.stdout.write(`${img.id}\n`);
      else process.stdout.write(`Digest: ${img.repoDigests[0]?.split("@")[1] ?? img.manifestDigest}\nImage: ${img.id}\n${formatReference(parsed)}\n`);
    });
}
