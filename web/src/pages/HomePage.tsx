import { Link } from "react-router";
import { useQuery } from "@apollo/client/react";
import { useAuth } from "../auth";
import { isColdStart, RecommendationsDocument, RecommendationsPanel } from "../components/RecommendationsPanel";
import { TrendingPanel } from "../components/TrendingPanel";
import { useTitle } from "../lib/useTitle";
import { visitToken } from "../visit";

const PICKS = 10;

/** A signed-in customer's home: personal picks and what is popular; a customer the shop does
 * not know yet (every pick is only "trending") gets one honest "Popular right now" list. */
function CustomerHome() {
  const { user } = useAuth();
  // Reads the list the panel below fetches (one request): are any of the picks personal?
  const { data } = useQuery(RecommendationsDocument, { variables: { first: PICKS }, fetchPolicy: "cache-only" });
  const picks = data?.recommendations;
  const cold = picks ? isColdStart(picks) : null; // null: not known yet
  const name = user?.username ?? "";
  return (
    <div className="stack">
      <section className="hello">
        <h1 data-testid="greeting">{cold === false ? `Welcome back, ${name}` : `Welcome, ${name}`}</h1>
        <p>
          {cold
            ? "We'll pick things for you as soon as we know what you like."
            : "Fresh picks based on what you've looked at, added and bought."}
        </p>
      </section>
      <RecommendationsPanel
        first={PICKS}
        title={cold ? "Popular right now" : "Recommended for you"}
        intro={
          cold ? (
            <p className="panel__intro">
              What other customers are buying this week. <Link to="/shop">Browse the shop</Link> and add a few
              things to your cart: your own picks appear here.
            </p>
          ) : null
        }
      />
      {cold === false ? <TrendingPanel first={5} title="Popular in the shop" /> : null}
    </div>
  );
}

export function HomePage() {
  const { status } = useAuth();
  useTitle(null);

  // With a stored token, ask for the picks at once, in parallel with who the customer is.
  if (status === "signedIn" || status === "loading") return <CustomerHome />;

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
