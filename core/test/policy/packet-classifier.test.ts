import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { classifyPacket, MAX_IPV6_EXTENSION_HEADERS, type PacketClass } from '../../src/policy/index.js';

const TCP = 6;
const UDP = 17;

function tcp(dst: number, src = 40000): Uint8Array {
  const h = new Uint8Array(20);
  h[0] = src >> 8;
  h[1] = src & 0xff;
  h[2] = dst >> 8;
  h[3] = dst & 0xff;
  h[12] = 5 << 4;
  return h;
}

function udp(dst: number, src = 40000): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = src >> 8;
  h[1] = src & 0xff;
  h[2] = dst >> 8;
  h[3] = dst & 0xff;
  return h;
}

interface V4Options {
  readonly ihl?: number;
  readonly fragmentOffset?: number;
  readonly moreFragments?: boolean;
}

function ipv4(protocol: number, payload: Uint8Array, o: V4Options = {}): Uint8Array {
  const ihl = o.ihl ?? 5;
  const headerLength = Math.max(ihl, 5) * 4;
  const p = new Uint8Array(headerLength + payload.length);
  p[0] = 0x40 | ihl;
  const total = p.length;
  p[2] = total >> 8;
  p[3] = total & 0xff;
  const frag = (o.fragmentOffset ?? 0) | (o.moreFragments === true ? 0x2000 : 0);
  p[6] = frag >> 8;
  p[7] = frag & 0xff;
  p[8] = 64;
  p[9] = protocol;
  p.set([10, 99, 0, 1], 12);
  p.set([10, 99, 0, 2], 16);
  p.set(payload, headerLength);
  return p;
}

/** An extension header of `next` type with `(len8 + 1) * 8` bytes (hop-by-hop, routing, dest opts). */
function ext(next: number, len8 = 0): Uint8Array {
  const h = new Uint8Array((len8 + 1) * 8);
  h[0] = next;
  h[1] = len8;
  return h;
}

function fragmentHeader(next: number, offset8: number, more = false): Uint8Array {
  const h = new Uint8Array(8);
  h[0] = next;
  const v = (offset8 << 3) | (more ? 1 : 0);
  h[2] = v >> 8;
  h[3] = v & 0xff;
  return h;
}

/** AH: length field counts 4-byte units minus 2. */
function ah(next: number, len4 = 4): Uint8Array {
  const h = new Uint8Array((len4 + 2) * 4);
  h[0] = next;
  h[1] = len4;
  return h;
}

function ipv6(next: number, ...parts: Uint8Array[]): Uint8Array {
  const payloadLength = parts.reduce((n, p) => n + p.length, 0);
  const p = new Uint8Array(40 + payloadLength);
  p[0] = 0x60;
  p[4] = payloadLength >> 8;
  p[5] = payloadLength & 0xff;
  p[6] = next;
  p[7] = 64;
  p[8] = 0xfd;
  p[24] = 0xfd;
  let offset = 40;
  for (const part of parts) {
    p.set(part, offset);
    offset += part.length;
  }
  return p;
}

const kind = (c: PacketClass): string => c.kind;

describe('classifyPacket: IPv4', () => {
  it('reads the TCP and UDP destination port', () => {
    assert.deepEqual(classifyPacket(ipv4(TCP, tcp(22))), { kind: 'tcp', port: 22, family: 4 });
    assert.deepEqual(classifyPacket(ipv4(UDP, udp(53))), { kind: 'udp', port: 53, family: 4 });
    assert.deepEqual(classifyPacket(ipv4(TCP, tcp(65535, 1))), { kind: 'tcp', port: 65535, family: 4 });
    assert.deepEqual(classifyPacket(ipv4(UDP, udp(0))), { kind: 'udp', port: 0, family: 4 });
  });

  it('skips IPv4 options using IHL', () => {
    const p = ipv4(TCP, tcp(8080), { ihl: 7 });
    assert.deepEqual(classifyPacket(p), { kind: 'tcp', port: 8080, family: 4 });
  });

  it('refuses IHL below 5 and options past the end', () => {
    const low = ipv4(TCP, tcp(22));
    low[0] = 0x44;
    assert.equal(kind(classifyPacket(low)), 'malformed');
    const long = ipv4(TCP, new Uint8Array(0));
    long[0] = 0x4f; // 60-byte header in a 20-byte packet
    assert.equal(kind(classifyPacket(long)), 'malformed');
  });

  it('classifies ICMP, other protocols, and later fragments', () => {
    assert.deepEqual(classifyPacket(ipv4(1, new Uint8Array(8))), { kind: 'icmp' });
    assert.deepEqual(classifyPacket(ipv4(47, new Uint8Array(8))), { kind: 'other' });
    // ICMPv6's number inside IPv4 is not ICMP.
    assert.deepEqual(classifyPacket(ipv4(58, new Uint8Array(8))), { kind: 'other' });
    assert.deepEqual(classifyPacket(ipv4(TCP, tcp(22), { fragmentOffset: 185 })), { kind: 'other' });
    assert.deepEqual(classifyPacket(ipv4(TCP, tcp(22), { fragmentOffset: 1 })), { kind: 'other' });
  });

  it('classifies a first fragment by its ports', () => {
    assert.deepEqual(classifyPacket(ipv4(TCP, tcp(443), { moreFragments: true })), {
      kind: 'tcp',
      port: 443,
      family: 4,
    });
  });

  it('refuses truncated packets', () => {
    assert.equal(kind(classifyPacket(new Uint8Array(0))), 'malformed');
    assert.equal(kind(classifyPacket(ipv4(TCP, tcp(22)).subarray(0, 19))), 'malformed');
    assert.equal(kind(classifyPacket(ipv4(TCP, tcp(22)).subarray(0, 23))), 'malformed');
    assert.deepEqual(classifyPacket(ipv4(TCP, tcp(22)).subarray(0, 24)), { kind: 'tcp', port: 22, family: 4 });
    assert.equal(kind(classifyPacket(ipv4(TCP, new Uint8Array(0)))), 'malformed');
    // A tiny first fragment that splits the ports is refused, not passed as "other".
    assert.equal(kind(classifyPacket(ipv4(UDP, udp(53).subarray(0, 3), { moreFragments: true }))), 'malformed');
  });

  it('refuses IP versions other than 4 and 6', () => {
    for (const v of [0, 1, 5, 7, 15]) {
      const p = ipv4(TCP, tcp(22));
      p[0] = (v << 4) | 5;
      assert.equal(kind(classifyPacket(p)), 'malformed');
    }
  });

  it('reads from a view at a non-zero offset without touching bytes outside it', () => {
    const inner = ipv4(TCP, tcp(2222));
    const outer = new Uint8Array(inner.length + 32).fill(0xee);
    outer.set(inner, 16);
    assert.deepEqual(classifyPacket(outer.subarray(16, 16 + inner.length)), { kind: 'tcp', port: 2222, family: 4 });
    assert.equal(kind(classifyPacket(outer.subarray(16, 16 + 22))), 'malformed');
  });
});

describe('classifyPacket: IPv6', () => {
  it('reads TCP, UDP and ICMPv6 directly after the fixed header', () => {
    assert.deepEqual(classifyPacket(ipv6(TCP, tcp(22))), { kind: 'tcp', port: 22, family: 6 });
    assert.deepEqual(classifyPacket(ipv6(UDP, udp(5353))), { kind: 'udp', port: 5353, family: 6 });
    assert.deepEqual(classifyPacket(ipv6(58, new Uint8Array(8))), { kind: 'icmp' });
    assert.deepEqual(classifyPacket(ipv6(1, new Uint8Array(8))), { kind: 'other' });
    assert.deepEqual(classifyPacket(ipv6(132, new Uint8Array(8))), { kind: 'other' });
  });

  it('walks hop-by-hop, routing, destination options and AH headers', () => {
    assert.deepEqual(classifyPacket(ipv6(0, ext(TCP), tcp(22))), { kind: 'tcp', port: 22, family: 6 });
    assert.deepEqual(classifyPacket(ipv6(0, ext(43, 2), ext(60, 1), ext(UDP), udp(53))), {
      kind: 'udp',
      port: 53,
      family: 6,
    });
    assert.deepEqual(classifyPacket(ipv6(51, ah(TCP), tcp(443))), { kind: 'tcp', port: 443, family: 6 });
    assert.deepEqual(classifyPacket(ipv6(60, ext(58))), { kind: 'icmp' });
  });

  it('follows a first fragment and treats later fragments as other', () => {
    assert.deepEqual(classifyPacket(ipv6(44, fragmentHeader(UDP, 0, true), udp(53))), {
      kind: 'udp',
      port: 53,
      family: 6,
    });
    assert.deepEqual(classifyPacket(ipv6(44, fragmentHeader(UDP, 0, false), udp(53))), {
      kind: 'udp',
      port: 53,
      family: 6,
    });
    assert.deepEqual(classifyPacket(ipv6(44, fragmentHeader(UDP, 1), udp(53))), { kind: 'other' });
    assert.deepEqual(classifyPacket(ipv6(0, ext(44), fragmentHeader(TCP, 8191), tcp(22))), { kind: 'other' });
  });

  it('treats ESP and no-next-header as other', () => {
    assert.deepEqual(classifyPacket(ipv6(50, new Uint8Array(16))), { kind: 'other' });
    assert.deepEqual(classifyPacket(ipv6(59)), { kind: 'other' });
    assert.deepEqual(classifyPacket(ipv6(0, ext(59))), { kind: 'other' });
  });

  it(`accepts ${MAX_IPV6_EXTENSION_HEADERS} extension headers and refuses more`, () => {
    const chain = (n: number): Uint8Array[] => Array.from({ length: n }, (_, i) => ext(i === n - 1 ? TCP : 60));
    assert.deepEqual(classifyPacket(ipv6(60, ...chain(MAX_IPV6_EXTENSION_HEADERS), tcp(22))), {
      kind: 'tcp',
      port: 22,
      family: 6,
    });
    assert.equal(kind(classifyPacket(ipv6(60, ...chain(MAX_IPV6_EXTENSION_HEADERS + 1), tcp(22)))), 'malformed');
  });

  it('refuses truncation anywhere in the chain', () => {
    assert.equal(kind(classifyPacket(ipv6(TCP, tcp(22)).subarray(0, 39))), 'malformed');
    assert.equal(kind(classifyPacket(ipv6(TCP))), 'malformed');
    assert.equal(kind(classifyPacket(ipv6(TCP, tcp(22)).subarray(0, 43))), 'malformed');
    assert.deepEqual(classifyPacket(ipv6(TCP, tcp(22)).subarray(0, 44)), { kind: 'tcp', port: 22, family: 6 });
    assert.equal(kind(classifyPacket(ipv6(0, ext(TCP)).subarray(0, 45))), 'malformed'); // header cut
    assert.equal(kind(classifyPacket(ipv6(0, ext(TCP, 3)).subarray(0, 56))), 'malformed'); // length past end
    assert.equal(kind(classifyPacket(ipv6(0, ext(TCP)))), 'malformed'); // no room for the ports
    assert.equal(kind(classifyPacket(ipv6(44, fragmentHeader(TCP, 0)))), 'malformed');
    assert.equal(kind(classifyPacket(ipv6(51, ah(TCP, 4)).subarray(0, 60))), 'malformed');
  });
});

describe('classifyPacket properties', () => {
  const check = (c: PacketClass): void => {
    assert.ok(['tcp', 'udp', 'icmp', 'other', 'malformed'].includes(c.kind));
    if (c.kind === 'tcp' || c.kind === 'udp') {
      assert.ok(Number.isInteger(c.port) && c.port >= 0 && c.port <= 65535);
    }
    if (c.kind === 'malformed') assert.ok(c.reason.length > 0);
  };

  it('classifies any bytes without throwing', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        check(classifyPacket(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('classifies IP-looking bytes without throwing', () => {
    const ipLike = fc
      .tuple(fc.constantFrom(0x40, 0x60), fc.uint8Array({ minLength: 1, maxLength: 400 }), fc.nat(15))
      .map(([version, rest, nibble]) => {
        const p = Uint8Array.from(rest);
        p[0] = version | nibble;
        // Steer IPv6 next-header towards extension headers so the walk is exercised.
        if (version === 0x60 && p.length > 6) p[6] = [0, 43, 44, 51, 60, 6, 17, 58][p[6]! % 8]!;
        return p;
      });
    fc.assert(
      fc.property(ipLike, (bytes) => {
        check(classifyPacket(bytes));
      }),
      { numRuns: 3000 },
    );
  });
});
