// The guest's host name from a server's display name, the way Nova sanitises it
// (nova/utils.py sanitize_hostname): spaces, "_" and "." become "-", anything else but
// letters, digits and "-" is dropped, lower case, at most 63 characters, no leading or
// trailing "-"; an empty result becomes "server-<uuid>". One difference: letters outside
// ASCII are dropped too (Nova keeps Latin-1 letters such as "é", which DNS does not accept).
export function sanitizeHostname(displayName: string, uuid: string): string {
  let h = displayName.replace(/[ _.]/g, '-');
  h = h.replace(/[^A-Za-z0-9-]+/g, '');
  h = h.toLowerCase().slice(0, 63);
  h = h.replace(/^[-.]+|[-.]+$/g, '');
  return h === '' ? `server-${uuid}` : h;
}
