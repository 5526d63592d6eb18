import { lazyCrypto } from "../core/lazy.js";

// berth's own word lists: harbour words, so generated names read like berth's (Docker-style adjective_noun).
const ADJECTIVES = [
  "amber", "brave", "calm", "deep", "eager", "fair", "gentle", "hardy", "idle", "jolly", "keen", "lucid", "mellow",
  "nimble", "open", "proud", "quiet", "rapid", "steady", "tidal", "upbeat", "vivid", "windy", "young", "zesty",
];
const NOUNS = [
  "anchor", "buoy", "capstan", "dock", "ferry", "galley", "harbor", "inlet", "jetty", "keel", "lighthouse", "mooring",
  "narrows", "oar", "pier", "quay", "rudder", "schooner", "tugboat", "umiak", "vessel", "wharf", "yawl", "zodiac",
];

export function randomName(): string {
  const { randomInt } = lazyCrypto();
  return `${ADJECTIVES[randomInt(ADJECTIVES.length)]}_${NOUNS[randomInt(NOUNS.length)]}_${randomInt(100)}`;
}
