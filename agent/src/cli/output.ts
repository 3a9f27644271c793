import {
  certificateNodeName,
  encodeBase64,
  formatUnixSeconds,
  isDelegated,
  meshAddresses,
  nodeFqdn,
  orgDomain,
  type NodeCertificate,
} from '@meshguard/core';

/** Human-readable description of a certificate, shared by org-sign, cert install and config show. */
export function describeCertificate(cert: NodeCertificate): string[] {
  const name = certificateNodeName(cert);
  const addresses = meshAddresses(cert.nodePublicKey);
  const lines = [
    `version:     v${cert.version}${isDelegated(cert) ? ' (delegated)' : ''}`,
    `node:        ${encodeBase64(cert.nodePublicKey)}`,
    `name:        ${nodeFqdn(name, cert.orgPublicKey)}`,
    `org:         ${encodeBase64(cert.orgPublicKey)} (domain ${orgDomain(cert.orgPublicKey)})`,
    `mesh ips:    ${addresses.ipv4} ${addresses.ipv6}`,
    `issued:      ${formatUnixSeconds(cert.issuedAt)}`,
    `expires:     ${cert.expiresAt === 0n ? 'never' : formatUnixSeconds(cert.expiresAt)}`,
  ];
  if (cert.version === 2) lines.push(`wireguard:   ${encodeBase64(cert.wgPublicKey)}`);
  if (isDelegated(cert)) lines.push(`issuer:      ${encodeBase64(cert.issuerPublicKey)}`);
  return lines;
}
