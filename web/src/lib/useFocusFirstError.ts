import { useEffect } from "react";
import type { RefObject } from "react";

/** After a failed submit (a new, non-empty `errors` object), moves focus to the form's error
 * summary or else its first invalid field, so that keyboard and screen-reader users land on
 * what to fix instead of staying on the button (or dropping to the page). */
export function useFocusFirstError(errors: object, form: RefObject<HTMLFormElement | null>): void {
  useEffect(() => {
    if (Object.keys(errors).length === 0) return;
    form.current?.querySelector<HTMLElement>('[data-error-summary], [aria-invalid="true"]')?.focus();
  }, [errors, form]);
}
