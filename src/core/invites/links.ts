/**
 * The addresses that hang off BOX_QC_PUBLIC_URL (issue 17): the link a person opens and the callback Box
 * redirects to (registered on the Box app as a second redirect URI). config.ts has already dropped a
 * trailing slash and refused a query or fragment, so joining is plain concatenation.
 */
function base(publicUrl: URL): string {
  return publicUrl.href.replace(/\/+$/, '');
}

export function callbackUrl(publicUrl: URL): string {
  return `${base(publicUrl)}/callback`;
}

export function inviteLink(publicUrl: URL, token: string): string {
  return `${base(publicUrl)}/connect/${token}`;
}
