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
