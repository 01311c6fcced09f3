"use strict";
// Small inline SVG charts for the stats tab, drawn by our own code (no library, no network).
// Labels are set with textContent like everything else.

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function niceMax(value) {
  // A round top for the axis, so the grid lines fall on readable numbers.
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (value <= step * power) return step * power;
  return 10 * power;
}

function legend(metrics) {
  return el("ul", { className: "legend" },
    metrics.map((m) => el("li", {}, el("span", { className: "swatch " + m.cls }), m.label)));
}

// A line per metric over the per-minute series.
function lineChart(series, metrics, title) {
  const width = 520, height = 200, left = 40, bottom = 24, top = 10, right = 10;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart line-chart" });
  chart.append(svg("title", {}, title));
  const top_ = niceMax(Math.max(0, ...series.flatMap((row) => metrics.map((m) => row[m.key] || 0))));
  const plotW = width - left - right, plotH = height - top - bottom;
  const x = (i) => left + (series.length < 2 ? plotW / 2 : (i * plotW) / (series.length - 1));
  const y = (v) => top + plotH - (v / top_) * plotH;
  for (const fraction of [0, 0.5, 1]) {
    const value = top_ * fraction;
    chart.append(svg("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: "grid" }));
    chart.append(svg("text", { x: left - 6, y: y(value) + 4, class: "axis", "text-anchor": "end" }, String(value)));
  }
  if (series.length) {
    const first = series[0].minute.slice(11, 16), last = series[series.length - 1].minute.slice(11, 16);
    chart.append(svg("text", { x: left, y: height - 6, class: "axis" }, first + " UTC"));
    chart.append(svg("text", { x: width - right, y: height - 6, class: "axis", "text-anchor": "end" }, last));
  }
  if (series.length < 3) {
    // A line needs a few minutes to say anything: a short series is drawn as columns.
    const width_ = 18;
    series.forEach((row, i) => metrics.forEach((metric, j) => {
      const value = row[metric.key] || 0;
      const left_ = x(i) + (j - metrics.length / 2) * (width_ + 4);
      chart.append(svg("rect", { x: left_, y: y(value), width: width_, height: Math.max(1, y(0) - y(value)), class: "bar " + metric.cls }));
      chart.append(svg("text", { x: left_ + width_ / 2, y: y(value) - 4, class: "axis", "text-anchor": "middle" }, String(value)));
    }));
    return el("figure", { className: "chart-box" }, el("figcaption", {}, title), chart, legend(metrics));
  }
  for (const metric of metrics) {
    const points = series.map((row, i) => `${x(i)},${y(row[metric.key] || 0)}`).join(" ");
    chart.append(svg("polyline", { points, class: "series " + metric.cls }));
    series.forEach((row, i) => chart.append(svg("circle", { cx: x(i), cy: y(row[metric.key] || 0), r: 2.5, class: "dot " + metric.cls })));
  }
  return el("figure", { className: "chart-box" }, el("figcaption", {}, title), chart, legend(metrics));
}

// Grouped horizontal bars: one group per row (a variant, a domain), one bar per metric.
function barChart(rows, metrics, title) {
  const barH = 12, gap = 4, groupGap = 14, labelW = 150, width = 520, right = 50;
  const groupH = metrics.length * (barH + gap) + groupGap;
  const height = Math.max(groupH * rows.length, 30);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", class: "chart bar-chart" });
  chart.append(svg("title", {}, title));
  const top_ = niceMax(Math.max(0, ...rows.flatMap((r) => metrics.map((m) => r.values[m.key] || 0))));
  const plotW = width - labelW - right;
  rows.forEach((row, i) => {
    const y0 = i * groupH;
    const label = row.label.length > 24 ? row.label.slice(0, 23) + "…" : row.label;
    chart.append(svg("text", { x: 0, y: y0 + barH, class: "axis" }, label));
    metrics.forEach((metric, j) => {
      const value = row.values[metric.key] || 0;
      const y = y0 + j * (barH + gap);
      chart.append(svg("rect", { x: labelW, y, height: barH, width: Math.max(1, (value / top_) * plotW), class: "bar " + metric.cls }));
      chart.append(svg("text", { x: labelW + (value / top_) * plotW + 4, y: y + barH - 2, class: "axis" }, String(value)));
    });
  });
  return el("figure", { className: "chart-box" }, el("figcaption", {}, title), chart, legend(metrics));
}
