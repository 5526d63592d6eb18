/**
 * WWW-Authenticate parsing (RFC 7235 §4.1): a header holds one or more challenges, each a scheme followed by
 * either a token68 or a comma-separated list of auth-params whose values are tokens or quoted strings.
 * Quoted values may contain commas and escaped quotes, and a new challenge may follow a param list after a comma,
 * which is why this is a small tokenizer and not a split(",").
 */
export interface Challenge {
  /** Lower-cased auth scheme: "bearer", "basic", ... */
  scheme: string;
  /** Auth params with lower-cased names, e.g. realm, service, scope, error. */
  params: Record<string, string>;
  /** Set instead of params for the token68 form ("Negotiate abc=="). */
  token68?: string;
}

const TCHAR = /[!#$%&'*+\-.^_`|~0-9A-Za-z]/;
const TOKEN68 = /[A-Za-z0-9\-._~+/]/;

export function parseChallenge(header: string): Challenge[] {
  const s = header;
  let i = 0;
  const out: Challenge[] = [];
  const skipWs = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t")) i++;
  };
  const skipWsAndCommas = () => {
    while (i < s.length && (s[i] === " " || s[i] === "\t" || s[i] === ",")) i++;
  };
  const token = () => {
    const start = i;
    while (i < s.length && TCHAR.test(s[i]!)) i++;
    return s.slice(start, i);
  };
  const quoted = () => {
    // s[i] === '"'
    i++;
    let v = "";
    while (i < s.length && s[i] !== '"') {
      if (s[i] === "\\" && i + 1 < s.length) i++;
      v += s[i];
      i++;
    }
    i++; // closing quote (or end of input for an unterminated string: take what we have)
    return v;
  };
  /** Looking at `name BWS "="` (but not a token68's trailing "=" padding)? Does not move i. */
  const atParam = () => {
    let j = i;
    while (j < s.length && TCHAR.test(s[j]!)) j++;
    if (j === i) return false;
    while (j < s.length && (s[j] === " " || s[j] === "\t")) j++;
    if (s[j] !== "=") return false;
    j++;
    while (j < s.length && (s[j] === " " || s[j] === "\t")) j++;
    return j < s.length && s[j] !== "," && s[j] !== "=";
  };

  for (;;) {
    skipWsAndCommas();
    if (i >= s.length) break;
    const scheme = token();
    if (!scheme) {
      i++; // garbage character: skip it rather than loop forever
      continue;
    }
    const ch: Challenge = { scheme: scheme.toLowerCase(), params: {} };
    out.push(ch);
    skipWs();
    if (i < s.length && s[i] !== "," && !atParam()) {
      // token68
      const start = i;
      while (i < s.length && TOKEN68.test(s[i]!)) i++;
      while (i < s.length && s[i] === "=") i++;
      if (i > start) ch.token68 = s.slice(start, i);
      continue;
    }
    // auth-param list; ends where a token is not followed by "=" (the next challenge's scheme).
    for (;;) {
      skipWsAndCommas();
      if (i >= s.length || !atParam()) break;
      const name = token().toLowerCase();
      skipWs();
      i++; // "="
      skipWs();
      const value = s[i] === '"' ? quoted() : token();
      ch.params[name] = value;
      skipWs();
    }
  }
  return out;
}
