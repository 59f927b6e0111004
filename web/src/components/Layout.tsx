import { useEffect, useState } from "react";
import type { FormEvent, ReactNode } from "react";
import { Link, NavLink, useLocation, useNavigate, useSearchParams } from "react-router";
import { useAuth } from "../auth";
import { useCart } from "../cart";

function HeaderSearch() {
  const [params] = useSearchParams();
  const location = useLocation();
  const navigate = useNavigate();
  const current = location.pathname === "/shop" ? (params.get("q") ?? "") : "";
  const [value, setValue] = useState(current);
  useEffect(() => setValue(current), [current]);

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    const next = new URLSearchParams(location.pathname === "/shop" ? params : undefined);
    const q = value.trim();
    if (q) next.set("q", q);
    else next.delete("q");
    navigate({ pathname: "/shop", search: next.toString() ? `?${next.toString()}` : "" });
  };

  return (
    <form className="header-search" role="search" onSubmit={onSubmit}>
      <label htmlFor="header-search-input" className="visually-hidden">
        Search products
      </label>
      <input
        id="header-search-input"
        type="search"
        placeholder="Search mugs, lanterns, hearts…"
        value={value}
        onChange={(e) => setValue(e.target.value)}
        autoComplete="off"
      />
      <button type="submit" className="header-search__button">
        <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
          <circle cx="11" cy="11" r="7" fill="none" stroke="currentColor" strokeWidth="2" />
          <path d="M16.5 16.5 21 21" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
        </svg>
        <span className="visually-hidden">Search</span>
      </button>
    </form>
  );
}

export function Layout({ children }: { children: ReactNode }) {
  const { status, user } = useAuth();
  const { count } = useCart();
  const location = useLocation();

  useEffect(() => {
    window.scrollTo({ top: 0 });
  }, [location.pathname]);

  return (
    <div className="app">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="site-header">
        <div className="site-header__inner">
          <Link to="/" className="brand" aria-label="Hearth & Co. home">
            <svg viewBox="0 0 32 32" width="30" height="30" aria-hidden="true">
              <rect width="32" height="32" rx="8" fill="currentColor" />
              <path d="M16 25s-8-5-8-11a4.5 4.5 0 0 1 8-2.8A4.5 4.5 0 0 1 24 14c0 6-8 11-8 11z" fill="#f4b860" />
            </svg>
            <span className="brand__name">
              Hearth <span className="brand__amp">&amp;</span> Co.
            </span>
          </Link>
          <HeaderSearch />
          <nav className="site-nav" aria-label="Main">
            <NavLink to="/shop" className="site-nav__link">
              Shop
            </NavLink>
            {status === "signedIn" && user?.role === "ADMIN" ? (
              <NavLink to="/admin" className="site-nav__link" data-testid="admin-link">
                <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                  <path d="M4 20V10M10 20V4M16 20v-7M22 20H2" fill="none" stroke="currentColor" strokeWidth="2" strokeLinecap="round" />
                </svg>
                <span className="site-nav__label">Admin</span>
              </NavLink>
            ) : null}
            {status === "signedIn" && user ? (
              <NavLink to="/account" className="site-nav__link" data-testid="account-link">
                <span className="site-nav__avatar" aria-hidden="true">
                  {(user.username ?? "?").charAt(0).toUpperCase()}
                </span>
                <span className="site-nav__label">Account</span>
              </NavLink>
            ) : status === "loading" ? (
              <span className="site-nav__link site-nav__link--muted">…</span>
            ) : (
              <NavLink to="/login" className="site-nav__link">
                Sign in
              </NavLink>
            )}
            <NavLink to="/cart" className="site-nav__link site-nav__cart" aria-label={`Cart, ${count} ${count === 1 ? "item" : "items"}`}>
              <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true">
                <path
                  d="M3 4h2l2.4 10.2a2 2 0 0 0 2 1.6h7.7a2 2 0 0 0 1.9-1.5L21 8H6.2"
                  fill="none"
                  stroke="currentColor"
                  strokeWidth="1.8"
                  strokeLinecap="round"
                  strokeLinejoin="round"
                />
                <circle cx="10" cy="20" r="1.4" fill="currentColor" />
                <circle cx="17" cy="20" r="1.4" fill="currentColor" />
              </svg>
              <span className="site-nav__label">Cart</span>
              {count > 0 ? (
                <span className="badge" data-testid="cart-count">
                  {count}
                </span>
              ) : null}
            </NavLink>
          </nav>
        </div>
      </header>
      <main id="main" className="site-main" tabIndex={-1}>
        {children}
      </main>
      <footer className="site-footer">
        <p>Hearth &amp; Co. — gifts, homeware and little luxuries. Picks made for you by our recommender.</p>
        <p className="site-footer__muted">A demo shop: checking out records your order for recommendations; no payment is taken.</p>
      </footer>
    </div>
  );
}
