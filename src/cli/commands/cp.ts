import type { Command } from "commander";
import { invalid } from "../../core/errors.js";
import type { CopyLocation } from "../../engine/volumes.js";
import { engineFor } from "../context.js";

/**
 * Docker's reading of a cp argument: CONTAINER:PATH when there is a colon and the part before it has no
 * slash; a local path with a colon in it is written ./a:b or as an absolute path.
 */
export function parseCopyArg(a: string): CopyLocation | "-" {
  if (a === "-") return "-";
  if (a.startsWith("/") || a.startsWith(".")) return { path: a };
  const i = a.indexOf(":");
  if (i <= 0 || a.slice(0, i).includes("/")) return { path: a };
  const path = a.slice(i + 1);
  if (!path) throw invalid(`invalid copy path "${a}": no path after the container name`);
  return { container: a.slice(0, i), path: path.startsWith("/") ? path : `/${path}` };
}

export function register(parent: Command, name = "cp"): void {
  parent
    .command(`${name} <src> <dst>`)
    .description("Copy files between a container and the host: CONTAINER:SRC DST, SRC CONTAINER:DST; - for a tar stream on stdin/stdout")
    .option("-L, --follow-link", "follow a symbolic link at SRC")
    .option("-a, --archive", "accepted for Docker compatibility: owners are kept when berth runs as root")
    .option("-q, --quiet", "no output (there is none but warnings)")
    .action(async (srcArg: string, dstArg: string, o: { followLink?: boolean; quiet?: boolean }, cmd: Command) => {
      const src = parseCopyArg(srcArg);
      const dst = parseCopyArg(dstArg);
      const follow = o.followLink ? { followLink: true } : {};
      if (src === "-" && dst === "-") throw invalid("cp: source and destination cannot both be -");
      if (dst === "-") {
        if ((src as CopyLocation).container === undefined) throw invalid("cp: copying to - (a tar stream on stdout) needs a CONTAINER:PATH source");
        const s = src as CopyLocation;
        return (await engineFor(cmd)).files.archive(s.container!, s.path, process.stdout, follow);
      }
      if (src === "-") {
        if (dst.container === undefined) throw invalid("cp: copying from - (a tar stream on stdin) needs a CONTAINER:PATH destination");
        return (await engineFor(cmd)).files.extract(dst.container, dst.path, process.stdin);
      }
      // Check before opening anything: exactly one side is a container.
      if ((src.container === undefined) === (dst.container === undefined))
        throw invalid(src.container === undefined ? "cp: one side must be a container path (CONTAINER:PATH)" : "cp: copying between containers is not supported; copy to the host first");
      const { skipped } = await (await engineFor(cmd)).files.copy(src, dst, follow);
      if (skipped.length && !o.quiet) process.stderr.write(`Warning: not copied (devices, fifos and sockets): ${skipped.join(", ")}\n`);
    });
}
