// Host names for a network's bridge and a port's tap, derived from their ids (Neutron's
// "tap" + the port id's first 11 characters), so reconciliation can tell Kestrel's devices
// from everyone else's. IFNAMSIZ is 16: names stay at 14 characters.
export function bridgeName(prefix: string, networkId: string): string {
  return `${prefix}${networkId.replace(/-/g, '').slice(0, 14 - prefix.length)}`;
}

export function tapName(portId: string): string {
  return `tap${portId.slice(0, 11)}`;
}

/** A chain name for the port (nft names: letters, digits, '-' and '_'). */
export function portChain(portId: string, direction: 'in' | 'out' | 'spoof'): string {
  return `${direction}-${portId}`;
}
