import { useCallback, useEffect, useId, useState } from "react";
import type { ReactNode } from "react";
import { useApolloClient, useQuery } from "@apollo/client/react";
import { Link } from "react-router";
import { graphql } from "../gql";
import type { AdminExperimentsQuery, AdminOfflineEvaluationQuery } from "../gql/graphql";
import { useAuth } from "../auth";
import { BarChart, IntervalPlot, seriesColor } from "../components/charts";
import type { Interval } from "../components/charts";
import { productPath } from "../components/ProductCard";
import { ProductImage } from "../components/ProductImage";
import { EmptyState, ErrorMessage, Spinner } from "../components/Status";
import { errorCode } from "../lib/errors";
import { displayName, formatCount, formatDateTime, formatPercent, formatPrice, formatSeconds } from "../lib/format";
import { useTitle } from "../lib/useTitle";

export const AdminModelInfoDocument = graphql(`
  query AdminModelInfo {
    modelInfo {
      version
      trainedAt
      trainSeconds
      events
      users
      products
      algorithm
      stage
      rankerSeconds
      rankerBytes
    }
  }
`);

export const AdminOfflineEvaluationDocument = graphql(`
  query AdminOfflineEvaluation {
    offlineEvaluation {
      ranAt
      dataset
      cutoff
      k
      evalUsers
      default
      models {
        name
        precision
        recall
        ndcg
        hitRate
        map
        coverage
        msPerUser
      }
    }
  }
`);

export const AdminExperimentsDocument = graphql(`
  query AdminExperiments {
    experiments {
      id
      name
      active
      variants {
        name
        config
        weight
        impressions
        clicks
        conversions
        clickThroughRate
        conversionRate
      }
      differences {
        metric
        baseline
        variant
        estimate
        lower
        upper
      }
    }
  }
`);

export const ADMIN_TRENDING = 10;

export const AdminTrendingDocument = graphql(`
  query AdminTrending($first: Int!) {
    trending(first: $first) {
      id
      sku
      name
      price
      category
      purchaseCount
    }
  }
`);

const ADMIN_QUERIES = [AdminModelInfoDocument, AdminOfflineEvaluationDocument, AdminExperimentsDocument, AdminTrendingDocument];

type Evaluation = NonNullable<AdminOfflineEvaluationQuery["offlineEvaluation"]>;
type Experiment = AdminExperimentsQuery["experiments"][number];

/** Refused by the API: not signed in, or not an admin. */
function isRefused(error: unknown): boolean {
  const code = errorCode(error);
  return code === "FORBIDDEN" || code === "UNAUTHENTICATED";
}

// ---------------------------------------------------------------- admins only

function AdminsOnly({ signedInAs }: { signedInAs: string | null }) {
  return (
    <section className="admins-only" data-testid="admins-only" aria-labelledby="admins-only-title">
      <div className="admins-only__icon" aria-hidden="true">
        <svg viewBox="0 0 24 24" width="28" height="28">
          <rect x="5" y="11" width="14" height="10" rx="2" fill="currentColor" />
          <path d="M8 11V8a4 4 0 0 1 8 0v3" fill="none" stroke="currentColor" strokeWidth="2" />
        </svg>
      </div>
      <h1 id="admins-only-title">Admins only</h1>
      <p>
        This page shows how the shop's recommender is doing — its model, offline metrics and experiments. It is for the
        shop's admins.
      </p>
      {signedInAs ? (
        <p className="muted">
          You're signed in as <strong>{signedInAs}</strong>, which is a customer account.
        </p>
      ) : (
        <p className="muted">If you are an admin, sign in with your admin account.</p>
      )}
      <div className="hero__actions admins-only__actions">
        {signedInAs ? null : (
          <Link to="/login?next=/admin" className="button">
            Sign in
          </Link>
        )}
        <Link to="/shop" className={signedInAs ? "button" : "button button--ghost"}>
          Back to the shop
        </Link>
      </div>
    </section>
  );
}

// ---------------------------------------------------------------- sections

function Section({ title, meta, children, testId }: { title: string; meta?: ReactNode; children: ReactNode; testId?: string }) {
  const headingId = useId();
  return (
    <section className="admin-card" aria-labelledby={headingId} data-testid={testId}>
      <div className="admin-card__head">
        <h2 id={headingId}>{title}</h2>
        {meta ? <div className="admin-card__meta">{meta}</div> : null}
      </div>
      {children}
    </section>
  );
}

function Stat({ label, value, hint, testId }: { label: string; value: ReactNode; hint?: ReactNode; testId?: string }) {
  return (
    <div className="stat">
      <dt className="stat__label">{label}</dt>
      <dd className="stat__value" data-testid={testId}>
        {value}
      </dd>
      {hint ? <dd className="stat__hint">{hint}</dd> : null}
    </div>
  );
}

/** "ItemItemModel" with line-break chances between its words (never "ItemItemMode|l"). */
function breakable(name: string): ReactNode {
  const parts = name.split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[_-])/);
  return parts.flatMap((part, i) => (i === 0 ? [part] : [<wbr key={i} />, part]));
}

function ModelSection({ onRefused }: { onRefused: () => void }) {
  const { data, loading, error, refetch } = useQuery(AdminModelInfoDocument, { fetchPolicy: "cache-and-network" });
  const info = data?.modelInfo;
  const refused = Boolean(error && isRefused(error));
  useEffect(() => {
    if (refused) onRefused();
  }, [refused, onRefused]);
  return (
    <Section title="Model in service" testId="model-info">
      {error && !info ? <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} /> : null}
      {!info && loading ? <Spinner label="Loading the model…" /> : null}
      {data && !info ? (
        <p className="muted" data-testid="model-none">
          No model published yet: the trainer is fitting the first one. Until it is loaded, lists show the most popular
          products.
        </p>
      ) : null}
      {info ? (
        <dl className="stats">
          <Stat label="Version" value={`v${info.version}`} hint="retrained on new events" testId="model-version" />
          <Stat
            label="Trained"
            value={<time dateTime={info.trainedAt}>{formatDateTime(info.trainedAt)}</time>}
            hint={`in ${formatSeconds(info.trainSeconds)}`}
          />
          <Stat label="Events" value={formatCount(info.events)} hint="views, clicks, cart adds, purchases" />
          <Stat label="Customers" value={formatCount(info.users)} hint="with events in the model" />
          <Stat label="Products" value={formatCount(info.products)} hint="in the model's catalog" />
          <Stat label="Algorithm" value={<span className="stat__text">{breakable(info.algorithm)}</span>} hint="collaborative model" />
          <Stat
            label="Ordered by"
            value={<span className="stat__text">{info.stage === "RANKER" ? "Learned ranker" : "Blend"}</span>}
            hint={
              info.stage === "RANKER"
                ? `trained in ${formatSeconds(info.rankerSeconds)}, ${formatCount(Math.ceil(info.rankerBytes / 1024))} KiB`
                : "the ranker is off or did not beat the blend"
            }
            testId="model-stage"
          />
        </dl>
      ) : null}
    </Section>
  );
}

type MetricKey = "ndcg" | "recall" | "precision" | "hitRate" | "coverage" | "msPerUser";

const EVAL_COLUMNS: Array<{ key: MetricKey; label: (k: number) => string; higherIsBetter: boolean; format: (v: number) => string }> = [
  { key: "ndcg", label: (k) => `NDCG@${k}`, higherIsBetter: true, format: (v) => v.toFixed(4) },
  { key: "recall", label: (k) => `Recall@${k}`, higherIsBetter: true, format: (v) => v.toFixed(4) },
  { key: "precision", label: (k) => `Precision@${k}`, higherIsBetter: true, format: (v) => v.toFixed(4) },
  { key: "hitRate", label: (k) => `Hit rate@${k}`, higherIsBetter: true, format: (v) => formatPercent(v) },
  { key: "coverage", label: () => "Coverage", higherIsBetter: true, format: (v) => formatPercent(v) },
  { key: "msPerUser", label: () => "ms / user", higherIsBetter: false, format: (v) => v.toFixed(2) },
];

function EvaluationTable({ evaluation }: { evaluation: Evaluation }) {
  const best = new Map<MetricKey, number>();
  for (const column of EVAL_COLUMNS) {
    const values = evaluation.models.map((m) => m[column.key]);
    if (values.length > 1) best.set(column.key, column.higherIsBetter ? Math.max(...values) : Math.min(...values));
  }
  return (
    <div className="table-scroll" tabIndex={0} role="region" aria-label="Offline metrics per model">
      <table className="data-table" data-testid="evaluation-table">
        <caption className="visually-hidden">
          Offline metrics of each model at k = {evaluation.k}; the model serving recommendations ({evaluation.default}) is
          marked default, and the best value of each column is bold.
        </caption>
        <thead>
          <tr>
            <th scope="col">Model</th>
            {EVAL_COLUMNS.map((c) => (
              <th scope="col" key={c.key} className="num">
                {c.label(evaluation.k)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {evaluation.models.map((model) => {
            const isDefault = model.name === evaluation.default;
            return (
              <tr key={model.name} className={isDefault ? "is-default" : undefined} data-model={model.name}>
                <th scope="row">
                  <span className="model-name">{model.name}</span>
                  {isDefault ? <span className="pill pill--brand">serving</span> : null}
                </th>
                {EVAL_COLUMNS.map((c) => {
                  const value = model[c.key];
                  const isBest = best.get(c.key) === value;
                  return (
                    <td key={c.key} className={`num${isBest ? " is-best" : ""}`}>
                      {c.format(value)}
                      {isBest ? <span className="visually-hidden"> (best)</span> : null}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

function EvaluationSection() {
  const { data, loading, error, refetch } = useQuery(AdminOfflineEvaluationDocument, { fetchPolicy: "cache-and-network" });
  const evaluation = data?.offlineEvaluation;
  const loaded = data !== undefined;
  return (
    <Section
      title="Offline evaluation"
      testId="offline-evaluation"
      meta={
        evaluation ? (
          <>
            Last run <time dateTime={evaluation.ranAt}>{formatDateTime(evaluation.ranAt)}</time> · {evaluation.dataset} ·
            trained before {evaluation.cutoff} · {formatCount(evaluation.evalUsers)} customers scored
          </>
        ) : null
      }
    >
      {error && !loaded ? <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} /> : null}
      {!loaded && loading ? <Spinner label="Loading the evaluation…" /> : null}
      {loaded && !evaluation ? (
        <EmptyState title="No evaluation yet">
          <p>
            Run <code>recommender evaluate DATASET --cutoff YYYY-MM-DD</code> to compare the models offline, then reload this
            page.
          </p>
        </EmptyState>
      ) : null}
      {evaluation && evaluation.models.length === 0 ? <EmptyState title="The last evaluation scored no models" /> : null}
      {evaluation && evaluation.models.length > 0 ? (
        <div className="evaluation">
          <EvaluationTable evaluation={evaluation} />
          <div className="evaluation__chart">
            <BarChart
              title={`NDCG@${evaluation.k} by model`}
              testId="ndcg-chart"
              bars={evaluation.models.map((m) => ({
                label: m.name,
                value: m.ndcg,
                color: m.name === evaluation.default ? seriesColor(0) : "#9aa9bd",
              }))}
              format={(v) => v.toFixed(4)}
            />
          </div>
        </div>
      ) : null}
    </Section>
  );
}

// ---------------------------------------------------------------- experiments

/** "clickThroughRate", "ctr", "conversion_rate" … as words; null when unknown. */
function metricName(metric: string): string | null {
  const key = metric.toLowerCase().replace(/[^a-z]/g, "");
  if (key === "ctr" || key.startsWith("clickthrough") || key === "clickrate" || key === "clicks") return "Click-through rate";
  if (key === "cvr" || key.startsWith("conversion")) return "Conversion rate";
  return null;
}

const MINUS = "\u2212";

/** A rate difference in percentage points, signed: "+0.42 pp", "−1.10 pp". */
function formatPoints(value: number): string {
  const points = value * 100;
  const digits = Math.abs(points) >= 10 ? 1 : 2;
  const text = Math.abs(points).toFixed(digits);
  if (Number(text) === 0) return `0 pp`;
  return `${points > 0 ? "+" : MINUS}${text} pp`;
}

function formatSigned(value: number): string {
  const text = Math.abs(value).toPrecision(3);
  if (Number(text) === 0) return "0";
  return `${value > 0 ? "+" : MINUS}${text}`;
}

function intervalsOf(experiment: Experiment): Interval[] {
  // One scale per metric, symmetric around zero, so every row has its zero line in the middle.
  // Without impressions on either side the API answers [-1, 1], and with no events on either side
  // (say, no clicks yet) a zero-width interval: nothing to compare yet.
  const isEmpty = (d: { lower: number; upper: number }) => (d.lower <= -1 && d.upper >= 1) || d.lower === d.upper;
  const scales = new Map<string, number>();
  for (const d of experiment.differences) {
    if (isEmpty(d)) continue;
    const reach = Math.max(Math.abs(d.lower), Math.abs(d.upper), Math.abs(d.estimate));
    scales.set(d.metric, Math.max(scales.get(d.metric) ?? 0, reach));
  }
  return experiment.differences.map((d, i) => {
    const name = metricName(d.metric);
    const reach = scales.get(d.metric) ?? 0;
    return {
      key: `${d.metric}-${d.variant}-${d.baseline}-${i}`,
      label: name ?? d.metric,
      detail: `${d.variant} vs ${d.baseline}`,
      estimate: d.estimate,
      lower: d.lower,
      upper: d.upper,
      scale: reach > 0 ? reach * 1.15 : 1,
      format: name ? formatPoints : formatSigned,
      empty: isEmpty(d),
    };
  });
}

function ExperimentCard({ experiment }: { experiment: Experiment }) {
  const headingId = useId();
  const colors = new Map(experiment.variants.map((v, i) => [v.name, seriesColor(i)]));
  const bars = (pick: (v: Experiment["variants"][number]) => number) =>
    experiment.variants.map((v) => ({ label: v.name, value: pick(v), color: colors.get(v.name) }));
  const totalWeight = experiment.variants.reduce((sum, v) => sum + v.weight, 0);
  const intervals = intervalsOf(experiment);
  const impressions = experiment.variants.reduce((sum, v) => sum + v.impressions, 0);

  return (
    <article className="experiment" aria-labelledby={headingId} data-testid="experiment" data-experiment-id={experiment.id}>
      <header className="experiment__head">
        <div>
          <h3 id={headingId}>{experiment.name}</h3>
          <p className="experiment__id">
            <code>{experiment.id}</code> · {experiment.variants.length} variants · {formatCount(impressions)} impressions
          </p>
        </div>
        <span className={`pill ${experiment.active ? "pill--ok" : "pill--muted"}`}>
          {experiment.active ? "Running" : "Stopped"}
        </span>
      </header>

      <ul className="variant-legend" aria-label="Variants">
        {experiment.variants.map((v) => (
          <li key={v.name} className="variant-legend__item" data-testid="variant">
            <span className="swatch" style={{ background: colors.get(v.name) }} aria-hidden="true" />
            <span className="variant-legend__name">{v.name}</span>
            <span className="variant-legend__meta">
              {formatPercent(totalWeight > 0 ? v.weight / totalWeight : 0, 0)} of traffic · config <code>{v.config}</code>
            </span>
          </li>
        ))}
      </ul>

      {experiment.variants.length === 0 ? (
        <EmptyState title="This experiment has no variants" />
      ) : (
        <div className="experiment__charts" data-testid="experiment-charts">
          <div className="chart-grid chart-grid--3">
            <BarChart title="Impressions" bars={bars((v) => v.impressions)} format={formatCount} testId="chart-impressions" />
            <BarChart title="Clicks" bars={bars((v) => v.clicks)} format={formatCount} testId="chart-clicks" />
            <BarChart title="Conversions" bars={bars((v) => v.conversions)} format={formatCount} testId="chart-conversions" />
          </div>
          <div className="chart-grid chart-grid--2">
            <BarChart
              title="Click-through rate"
              bars={bars((v) => v.clickThroughRate)}
              format={(v) => formatPercent(v, 2)}
              testId="chart-ctr"
            />
            <BarChart
              title="Conversion rate"
              bars={bars((v) => v.conversionRate)}
              format={(v) => formatPercent(v, 2)}
              testId="chart-conversion-rate"
            />
          </div>
        </div>
      )}

      <div className="experiment__differences">
        <h4>Differences from the baseline</h4>
        {intervals.length > 0 ? (
          <>
            <IntervalPlot intervals={intervals} testId="differences" />
            <p className="experiment__note">
              Rate of each variant minus the baseline's, in percentage points. Dot: the estimate; whisker: its
              95% confidence interval; dashed line: no difference. An interval
              that crosses zero shows no clear difference yet.
            </p>
          </>
        ) : (
          <p className="muted">No differences yet: they appear once the variants have impressions.</p>
        )}
      </div>

      <details className="experiment__table">
        <summary>Show the numbers</summary>
        <div className="table-scroll" tabIndex={0} role="region" aria-label={`Variants of ${experiment.name}`}>
          <table className="data-table">
            <thead>
              <tr>
                <th scope="col">Variant</th>
                <th scope="col">Config</th>
                <th scope="col" className="num">
                  Weight
                </th>
                <th scope="col" className="num">
                  Impressions
                </th>
                <th scope="col" className="num">
                  Clicks
                </th>
                <th scope="col" className="num">
                  Conversions
                </th>
                <th scope="col" className="num">
                  CTR
                </th>
                <th scope="col" className="num">
                  Conversion rate
                </th>
              </tr>
            </thead>
            <tbody>
              {experiment.variants.map((v) => (
                <tr key={v.name}>
                  <th scope="row">{v.name}</th>
                  <td>
                    <code>{v.config}</code>
                  </td>
                  <td className="num">{v.weight}</td>
                  <td className="num">{formatCount(v.impressions)}</td>
                  <td className="num">{formatCount(v.clicks)}</td>
                  <td className="num">{formatCount(v.conversions)}</td>
                  <td className="num">{formatPercent(v.clickThroughRate, 2)}</td>
                  <td className="num">{formatPercent(v.conversionRate, 2)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </details>
    </article>
  );
}

function ExperimentsSection() {
  const { data, loading, error, refetch } = useQuery(AdminExperimentsDocument, { fetchPolicy: "cache-and-network" });
  const experiments = data?.experiments;
  const running = experiments?.filter((e) => e.active).length ?? 0;
  return (
    <Section
      title="Experiments"
      testId="experiments"
      meta={experiments && experiments.length > 0 ? `${running} running · ${experiments.length} configured` : null}
    >
      {error && !experiments ? <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} /> : null}
      {!experiments && loading ? <Spinner label="Loading experiments…" /> : null}
      {experiments && experiments.length === 0 ? (
        <EmptyState title="No experiments">
          <p>
            Configure A/B tests with the <code>EXPERIMENTS</code> setting when starting the server.
          </p>
        </EmptyState>
      ) : null}
      {experiments && experiments.length > 0 ? (
        <div className="experiments">
          {experiments.map((experiment) => (
            <ExperimentCard key={experiment.id} experiment={experiment} />
          ))}
        </div>
      ) : null}
    </Section>
  );
}

// ---------------------------------------------------------------- trending

function TrendingSection() {
  const { data, loading, error, refetch } = useQuery(AdminTrendingDocument, {
    variables: { first: ADMIN_TRENDING },
    fetchPolicy: "cache-and-network",
  });
  const items = data?.trending;
  const most = Math.max(1, ...(items ?? []).map((p) => p.purchaseCount));
  return (
    <Section title="Trending now" testId="admin-trending-section" meta="What visitors and new customers see first">
      {error && !items ? <ErrorMessage error={error} onRetry={() => void refetch().catch(() => undefined)} /> : null}
      {!items && loading ? <Spinner label="Loading trending products…" /> : null}
      {items && items.length === 0 ? <EmptyState title="Nothing is trending yet" /> : null}
      {items && items.length > 0 ? (
        <ol className="rank-list" data-testid="admin-trending">
          {items.map((product, i) => (
            <li key={product.id} className="rank-list__item">
              <span className="rank-list__rank" aria-hidden="true">
                {i + 1}
              </span>
              <ProductImage sku={product.sku} name={product.name} size="sm" />
              <div className="rank-list__info">
                <Link to={productPath(product.id)}>{displayName(product.name)}</Link>
                <span className="rank-list__meta">
                  {formatPrice(product.price)}
                  {product.category ? ` · ${product.category}` : ""}
                </span>
                <span className="rank-list__bar" aria-hidden="true">
                  <span style={{ width: `${Math.max(2, (product.purchaseCount / most) * 100)}%` }} />
                </span>
              </div>
              <span className="rank-list__count">
                {formatCount(product.purchaseCount)}
                <span className="rank-list__unit"> bought</span>
              </span>
            </li>
          ))}
        </ol>
      ) : null}
    </Section>
  );
}

// ---------------------------------------------------------------- page

function Dashboard({ username }: { username: string }) {
  const client = useApolloClient();
  const [refused, setRefused] = useState(false);
  const [refreshing, setRefreshing] = useState(false);
  const onRefused = useCallback(() => setRefused(true), []);
  if (refused) return <AdminsOnly signedInAs={username} />;

  const refresh = async () => {
    setRefreshing(true);
    try {
      await client.refetchQueries({ include: ADMIN_QUERIES });
    } catch {
      /* each section shows its own error */
    } finally {
      setRefreshing(false);
    }
  };

  return (
    <div className="admin" data-testid="admin-dashboard">
      <header className="admin-head">
        <div>
          <p className="admin-head__kicker">Admin</p>
          <h1>Recommender dashboard</h1>
          <p className="muted">The model serving recommendations, how it scored offline, live experiments and what is trending.</p>
        </div>
        <button type="button" className="button button--ghost" onClick={() => void refresh()} disabled={refreshing}>
          <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
            <path
              d="M20 11a8 8 0 1 0-2.3 5.7M20 4v7h-7"
              fill="none"
              stroke="currentColor"
              strokeWidth="2"
              strokeLinecap="round"
              strokeLinejoin="round"
            />
          </svg>
          {refreshing ? "Refreshing…" : "Refresh"}
        </button>
      </header>
      <ModelSection onRefused={onRefused} />
      <EvaluationSection />
      <ExperimentsSection />
      <TrendingSection />
    </div>
  );
}

export function AdminPage() {
  const { status, user } = useAuth();
  useTitle("Admin");
  if (status === "loading") return <Spinner label="Checking your account…" />;
  if (status !== "signedIn" || !user) return <AdminsOnly signedInAs={null} />;
  if (user.role !== "ADMIN") return <AdminsOnly signedInAs={user.username ?? ""} />;
  return <Dashboard username={user.username ?? ""} />;
}
