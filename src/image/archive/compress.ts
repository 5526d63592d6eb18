import { spawn } from "node:child_process";
import { Duplex, PassThrough, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { invalid, unavailable } from "../../core/errors.js";
import { detectCompression, looksLikeTar, peek, type StreamCompression } from "./sniff.js";

/**
 * zstd through the zstd binary: Node 20's zlib has no zstd. The output ends only once zstd has exited 0,
 * so a truncated or corrupt input is an error, never a silently short stream.
 */
export function zstdStream(mode: "decompress" | "compress", level = 3): Duplex {
  const child = spawn("zstd", mode === "decompress" ? ["-d", "-c", "-q"] : [`-${level}`, "-c", "-q", "-T0"], { stdio: ["pipe", "pipe", "pipe"] });
  const out = new PassThrough();
  let stderr = "";
  let failed: Error | undefined;
  child.stderr.setEncoding("utf8").on("data", (d: string) => {
    if (stderr.length < 4096) stderr += d;
  });
  child.stdout.pipe(out, { end: false });
  child.on("error", (e: NodeJS.ErrnoException) => {
    failed = e.code === "ENOENT" ? unavailable("zstd is not installed: install the zstd package to handle .zst data") : e;
    out.destroy(failed);
  });
  child.on("close", (code, signal) => {
    if (failed) return;
    if (code === 0) out.end();
    else out.destroy(invalid(`zstd ${mode} failed: ${stderr.trim().split("\n").pop() || (signal ? `killed by ${signal}` : `exit status ${code}`)}`));
  });
  // zstd may exit before reading all input (corrupt data): the write side's EPIPE is reported via the exit status.
  child.stdin.on("error", () => {});
  const d = Duplex.from({ writable: child.stdin, readable: out });
  d.once("close", () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  });
  return d;
}

export function decompressor(c: "gzip" | "zstd"): Duplex {
  return c === "gzip" ? createGunzip() : zstdStream("decompress");
}

/** Undo a whole-stream gzip or zstd compression, detected from magic bytes; other compressions are refused. */
export async function autoDecompress(input: Readable, what: string): Promise<{ stream: Readable; compression: StreamCompression; head: Buffer }> {
  const { head, stream } = await peek(input, 6);
  const compression = detectCompression(head);
  if (compression === "xz" || compression === "bzip2") {
    stream.destroy();
    throw invalid(`${what} is ${compression}-compressed, which is not supported: use gzip, zstd or no compression`);
  }
  if (compression === "none") return { stream, compression, head };
  return { stream: pipeThrough(stream, decompressor(compression)), compression, head };
}

/** source.pipe(through), but an error on the source also fails the result (pipe() alone drops it). */
export function pipeThrough(source: Readable, through: Duplex): Readable {
  source.once("error", (e) => through.destroy(e));
  through.once("close", () => {
    if (!source.readableEnded) source.destroy();
  });
  return source.pipe(through);
}

/**
 * Open an archive that may be compressed and must be a tar inside; `what` names it in errors
 * ("the archive", "the rootfs archive").
 */
export async function openTar(input: Readable, what: string): Promise<Readable> {
  const { stream, compression } = await autoDecompress(input, what);
  const { head, stream: tarStream } = await peek(stream, 512);
  if (head.length === 0) {
    tarStream.destroy();
    throw invalid(`${what} is empty`);
  }
  if (!looksLikeTar(head)) {
    tarStream.destroy();
    throw invalid(compression === "none" ? `${what} is not a tar archive` : `${what} is ${compression}-compressed but not a tar archive inside`);
  }
  return tarStream;
}
