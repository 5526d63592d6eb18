/** `berth login` / `berth logout`: verify credentials against the registry, then store or remove them. */
import { invalid } from "../../core/errors.js";
import { defaultAuthFile, removeCredentials, storeCredentials, type Credentials } from "./auth-file.js";
import { RegistryClient, type RegistryClientOptions } from "./client.js";

/**
 * Verify `creds` against the registry's /v2/ (Basic, or a token fetch from its realm) and store them in the
 * auth file (0600; directories 0700). Wrong credentials: PERMISSION_DENIED and nothing is written.
 */
export async function login(domain: string, creds: Credentials, opts: RegistryClientOptions): Promise<void> {
  if (!creds.username) throw invalid(`login to ${domain}: username is empty`);
  if (!creds.password) throw invalid(`login to ${domain}: password is empty`);
  if (creds.username.includes(":")) throw invalid(`login to ${domain}: username may not contain ":"`);
  const client = new RegistryClient(domain, { ...opts, creds });
  try {
    await client.verifyCredentials(creds);
  } finally {
    await client.close();
  }
  storeCredentials(opts.authfile ?? defaultAuthFile(), domain, creds);
  opts.log?.debug(`stored credentials for ${domain} in ${opts.authfile ?? defaultAuthFile()}`);
}

/** Remove stored credentials for `domain`; NOT_FOUND when not logged in. */
export async function logout(domain: string, authfile?: string): Promise<void> {
  removeCredentials(authfile ?? defaultAuthFile(), domain);
}
