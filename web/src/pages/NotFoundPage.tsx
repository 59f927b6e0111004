import { Link } from "react-router";
import { useTitle } from "../lib/useTitle";

/** An unknown page or an id that names nothing: say so, and offer a way on (no retry). */
export function NotFoundPage({ what = "page" }: { what?: string }) {
  useTitle(`${what.charAt(0).toUpperCase()}${what.slice(1)} not found`);
  return (
    <section className="empty not-found" aria-labelledby="not-found-title" data-testid="not-found">
      <h1 id="not-found-title" className="empty__title">
        We couldn't find that {what}
      </h1>
      <div className="empty__body">
        <p>The link may be mistyped, or the {what} is no longer in the shop.</p>
        <p className="not-found__actions">
          <Link to="/" className="button">
            Go to the home page
          </Link>
          <Link to="/shop" className="button button--ghost">
            Browse the shop
          </Link>
        </p>
      </div>
    </section>
  );
}
