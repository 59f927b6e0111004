import { CombinedGraphQLErrors, ServerError, ServerParseError } from "@apollo/client";

export type FieldErrors = Record<string, string>;

export interface UserErrorLike {
  field: string | null;
  message: string;
}

/** Mutation payload errors by the argument they name; those without a field under "_". */
export function fieldErrors(errors: readonly UserErrorLike[] | null | undefined): FieldErrors {
  const out: FieldErrors = {};
  for (const e of errors ?? []) {
    const key = e.field ?? "_";
    out[key] = out[key] ? `${out[key]} ${e.message}` : e.message;
  }
  return out;
}

/** The extensions.code of the first GraphQL error, if any. */
export function errorCode(error: unknown): string | undefined {
  if (CombinedGraphQLErrors.is(error)) {
    const code = error.errors[0]?.extensions?.["code"];
    return typeof code === "string" ? code : undefined;
  }
  return undefined;
}

/** The API's answer for an id that names nothing: NOT_FOUND, or a malformed id
 * (BAD_USER_INPUT naming the `id` argument). Retrying cannot help either. */
export function isNotFound(error: unknown): boolean {
  if (!CombinedGraphQLErrors.is(error)) return false;
  return error.errors.some((e) => {
    const code = e.extensions?.["code"];
    return code === "NOT_FOUND" || (code === "BAD_USER_INPUT" && e.extensions?.["field"] === "id");
  });
}

/** A sentence a shopper can act on, never a stack trace. */
export function friendlyMessage(error: unknown): string {
  const code = errorCode(error);
  if (code === "UNAUTHENTICATED") return "Please sign in to see this.";
  if (code === "FORBIDDEN") return "You don't have access to this.";
  if (code === "NOT_FOUND") return "We couldn't find that.";
  if (CombinedGraphQLErrors.is(error)) {
    const message = error.errors[0]?.message;
    return message ? `Something went wrong: ${message}` : "Something went wrong on our side.";
  }
  if (ServerError.is(error)) {
    return error.statusCode >= 500
      ? "The shop is having trouble right now. Please try again in a moment."
      : `The shop answered with an error (${error.statusCode}).`;
  }
  if (ServerParseError.is(error)) return "The shop sent an answer we couldn't read. Please try again.";
  if (error instanceof TypeError || (error instanceof Error && /fetch|network/i.test(error.message))) {
    return "We can't reach the shop. Check your connection and try again.";
  }
  return "Something went wrong. Please try again.";
}
