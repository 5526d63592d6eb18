/** OCI distribution client: what image pulls, login and logout use. */
export { RegistryClient, type RegistryClientOptions, type RetryOptions } from "./client.js";
export { login, logout } from "./login.js";
export {
  defaultAuthFile,
  dockerConfigFile,
  lookupCredentials,
  normalizeAuthKey,
  readAuthFile,
  findCredentials,
  storeCredentials,
  removeCredentials,
  type Credentials,
} from "./auth-file.js";
export { parseChallenge, type Challenge } from "./challenge.js";
export {
  DEFAULT_CERTS_DIRS,
  isListedInsecure,
  isLoopbackHost,
  loadTlsMaterial,
  transportPolicy,
  type TlsMaterial,
  type TransportPolicy,
} from "./transport.js";
