import type { OrgCertRevoke, OrgTrustVouch } from '@meshguard/core';
import type { UdpEndpoint } from '../wireguard/endpoint.js';
import type { AliasRecord } from './alias-table.js';
import type { MemberSnapshot } from './member.js';

export type DeathCause = 'failure' | 'revoked' | 'untrusted';

/**
 * What the SWIM node tells its owner. Membership events describe the view; the `wg-peer-*`
 * events are the view already reduced to what the daemon must do to its WireGuard device
 * (a peer exists exactly while its member is alive or suspected and has a bound key).
 */
export type SwimEvent =
  | { readonly type: 'member-joined'; readonly member: MemberSnapshot }
  | { readonly type: 'member-alive'; readonly member: MemberSnapshot; readonly previous: 'suspect' | 'dead' | 'left' }
  | { readonly type: 'member-suspect'; readonly member: MemberSnapshot }
  | { readonly type: 'member-dead'; readonly member: MemberSnapshot; readonly cause: DeathCause }
  | { readonly type: 'member-left'; readonly member: MemberSnapshot }
  | { readonly type: 'member-forgotten'; readonly publicKey: Uint8Array }
  | { readonly type: 'member-restarted'; readonly member: MemberSnapshot }
  | {
      readonly type: 'wg-key-bound';
      readonly publicKey: Uint8Array;
      readonly wgPublicKey: Uint8Array;
      readonly previous: Uint8Array | null;
      readonly source: 'certificate' | 'gossip';
    }
  | {
      readonly type: 'wg-peer-add';
      readonly publicKey: Uint8Array;
      readonly wgPublicKey: Uint8Array;
      readonly endpoint: UdpEndpoint | null;
    }
  | {
      readonly type: 'wg-peer-replace';
      readonly publicKey: Uint8Array;
      readonly wgPublicKey: Uint8Array;
      readonly previous: Uint8Array;
      readonly endpoint: UdpEndpoint | null;
    }
  | { readonly type: 'wg-peer-remove'; readonly publicKey: Uint8Array; readonly wgPublicKey: Uint8Array }
  | { readonly type: 'revocation-applied'; readonly revocation: OrgCertRevoke; readonly evicted: readonly Uint8Array[] }
  | { readonly type: 'vouch-applied'; readonly vouch: OrgTrustVouch }
  | {
      readonly type: 'alias-changed';
      readonly current: AliasRecord;
      readonly previous: AliasRecord | null;
      readonly displaced: AliasRecord | null;
    }
  | { readonly type: 'left-mesh' };

export type SwimEventType = SwimEvent['type'];
