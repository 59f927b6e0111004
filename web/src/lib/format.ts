const money = new Intl.NumberFormat("en-GB", { style: "currency", currency: "GBP" });

/** A price in the shop's currency (the Online Retail shop sells in pounds). */
export function formatPrice(value: number): string {
  return money.format(value);
}

const SMALL_WORDS = new Set(["a", "an", "and", "of", "the", "in", "on", "with", "for", "to", "or", "de"]);

/** The imported catalogue shouts ("WHITE HANGING HEART T-LIGHT HOLDER"): show it in title case. */
export function displayName(name: string): string {
  const letters = name.replace(/[^A-Za-z]/g, "");
  if (letters.length === 0 || letters !== letters.toUpperCase()) return name;
  return name
    .toLowerCase()
    .split(/(\s+)/)
    .map((word, i) => {
      if (/^\s+$/.test(word)) return word;
      if (i > 0 && SMALL_WORDS.has(word)) return word;
      return word.replace(/(^|[-/(])([a-z])/g, (_m, p: string, c: string) => p + c.toUpperCase());
    })
    .join("");
}

/** Up to two letters for the placeholder picture. */
export function initials(name: string): string {
  const words = name
    .replace(/[^A-Za-z0-9 ]/g, " ")
    .split(/\s+/)
    .filter((w) => w.length > 1 && !SMALL_WORDS.has(w.toLowerCase()));
  const picked = words.length >= 2 ? [words[0], words[words.length - 1]] : words.slice(0, 1);
  const text = picked.map((w) => (w ?? "").charAt(0).toUpperCase()).join("");
  return text || "•";
}

/** A stable number from a string (FNV-1a). */
export function hashString(value: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < value.length; i += 1) {
    hash ^= value.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

const dateTime = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "short" });

/** The API sends naive UTC timestamps. */
export function formatDateTime(iso: string): string {
  const normalized = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`;
  const date = new Date(normalized);
  return Number.isNaN(date.getTime()) ? iso : dateTime.format(date);
}

const count = new Intl.NumberFormat("en-GB");

/** A whole number with thousands separators: 12,345. */
export function formatCount(value: number): string {
  return count.format(value);
}

/** A ratio (0 to 1) as a percentage: 0.0342 → "3.42%" (`digits` decimals). */
export function formatPercent(ratio: number, digits = 1): string {
  return `${(ratio * 100).toFixed(digits)}%`;
}

/** A duration in seconds for people: "0.8 s", "42 s", "3 min 05 s". */
export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const total = Math.round(seconds);
  const minutes = Math.floor(total / 60);
  return `${minutes} min ${String(total % 60).padStart(2, "0")} s`;
}
