// A line plot as plain SVG text (issue 20: "an SVG written by the bench, no browser needed"), log-log axes:
// x = users in the store, y = milliseconds. No dependency; the output is stable for the same figures.
const W = 860;
const H = 480;
const M = { left: 70, right: 300, top: 40, bottom: 50 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2', '#17becf'];
const esc = (s) => String(s).replace(/[<>&"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;' })[c]);
const decades = (lo, hi) => {
  const out = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e += 1) out.push(10 ** e);
  return out;
};
const label = (v) => (v >= 1000 ? `${v / 1000}k`.replace('000k', 'M') : String(v));

export function svgPlot({ title, xLabel, yLabel, series }) {
  const xs = series.flatMap((s) => s.points.map(([x]) => x)).filter((v) => v > 0);
  const ys = series.flatMap((s) => s.points.map(([, y]) => y)).filter((v) => v > 0);
  const xt = decades(Math.min(...xs), Math.max(...xs));
  const yt = decades(Math.min(...ys), Math.max(...ys));
  const [x0, x1] = [Math.log10(xt[0]), Math.log10(xt.at(-1))];
  const [y0, y1] = [Math.log10(yt[0]), Math.log10(yt.at(-1))];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const px = (x) => M.left + ((Math.log10(x) - x0) / (x1 - x0 || 1)) * pw;
  const py = (y) => M.top + ph - ((Math.log10(y) - y0) / (y1 - y0 || 1)) * ph;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${M.left}" y="24" font-size="15">${esc(title)}</text>`,
  ];
  for (const x of xt)
    out.push(
      `<line x1="${px(x).toFixed(1)}" y1="${M.top}" x2="${px(x).toFixed(1)}" y2="${M.top + ph}" stroke="#ddd"/>`,
      `<text x="${px(x).toFixed(1)}" y="${M.top + ph + 16}" text-anchor="middle">${label(x)}</text>`,
    );
  for (const y of yt)
    out.push(
      `<line x1="${M.left}" y1="${py(y).toFixed(1)}" x2="${M.left + pw}" y2="${py(y).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${M.left - 6}" y="${(py(y) + 4).toFixed(1)}" text-anchor="end">${label(y)}</text>`,
    );
  out.push(
    `<text x="${M.left + pw / 2}" y="${H - 12}" text-anchor="middle">${esc(xLabel)} (log)</text>`,
    `<text x="16" y="${M.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${M.top + ph / 2})">${esc(yLabel)} (log)</text>`,
  );
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = s.points.filter(([x, y]) => x > 0 && y > 0).map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`);
    const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
    out.push(`<polyline points="${pts.join(' ')}" fill="none" stroke="${color}" stroke-width="2"${dash}/>`);
    for (const p of pts) out.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${color}"/>`);
    const ly = M.top + 10 + i * 18;
    out.push(
      `<line x1="${W - M.right + 16}" y1="${ly}" x2="${W - M.right + 40}" y2="${ly}" stroke="${color}" stroke-width="2"${dash}/>`,
      `<text x="${W - M.right + 46}" y="${ly + 4}">${esc(s.label)}</text>`,
    );
  });
  out.push('</svg>', '');
  return out.join('\n');
}
