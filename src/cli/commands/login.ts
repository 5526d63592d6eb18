import type { Command } from "commander";
import { invalid } from "../../core/errors.js";
import { parseReference } from "../../core/reference.js";
import { engineFor, registryAccess, withRegistryFlags } from "../context.js";
import { readSecret, readStdin } from "../prompt.js";

/** "docker.io", "127.0.0.1:5000" or an image-ish string: reduce to the registry domain. */
export function registryDomain(arg: string | undefined): string {
  if (!arg) return "docker.io";
  const bare = arg.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  if (bare === "index.docker.io/v1" || bare === "index.docker.io" || bare === "registry-1.docker.io") return "docker.io";
  return bare.includes("/") ? parseReference(bare).domain : parseReference(`${bare}/x`).domain;
}

export function register(parent: Command): void {
  withRegistryFlags(parent.command("login [registry]"))
    .description("Log in to a registry; credentials are verified, then stored in the auth file (mode 0600)")
    .option("-u, --username <name>", "user name")
    .option("-p, --password <password>", "password (prefer --password-stdin: command lines are visible to other users)")
    .option("--password-stdin", "read the password from standard input")
    .action(async (registry: string | undefined, o, cmd: Command) => {
      const domain = registryDomain(registry);
      if (o.password && o.passwordStdin) throw invalid("--password and --password-stdin are mutually exclusive");
      let username: string | undefined = o.username;
      let password: string | undefined = o.password;
      if (o.passwordStdin) {
        if (!username) throw invalid("--password-stdin needs --username");
        password = (await readStdin()).replace(/\r?\n$/, "");
      }
      if (!username) username = await readSecret("Username: ", true);
      if (password === undefined) password = await readSecret("Password: ", false);
      if (!username || !password) throw invalid("a user name and a password are required");
      const engine = await engineFor(cmd);
      const { creds: _ignored, ...access } = registryAccess(o);
      await engine.images.login(domain, { username, password }, access);
      process.stdout.write("Login Succeeded!\n");
    });

  parent
    .command("logout [registry]")
    .description("Remove stored credentials for a registry")
    .option("--authfile <file>", "credentials file")
    .action(async (registry: string | undefined, o, cmd: Command) => {
      const engine = await engineFor(cmd);
      const domain = registryDomain(registry);
      await engine.images.logout(domain, o.authfile);
      process.stdout.write(`Removed login credentials for ${domain}\n`);
    });
}
