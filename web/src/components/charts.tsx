/**
 * Small hand-made SVG charts for the admin view (no chart library: the bundle stays small).
 * Every chart is an `role="img"` with an aria-label that says what it shows in words.
 */

import { useLayoutEffect, useRef, useState } from "react";

/** Series colours, one per variant (the hero tiles' palette). */
export const SERIES_COLORS = ["#1f3a5f", "#c2542d", "#3f7f6b", "#7a5c99", "#d9a23e", "#2b6cb0"] as const;

export function seriesColor(index: number): string {
  return SERIES_COLORS[index % SERIES_COLORS.length] ?? SERIES_COLORS[0];
}

export interface Bar {
  label: string;
  value: number;
  color?: string;
}

interface BarChartProps {
  title: string;
  bars: readonly Bar[];
  format: (value: number) => string;
  /** Top of the scale; the largest value when omitted. */
  max?: number;
  testId?: string;
}

/**
 * The rendered width of an element (ResizeObserver), so that a chart can draw in CSS pixels:
 * its text keeps its size at every width. `fallback` until measured (and in tests).
 */
function useMeasuredWidth<T extends Element>(fallback: number) {
  const ref = useRef<T | null>(null);
  const [width, setWidth] = useState(fallback);
  useLayoutEffect(() => {
    const node = ref.current;
    if (!node || typeof ResizeObserver === "undefined") return undefined;
    const update = () => {
      const next = Math.round(node.getBoundingClientRect().width);
      if (next > 0) setWidth(next);
    };
    update();
    const observer = new ResizeObserver(update);
    observer.observe(node);
    return () => observer.disconnect();
  }, []);
  return [ref, width] as const;
}

const LABEL_W = 78;
const VALUE_W = 64;
const ROW_H = 30;
const BAR_H = 16;
const PAD_Y = 4;

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Horizontal bars, one per label, each value written at the end of its row. */
export function BarChart({ title, bars, format, max, testId }: BarChartProps) {
  const [frame, W] = useMeasuredWidth<HTMLDivElement>(300);
  const top = Math.max(max ?? 0, ...bars.map((b) => b.value), 0);
  const track = Math.max(W - LABEL_W - VALUE_W, 24);
  const height = bars.length * ROW_H + PAD_Y * 2;
  const summary = `${title}: ${bars.map((b) => `${b.label} ${format(b.value)}`).join(", ")}`;
  return (
    <figure className="bar-chart" data-testid={testId}>
      <figcaption className="bar-chart__title">{title}</figcaption>
      <div ref={frame} className="bar-chart__frame">
        <svg
          className="bar-chart__svg"
          viewBox={`0 0 ${W} ${height}`}
          width="100%"
          height={height}
          role="img"
          aria-label={summary}
          preserveAspectRatio="xMinYMin meet"
        >
          {bars.map((bar, i) => {
            const y = PAD_Y + i * ROW_H;
            const mid = y + ROW_H / 2;
            const width = top > 0 ? Math.max((bar.value / top) * track, bar.value > 0 ? 2 : 0) : 0;
            return (
              <g key={`${bar.label}-${i}`}>
                <text x={0} y={mid} dominantBaseline="central" className="bar-chart__label">
                  <title>{bar.label}</title>
                  {truncate(bar.label, 11)}
                </text>
                <rect x={LABEL_W} y={mid - BAR_H / 2} width={track} height={BAR_H} rx={4} className="bar-chart__track" />
                <rect
                  x={LABEL_W}
                  y={mid - BAR_H / 2}
                  width={width}
                  height={BAR_H}
                  rx={4}
                  fill={bar.color ?? seriesColor(i)}
                  data-value={bar.value}
                />
                <text x={W} y={mid} dominantBaseline="central" textAnchor="end" className="bar-chart__value">
                  {format(bar.value)}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
    </figure>
  );
}

export interface Interval {
  key: string;
  /** What is compared, e.g. "Click-through rate". */
  label: string;
  /** e.g. "brief vs default". */
  detail: string;
  estimate: number;
  lower: number;
  upper: number;
  /** Half-width of the (symmetric) scale this row is drawn on. */
  scale: number;
  format: (value: number) => string;
  /** No data on one side yet (nothing to draw). */
  empty?: boolean;
}

export type Verdict = "better" | "worse" | "unclear" | "empty";

/** Above zero, below zero, an interval that includes zero, or nothing measured yet. */
export function verdictOf({ lower, upper, empty }: { lower: number; upper: number; empty?: boolean }): Verdict {
  if (empty) return "empty";
  if (lower > 0) return "better";
  if (upper < 0) return "worse";
  return "unclear";
}

const VERDICT_TEXT: Record<Verdict, string> = {
  better: "Higher",
  worse: "Lower",
  unclear: "No clear difference",
  empty: "Not enough data",
};

/** x in percent of the strip: 0 is always in the middle, ±scale at the edges (clamped). */
function position(value: number, scale: number): number {
  const ratio = scale > 0 ? value / scale : 0;
  return 50 + Math.max(-1, Math.min(1, ratio)) * 46;
}

/**
 * Differences with their confidence intervals: one row each with the estimate as a dot, the
 * lower–upper interval as a whisker and a zero line; the numbers are written next to it.
 */
export function IntervalPlot({ intervals, testId }: { intervals: readonly Interval[]; testId?: string }) {
  return (
    <div className="interval-plot" data-testid={testId}>
      <ul className="interval-plot__rows">
        {intervals.map((row) => {
          const verdict = verdictOf(row);
          const lo = position(row.lower, row.scale);
          const hi = position(row.upper, row.scale);
          const est = position(row.estimate, row.scale);
          const label = row.empty
            ? `${row.label}, ${row.detail}: not enough data to compare yet.`
            : `${row.label}, ${row.detail}: difference ${row.format(row.estimate)}, ` +
              `95% confidence interval ${row.format(row.lower)} to ${row.format(row.upper)}. ${VERDICT_TEXT[verdict]}.`;
          return (
            <li key={row.key} className={`interval interval--${verdict}`} data-testid="difference">
              <div className="interval__label">
                <span className="interval__metric">{row.label}</span>
                <span className="interval__detail">{row.detail}</span>
              </div>
              <svg className="interval__plot" width="100%" height="44" role="img" aria-label={label}>
                <line x1="4%" x2="96%" y1="50%" y2="50%" className="interval__axis" />
                <line x1="50%" x2="50%" y1="0" y2="100%" className="interval__zero" />
                {row.empty ? null : (
                  <>
                    <line x1={`${lo}%`} x2={`${hi}%`} y1="50%" y2="50%" className="interval__whisker" />
                    <line x1={`${lo}%`} x2={`${lo}%`} y1="32%" y2="68%" className="interval__whisker" />
                    <line x1={`${hi}%`} x2={`${hi}%`} y1="32%" y2="68%" className="interval__whisker" />
                    <circle cx={`${est}%`} cy="50%" r="6" className="interval__dot" />
                  </>
                )}
              </svg>
              <div className="interval__value">
                <strong className="interval__estimate">{row.empty ? "—" : row.format(row.estimate)}</strong>
                <span className={`interval__verdict interval__verdict--${verdict}`}>{VERDICT_TEXT[verdict]}</span>
                <span className="interval__range">
                  {row.empty ? "too few events to compare" : `95% CI ${row.format(row.lower)} to ${row.format(row.upper)}`}
                </span>
              </div>
            </li>
          );
        })}
      </ul>
      <div className="interval interval-plot__axis" aria-hidden="true">
        <span />
        <div className="interval-plot__ticks">
          <span>← lower</span>
          <span className="interval-plot__zero-label">0</span>
          <span>higher →</span>
        </div>
        <span />
      </div>
    </div>
  );
}

export { VERDICT_TEXT };
