// Small DOM helpers: element creation with escaping by construction, the shared hover tooltip.

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string | number | undefined> = {},
  ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined) e.setAttribute(k, String(v));
  for (const c of children) if (c !== null && c !== undefined) e.append(c);
  return e;
}

const tip = () => document.getElementById('tip') as HTMLElement;

/** Shows `lines` next to the pointer while it is over `target`. */
export function hover(target: HTMLElement, lines: () => string[]): void {
  target.addEventListener('mouseenter', (ev) => {
    const t = tip();
    t.replaceChildren(...lines().map((l) => el('div', {}, l)));
    t.hidden = false;
    move(ev);
  });
  target.addEventListener('mousemove', move);
  target.addEventListener('mouseleave', () => {
    tip().hidden = true;
  });
}

function move(ev: MouseEvent): void {
  const t = tip();
  t.style.left = `${Math.min(ev.clientX + 14, window.innerWidth - t.offsetWidth - 8)}px`;
  t.style.top = `${ev.clientY + 14}px`;
}

export const fmtMs = (ms: number | undefined) =>
  ms === undefined ? '-' : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`;

export const fmtNum = (x: number | null | undefined, digits = 4) =>
  x === null || x === undefined ? '-' : Number.isInteger(x) ? x.toLocaleString('en') : x.toFixed(digits);
