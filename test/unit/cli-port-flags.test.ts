import assert from "node:assert/strict";
import { test } from "node:test";
import { parsePrivatePort, portLines } from "../../src/cli/commands/port.js";
import { networkRow, toNetworkCreate } from "../../src/cli/commands/network.js";
import { parseAddHost, parseDnsSearch, parseIpFlag, parseMacFlag, parsePublish, toNetworkOptions } from "../../src/cli/port-flags.js";
import { BerthError } from "../../src/core/errors.js";

function rejects(fn: () => unknown, ...fragments: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BerthError, `not a BerthError: ${String(e)}`);
    assert.equal(e.code, "INVALID_ARGUMENT");
    assert.ok(!e.message.includes("\n"), e.message);
    for (const f of fragments) assert.ok(e.message.includes(f), `"${e.message}" lacks "${f}"`);
    return true;
  });
}

test("-p: container port alone, host:container, ip:host:container, ip::container, protocols", () => {
  assert.deepEqual(parsePublish("80"), [{ hostPort: 0, containerPort: 80, protocol: "tcp" }]);
  assert.deepEqual(parsePublish("8080:80"), [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
  assert.deepEqual(parsePublish("53:53/udp"), [{ hostPort: 53, containerPort: 53, protocol: "udp" }]);
  assert.deepEqual(parsePublish("127.0.0.1:8080:80/TCP"), [{ hostIp: "127.0.0.1", hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
  assert.deepEqual(parsePublish("127.0.0.1::80"), [{ hostIp: "127.0.0.1", hostPort: 0, containerPort: 80, protocol: "tcp" }]);
  assert.deepEqual(parsePublish("0:80"), [{ hostPort: 0, containerPort: 80, protocol: "tcp" }]);
});

test("-p: IPv6 host addresses, bracketed or not, come out canonical", () => {
  assert.deepEqual(parsePublish("[::1]:8080:80"), [{ hostIp: "::1", hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
  assert.deepEqual(parsePublish("[FD00:0::1]::53/udp"), [{ hostIp: "fd00::1", hostPort: 0, containerPort: 53, protocol: "udp" }]);
  assert.deepEqual(parsePublish("::1:8080:80"), [{ hostIp: "::1", hostPort: 8080, containerPort: 80, protocol: "tcp" }]);
});

test("-p: ranges expand pairwise; a lone container range picks host ports", () => {
  assert.deepEqual(parsePublish("8000-8002:80-82"), [
    { hostPort: 8000, containerPort: 80, protocol: "tcp" },
    { hostPort: 8001, containerPort: 81, protocol: "tcp" },
    { hostPort: 8002, containerPort: 82, protocol: "tcp" },
  ]);
  assert.deepEqual(parsePublish("10.0.0.1::5000-5001/udp"), [
    { hostIp: "10.0.0.1", hostPort: 0, containerPort: 5000, protocol: "udp" },
    { hostIp: "10.0.0.1", hostPort: 0, containerPort: 5001, protocol: "udp" },
  ]);
  assert.equal(parsePublish("7000-7009").length, 10);
});

test("-p: bad values name the flag and the value", () => {
  rejects(() => parsePublish("x"), 'invalid -p "x"', "container port");
  rejects(() => parsePublish("8080:0"), 'invalid -p "8080:0"', "out of range");
  rejects(() => parsePublish("70000:80"), "out of range");
  rejects(() => parsePublish("80/sctp"), "sctp");
  rejects(() => parsePublish("80/icmp"), "icmp");
  rejects(() => parsePublish("8000-8001:80-82"), "differ in length");
  rejects(() => parsePublish("8000-8010:80"), "one host port");
  rejects(() => parsePublish("90-80"), "ends before");
  rejects(() => parsePublish("1.2.3:80:80"), '"1.2.3"', "not an IPv4 or IPv6");
  rejects(() => parsePublish(":80:80"), "empty host IP");
  rejects(() => parsePublish("[::1:80:80"), "[IPv6]");
  rejects(() => parsePublish("8080:"), "no container port");
  rejects(() => parsePublish(""), "no container port");
});

test("--add-host: name:ip and name=ip, IPv6 too; the stored form is name:ip", () => {
  assert.equal(parseAddHost("db:10.0.0.5"), "db:10.0.0.5");
  assert.equal(parseAddHost("db=10.0.0.5"), "db:10.0.0.5");
  assert.equal(parseAddHost("v6:::1"), "v6:::1");
  assert.equal(parseAddHost("v6=[FD00::0:1]"), "v6:fd00::1");
  assert.equal(parseAddHost("my-host.lab:192.168.1.1"), "my-host.lab:192.168.1.1");
  rejects(() => parseAddHost("db"), 'invalid --add-host "db"', "NAME:IP");
  rejects(() => parseAddHost("db:300.1.1.1"), "300.1.1.1");
  rejects(() => parseAddHost(":10.0.0.1"), "host name");
  rejects(() => parseAddHost("bad name:10.0.0.1"), "host name");
  rejects(() => parseAddHost("gw:host-gateway"), "host-gateway");
});

test("--ip, --ip6, --mac-address, --dns-search", () => {
  assert.equal(parseIpFlag("--ip", "172.30.0.10", 4), "172.30.0.10");
  assert.equal(parseIpFlag("--ip6", "FD00:0:0::10", 6), "fd00::10");
  rejects(() => parseIpFlag("--ip", "fd00::1", 4), 'invalid --ip "fd00::1"', "IPv4");
  rejects(() => parseIpFlag("--ip6", "10.0.0.1", 6), "--ip6", "IPv6");
  rejects(() => parseIpFlag("--ip", "10.0.0", 4), 'invalid --ip "10.0.0"');
  assert.equal(parseMacFlag("--mac-address", "02-42-AC-11-00-02"), "02:42:ac:11:00:02");
  rejects(() => parseMacFlag("--mac-address", "01:00:5e:00:00:01"), 'invalid --mac-address "01:00:5e:00:00:01"', "multicast");
  rejects(() => parseMacFlag("--mac-address", "zz"), "--mac-address", "six hex bytes");
  assert.equal(parseDnsSearch("lab.example."), "lab.example.");
  assert.equal(parseDnsSearch("."), ".");
  rejects(() => parseDnsSearch("a b"), "--dns-search");
});

test("network flags -> ContainerOptions fields; special modes refuse addresses and ports", () => {
  assert.deepEqual(toNetworkOptions({}), {});
  assert.deepEqual(
    toNetworkOptions({ net: "lab", ip: "10.1.0.5", networkAlias: ["r1"], publish: ["80", "8443:443"], publishAll: true, dns: ["1.1.1.1"], dnsOption: ["ndots:2"], addHost: ["x=10.0.0.1"] }),
    {
      network: "lab",
      ip: "10.1.0.5",
      networkAliases: ["r1"],
      publish: [
        { hostPort: 0, containerPort: 80, protocol: "tcp" },
        { hostPort: 8443, containerPort: 443, protocol: "tcp" },
      ],
      publishAll: true,
      dns: ["1.1.1.1"],
      dnsOptions: ["ndots:2"],
      addHosts: ["x:10.0.0.1"],
    },
  );
  rejects(() => toNetworkOptions({ network: "host", publish: ["80"] }), "conflicting options", "-p/--publish", "--network host");
  rejects(() => toNetworkOptions({ network: "none", ip: "10.0.0.1" }), "--ip", "--network none");
  rejects(() => toNetworkOptions({ network: "container:web", dns: ["1.1.1.1"] }), "--dns", "container:web");
  assert.deepEqual(toNetworkOptions({ network: "host", dns: ["1.1.1.1"] }), { network: "host", dns: ["1.1.1.1"] });
  rejects(() => toNetworkOptions({ network: "ns:run/netns/x" }), "absolute");
  rejects(() => toNetworkOptions({ network: "container:" }), "container:NAME");
  rejects(() => toNetworkOptions({ dnsOption: ["bad option"] }), "--dns-option");
});

test("network create pairs each --gateway and --ip-range with the subnet that contains it", () => {
  assert.deepEqual(toNetworkCreate("lab", {}), { name: "lab", driver: "bridge" });
  assert.deepEqual(
    toNetworkCreate("lab", { driver: "macvlan", subnet: ["10.1.0.0/24", "fd00:1::/64"], gateway: ["fd00:1::1", "10.1.0.254"], ipRange: ["10.1.0.128/25"], opt: ["parent=br0"], label: ["a=b"], internal: true }),
    {
      name: "lab",
      driver: "macvlan",
      subnets: [
        { subnet: "10.1.0.0/24", gateway: "10.1.0.254", ipRange: "10.1.0.128/25" },
        { subnet: "fd00:1::/64", gateway: "fd00:1::1" },
      ],
      ipv6: true,
      internal: true,
      options: { parent: "br0" },
      labels: { a: "b" },
    },
  );
  assert.equal(toNetworkCreate("v6", { ipv6: true }).ipv6, true);
  rejects(() => toNetworkCreate("x", { subnet: ["10.1.0.5/16"] }), 'invalid --subnet "10.1.0.5/16"', "10.1.0.0/16");
  rejects(() => toNetworkCreate("x", { gateway: ["10.1.0.1"] }), "--gateway", "--subnet");
  rejects(() => toNetworkCreate("x", { subnet: ["10.1.0.0/24"], gateway: ["10.2.0.1"] }), 'invalid --gateway "10.2.0.1"', "no --subnet contains it");
  rejects(() => toNetworkCreate("x", { subnet: ["10.1.0.0/24"], gateway: ["10.1.0.1", "10.1.0.2"] }), "already has gateway");
  rejects(() => toNetworkCreate("x", { subnet: ["10.1.0.0/24"], ipRange: ["10.1.1.0/25"] }), "--ip-range");
  rejects(() => toNetworkCreate("x", { subnet: ["10.1.0.0/16", "10.1.2.0/24"] }), "overlaps");
  rejects(() => toNetworkCreate("x", { driver: "ipvlan" }), "--driver", "ipvlan");
  rejects(() => toNetworkCreate("x", { opt: ["mtu"] }), "--opt", "key=value");
});

test("network ls rows and port lines", () => {
  const n = { Name: "lab", Id: "ab".repeat(32), Created: "2026-01-01T00:00:00Z", Scope: "local" as const, Driver: "bridge", EnableIPv6: false, IPAM: { Driver: "default" as const, Config: [] }, Internal: false, Options: {}, Labels: { a: "1" }, Containers: {} };
  assert.deepEqual(networkRow(n), { ID: "ab".repeat(6), Name: "lab", Driver: "bridge", Scope: "local", IPv6: "false", Internal: "false", Labels: "a=1", CreatedAt: "2026-01-01T00:00:00Z" });
  const ports = { "443/tcp": [{ HostIp: "0.0.0.0", HostPort: "8443" }, { HostIp: "::", HostPort: "8443" }], "53/udp": [{ HostIp: "127.0.0.1", HostPort: "5353" }], "80/tcp": [{ HostIp: "", HostPort: "8080" }], "22/tcp": null };
  assert.deepEqual(portLines(ports), ["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080", "443/tcp -> 0.0.0.0:8443", "443/tcp -> [::]:8443"]);
  assert.deepEqual(portLines(ports, parsePrivatePort("443")), ["0.0.0.0:8443", "[::]:8443"]);
  assert.equal(portLines(ports, parsePrivatePort("22/tcp")), undefined);
  assert.equal(portLines(undefined, "80/tcp"), undefined);
  assert.deepEqual(portLines(undefined), []);
  assert.equal(parsePrivatePort("53/UDP"), "53/udp");
  rejects(() => parsePrivatePort("http"), 'invalid port "http"');
});
