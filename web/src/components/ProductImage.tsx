import { useState } from "react";
import { hashString, initials } from "../lib/format";

interface Props {
  sku: string;
  name: string;
  imageUrl?: string | null;
  size?: "sm" | "md" | "lg";
}

const PALETTE: ReadonlyArray<readonly [number, number]> = [
  [12, 62], [28, 70], [42, 68], [95, 32], [150, 30], [172, 38], [198, 45], [215, 40], [250, 30], [285, 28], [330, 40], [352, 48],
];

/** The catalogue has no photos: a calm generated tile, the same for a sku everywhere. */
export function ProductImage({ sku, name, imageUrl, size = "md" }: Props) {
  const [broken, setBroken] = useState(false);
  const hash = hashString(sku || name);
  const [hue, sat] = PALETTE[hash % PALETTE.length] ?? [215, 40];
  const pattern = (hash >>> 8) % 4;
  const style = {
    "--ph-hue": String(hue),
    "--ph-sat": `${sat}%`,
  } as React.CSSProperties;

  if (imageUrl && !broken) {
    return (
      <div className={`product-image product-image--${size}`}>
        <img src={imageUrl} alt="" loading="lazy" onError={() => setBroken(true)} />
      </div>
    );
  }
  return (
    <div className={`product-image product-image--${size} product-image--ph ph-pattern-${pattern}`} style={style} aria-hidden="true">
      <span className="product-image__initials">{initials(name)}</span>
      <span className="product-image__sku">{sku}</span>
    </div>
  );
}
