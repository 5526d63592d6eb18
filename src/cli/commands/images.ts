import type { Command } from "commander";
import { familiarName } from "../../core/reference.js";
import type { ImageRecord } from "../../image/types.js";
import { engineFor } from "../context.js";
import { humanAgo, humanSize, renderTemplate, shortId, table } from "../format.js";

interface Row {
  ID: string;
  Repository: string;
  Tag: string;
  Digest: string;
  CreatedAt: string;
  CreatedSince: string;
  Size: string;
}

/** One row per tag; an image known only by digest shows `<none>` as its tag, like Docker. */
function rows(img: ImageRecord, noTrunc: boolean): Row[] {
  const base = {
    ID: noTrunc ? img.id : shortId(img.id),
    CreatedAt: img.created ?? "",
    CreatedSince: humanAgo(img.created),
    Size: humanSize(img.size),
  };
  const digestOf = (repo: string) => img.repoDigests.find((d) => d.startsWith(`${repo}@`))?.split("@")[1] ?? "<none>";
  if (img.tags.length === 0) {
    const repo = img.repoDigests[0]?.split("@")[0];
    return [{ ...base, Repository: repo ? familiarName(repo) : "<none>", Tag: "<none>", Digest: repo ? digestOf(repo) : "<none>" }];
  }
  return img.tags.map((t) => {
    const i = t.lastIndexOf(":");
    const repo = t.slice(0, i);
    return { ...base, Repository: familiarName(repo), Tag: t.slice(i + 1), Digest: digestOf(repo) };
  });
}

export function register(parent: Command, name = "images"): void {
  parent
    .command(name)
    .description("List images")
    .option("-a, --all", "also show dangling images (no tag and no repo digest)")
    .option("-q, --quiet", "only show image IDs")
    .option("--digests", "show repo digests")
    .option("--no-trunc", "do not truncate IDs")
    .option("--format <format>", "json, table, or a Go-style template such as '{{.Repository}}:{{.Tag}}'")
    .action(async (o, cmd: Command) => {
      const engine = await engineFor(cmd);
      const images = engine.images.list().filter((i) => o.all || i.tags.length > 0 || i.repoDigests.length > 0);
      if (o.format === "json") {
        const doc = images.map((i) => ({
          Id: i.id,
          RepoTags: i.tags.map(familiarName),
          RepoDigests: i.repoDigests.map(familiarName),
          Created: i.created ?? null,
          Size: i.size,
          Os: i.platform.os,
          Architecture: i.platform.architecture,
          ...(i.platform.variant ? { Variant: i.platform.variant } : {}),
          ManifestDigest: i.manifestDigest,
        }));
        process.stdout.write(JSON.stringify(doc, null, 2) + "\n");
        return;
      }
      if (o.quiet) {
        const ids = [...new Set(images.map((i) => (o.trunc === false ? i.id : shortId(i.id))))];
        process.stdout.write(ids.map((id) => id + "\n").join(""));
        return;
      }
      const all = images.flatMap((i) => rows(i, o.trunc === false));
      if (o.format && o.format !== "table") {
        process.stdout.write(all.map((r) => renderTemplate(o.format, r) + "\n").join(""));
        return;
      }
      const header = ["REPOSITORY", "TAG", ...(o.digests ? ["DIGEST"] : []), "IMAGE ID", "CREATED", "SIZE"];
      process.stdout.write(table(header, all.map((r) => [r.Repository, r.Tag, ...(o.digests ? [r.Digest] : []), r.ID, r.CreatedSince, r.Size])));
    });
}
