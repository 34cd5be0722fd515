// A typed client of Tenantry: queries and mutations over fetch, subscriptions
// over graphql-ws, both signed in with the session's access token, which is
// renewed once with the refresh token when the server says it expired.
import { createClient, type Client } from "graphql-ws";
import { RefreshSession } from "./operations";
import type { SessionFieldsFragment, TypedDocumentString } from "./gql/graphql";

/** A refusal as the server gives it: `code` is one of the contract's error
 * codes (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, CONFLICT, BAD_USER_INPUT,
 * RATE_LIMITED, QUERY_TOO_COMPLEX, …). */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    /** Seconds to wait before retrying, with RATE_LIMITED. */
    readonly retryAfter?: number,
  ) {
    super(message);
  }
}

type GraphQLError = { message: string; extensions?: { code?: string; retryAfter?: number } };
type Response<R> = { data?: R | null; errors?: GraphQLError[] };

function refusal(errors: readonly GraphQLError[]): ApiError {
  const first = errors[0];
  return new ApiError(
    first?.extensions?.code ?? "INTERNAL",
    first?.message ?? "the server gave no reason",
    first?.extensions?.retryAfter,
  );
}

/** A signed-in session and when its access token expires (ms since epoch). */
type Stored = SessionFieldsFragment & { expiresAt: number };

/** Tokens kept for this tab (sessionStorage: each tab signs in on its own and
 * a reload keeps the session). Any script on the page can read them, so
 * the page must load no script it does not trust. */
export class Session {
  private static key = "tenantry.session";
  current: Stored | null = read(Session.key);

  set(session: SessionFieldsFragment | null): void {
    this.current = session && { ...session, expiresAt: Date.now() + session.expiresIn * 1000 };
    if (this.current) sessionStorage.setItem(Session.key, JSON.stringify(this.current));
    else sessionStorage.removeItem(Session.key);
  }
}

function read(key: string): Stored | null {
  const raw = sessionStorage.getItem(key);
  return raw ? (JSON.parse(raw) as Stored) : null;
}

// A document without variables takes none; one with variables requires them.
type Args<V> = Record<string, never> extends V ? [variables?: V] : [variables: V];

export class Api {
  private socket: Client | null = null;
  private renewal: ReturnType<typeof setTimeout> | undefined;
  /** Called when the socket came back after it closed (the server closes it
   * when the token it signed in with expires; graphql-ws reconnects with the
   * current one and subscribes again). Events sent meanwhile are not
   * replayed: refetch what the page shows. */
  onReconnected: (() => void) | undefined;

  constructor(
    readonly session: Session,
    private readonly endpoint = "/graphql",
  ) {
    this.scheduleRenewal();
  }

  /** Runs a query or mutation; throws ApiError with the server's code. */
  async request<R, V>(doc: TypedDocumentString<R, V>, ...[variables]: Args<V>): Promise<R> {
    try {
      return await this.send(doc, variables);
    } catch (e) {
      // An expired access token: renew once, then try again.
      if (e instanceof ApiError && e.code === "UNAUTHENTICATED" && (await this.refresh())) {
        return this.send(doc, variables);
      }
      throw e;
    }
  }

  /** Starts a subscription; returns the function that ends it. */
  subscribe<R, V>(
    doc: TypedDocumentString<R, V>,
    variables: V,
    onData: (data: R) => void,
    onError: (error: ApiError) => void,
  ): () => void {
    this.socket ??= createClient({
      url: new URL(this.endpoint, location.href).href.replace(/^http/, "ws"),
      // Read at every (re)connection, so a renewed token is the one sent.
      connectionParams: () => {
        const token = this.session.current?.accessToken;
        return token ? { authorization: `Bearer ${token}` } : {};
      },
      lazy: true,
      retryAttempts: 5,
      on: {
        connected: (_socket, _payload, wasRetry) => {
          if (wasRetry) this.onReconnected?.();
        },
      },
    });
    return this.socket.subscribe<R>(
      { query: doc.toString(), variables: variables as Record<string, unknown> },
      {
        next: (result) => {
          if (result.errors?.length) onError(refusal(result.errors as GraphQLError[]));
          else if (result.data) onData(result.data);
        },
        error: (e) =>
          onError(
            Array.isArray(e)
              ? refusal(e as GraphQLError[])
              : new ApiError("UNAVAILABLE", e instanceof Error ? e.message : "the socket closed"),
          ),
        complete: () => {},
      },
    );
  }

  /** Signs in to another tenant (or out): the socket opened with the old
   * token would keep streaming the old tenant's events, so it closes. */
  use(session: SessionFieldsFragment | null): void {
    this.session.set(session);
    this.socket?.dispose();
    this.socket = null;
    this.scheduleRenewal();
  }

  /** Renews the access token at four fifths of its life, so neither a
   * request nor a socket reconnecting ever presents an expired one. */
  private scheduleRenewal(): void {
    clearTimeout(this.renewal);
    const expiresAt = this.session.current?.expiresAt;
    if (expiresAt === undefined) return;
    const life = expiresAt - Date.now();
    this.renewal = setTimeout(() => void this.refresh(), Math.max(1000, life * 0.8));
  }

  /** Exchanges the refresh token (used once) for new tokens of the same
   * session; the socket, signed in to that session, stays open. */
  private async refresh(): Promise<boolean> {
    const refreshToken = this.session.current?.refreshToken;
    if (!refreshToken) return false;
    try {
      const { refreshSession } = await this.send(RefreshSession, { refreshToken }, false);
      this.session.set(refreshSession);
      this.scheduleRenewal();
      return true;
    } catch {
      this.use(null);
      return false;
    }
  }

  private async send<R, V>(
    doc: TypedDocumentString<R, V>,
    variables: V | undefined,
    signed = true,
  ): Promise<R> {
    const headers: Record<string, string> = { "content-type": "application/json" };
    const token = this.session.current?.accessToken;
    if (signed && token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(this.endpoint, {
      method: "POST",
      headers,
      body: JSON.stringify({ query: doc.toString(), variables }),
    });
    let body: Response<R>;
    try {
      body = (await res.json()) as Response<R>;
    } catch {
      throw new ApiError("UNAVAILABLE", `the server answered HTTP ${res.status} without JSON`);
    }
    if (body.errors?.length) throw refusal(body.errors);
    if (!body.data) throw new ApiError("INTERNAL", "the server answered without data");
    return body.data;
  }
}
