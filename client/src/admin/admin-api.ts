/**
 * The admin session API. The relay keeps the session in an HttpOnly cookie,
 * so the page never reads the session id, and the token is sent only in the
 * body of the sign-in request.
 */

export type SignInOutcome =
  { readonly ok: true } | { readonly ok: false; readonly message: string };

export async function hasAdminSession(): Promise<boolean> {
  const response = await fetch('/api/admin/session', {
    credentials: 'same-origin',
  });
  return response.ok;
}

export async function signInAdmin(token: string): Promise<SignInOutcome> {
  let response: Response;
  try {
    response = await fetch('/api/admin/session', {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
  } catch {
    return { ok: false, message: 'The relay cannot be reached. Try again.' };
  }
  if (response.ok) return { ok: true };
  const body = (await response.json().catch(() => ({}))) as {
    message?: unknown;
  };
  return {
    ok: false,
    message:
      typeof body.message === 'string'
        ? body.message
        : `Sign-in failed with HTTP status ${response.status}.`,
  };
}

export async function signOutAdmin(): Promise<void> {
  await fetch('/api/admin/session', {
    method: 'DELETE',
    credentials: 'same-origin',
  });
}
