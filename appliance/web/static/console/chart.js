// Credits per day, stacked by endpoint: a plain SVG bar chart (no chart library).
import { h, svg } from "./dom.js";

export function usageChart(days, rows) {
  const endpoints = [...new Set(rows.map((r) => r.endpoint))].sort();
  const byDay = new Map(days.map((d) => [d, {}]));
  for (const r of rows) {
    if (byDay.has(r.day)) byDay.get(r.day)[r.endpoint] = r.credits;
  }
  const totals = days.map((d) => Object.values(byDay.get(d)).reduce((a, b) => a + b, 0));
  const max = Math.max(1, ...totals);
  const W = 720;
  const H = 180;
  const left = 32;
  const bottom = 20;
  const bw = (W - left) / days.length;
  const top = 10;
  const y = (v) => top + (H - bottom - top) * (1 - v / max);
  const g = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "credits per day by endpoint", id: "usage-chart" });
  for (const frac of [0, 0.5, 1]) {
    const v = Math.round(max * frac);
    g.append(svg("line", { x1: left, x2: W, y1: y(v), y2: y(v) }), svg("text", { x: 0, y: y(v) + 4 }, v));
  }
  days.forEach((day, i) => {
    let base = 0;
    endpoints.forEach((ep, k) => {
      const v = byDay.get(day)[ep] || 0;
      if (!v) return;
      const rect = svg("rect", { x: left + i * bw + 1, width: Math.max(1, bw - 2), y: y(base + v), height: y(base) - y(base + v), class: `sw-${k % 6}` }, svg("title", {}, `${day} ${ep}: ${v} credits`));
      g.append(rect);
      base += v;
    });
    if (i % 7 === 0) g.append(svg("text", { x: left + i * bw, y: H - 4 }, day.slice(5)));
  });
  const legend = h("div", { class: "legend" }, endpoints.map((ep, k) => h("span", {}, h("span", { class: `swatch sw-${k % 6}` }), ep)));
  return h("div", { class: "chart" }, g, endpoints.length ? legend : h("p", { class: "muted small" }, "No credits spent in this period."));
}

export function dayRange(since, until) {
  const out = [];
  const d = new Date(`${since}T00:00:00Z`);
  const end = new Date(`${until}T00:00:00Z`);
  while (d < end) {
    out.push(d.toISOString().slice(0, 10));
    d.setUTCDate(d.getUTCDate() + 1);
  }
  return out;
}
