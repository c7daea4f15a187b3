/** Where the approval page of one request lives, on the gateway's public origin (see src/ingress/approval-page.ts). */
export function approvalPageUrl(publicUrl: string, id: string): string {
  return new URL(`/approvals/${encodeURIComponent(id)}`, publicUrl).href;
}

/** Where the sign-in provider sends the approver back to. */
export function approvalSignInCallbackUrl(publicUrl: string): string {
  return new URL('/approvals/callback', publicUrl).href;
}
