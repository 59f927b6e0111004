import { Link } from "react-router";
import { useAuth } from "../auth";
import { RecommendationsPanel } from "../components/RecommendationsPanel";
import { TrendingPanel } from "../components/TrendingPanel";
import { useTitle } from "../lib/useTitle";
import { visitToken } from "../visit";

export function HomePage() {
  const { status, user } = useAuth();
  useTitle(null);

  // With a stored token, ask for the picks at once, in parallel with who the customer is.
  if (status === "signedIn" || status === "loading") {
    return (
      <div className="stack">
        <section className="hello">
          <h1>{user ? `Welcome back, ${user.username ?? ""}` : "Welcome back"}</h1>
          <p>Fresh picks based on what you've looked at, added and bought.</p>
        </section>
        <RecommendationsPanel first={10} />
        <TrendingPanel first={5} title="Popular in the shop" />
      </div>
    );
  }

  return (
    <div className="stack">
      <section className="hero">
        <div className="hero__text">
          <p className="hero__kicker">Gifts &amp; homeware</p>
          <h1>Little things that make a home.</h1>
          <p>
            Lanterns, mugs, bunting and a lot of hearts — over three thousand of them. Create an account and we'll pick
            the ones you'll love.
          </p>
          <div className="hero__actions">
            <Link to="/register" className="button button--large">
              Create an account
            </Link>
            <Link to="/shop" className="button button--large button--ghost">
              Browse the shop
            </Link>
          </div>
          <p className="hero__small">
            Already a customer? <Link to="/login">Sign in</Link> for your recommendations.
          </p>
        </div>
        <div className="hero__art" aria-hidden="true">
          <span className="hero__tile hero__tile--1">♥</span>
          <span className="hero__tile hero__tile--2">✿</span>
          <span className="hero__tile hero__tile--3">✦</span>
          <span className="hero__tile hero__tile--4">☀</span>
        </div>
      </section>
      {visitToken() ? <RecommendationsPanel first={8} visit /> : null}
      <TrendingPanel first={10} />
    </div>
  );
}
