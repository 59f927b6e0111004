import { Link } from "react-router";
import { EmptyState } from "../components/Status";
import { useTitle } from "../lib/useTitle";

export function NotFoundPage() {
  useTitle("Page not found");
  return (
    <EmptyState title="We couldn't find that page">
      <p>
        <Link to="/">Go to the home page</Link> or <Link to="/shop">browse the shop</Link>.
      </p>
    </EmptyState>
  );
}
