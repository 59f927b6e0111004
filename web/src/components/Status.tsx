import type { ReactNode } from "react";
import { Link } from "react-router";
import { errorCode, friendlyMessage } from "../lib/errors";

export function Spinner({ label = "Loading…" }: { label?: string }) {
  return (
    <div className="spinner" role="status" aria-live="polite">
      <span className="spinner__dot" aria-hidden="true" />
      <span>{label}</span>
    </div>
  );
}

export function SkeletonGrid({ count = 8, label = "Loading products…" }: { count?: number; label?: string }) {
  return (
    <div role="status" aria-live="polite" aria-busy="true">
      <span className="visually-hidden">{label}</span>
      <ul className="product-grid" aria-hidden="true">
        {Array.from({ length: count }, (_, i) => (
          <li key={i} className="card card--skeleton">
            <div className="skeleton skeleton--image" />
            <div className="skeleton skeleton--line" />
            <div className="skeleton skeleton--line skeleton--short" />
          </li>
        ))}
      </ul>
    </div>
  );
}

export function ErrorMessage({ error, onRetry, title }: { error: unknown; onRetry?: () => void; title?: string }) {
  const unauthenticated = errorCode(error) === "UNAUTHENTICATED";
  return (
    <div className="notice notice--error" role="alert">
      {title ? <strong>{title}</strong> : null}
      <p>{friendlyMessage(error)}</p>
      <div className="notice__actions">
        {unauthenticated ? (
          <Link className="button button--small" to="/login">
            Sign in
          </Link>
        ) : null}
        {onRetry && !unauthenticated ? (
          <button type="button" className="button button--small button--ghost" onClick={onRetry}>
            Try again
          </button>
        ) : null}
      </div>
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty__title">{title}</p>
      {children ? <div className="empty__body">{children}</div> : null}
    </div>
  );
}
