// The dashboard: the business day's figures (UTC+8) as cards, and the hourly series as charts
// drawn here as inline SVG (no chart library: the CSP allows only this origin's scripts).
import { addStrings, el, percent, t, yuan } from "../ft.js";
import { actionName, call, fail, start } from "./common.js";

addStrings({
  "dash.title": { zh: "今日概览", en: "Today" },
  "dash.day": { zh: "日期", en: "Day" },
  "dash.day_note": { zh: "{day}（UTC+{offset} 自然日），更新于 {time}", en: "{day} (calendar day at UTC+{offset}), as of {time}" },
  "dash.payments": { zh: "刷脸支付", en: "Face payments" },
  "dash.paid": { zh: "成功 {count} 笔 · ¥{amount}", en: "{count} paid · ¥{amount}" },
  "dash.declined": { zh: "拒绝 {count} 笔 · ¥{amount}", en: "{count} declined · ¥{amount}" },
  "dash.credit": { zh: "新开分期 / 借款", en: "Credit opened" },
  "dash.credit_detail": { zh: "分期 {installments} 笔，借款 {loans} 笔", en: "{installments} installment, {loans} loan" },
  "dash.real_name": { zh: "实名认证", en: "Real-name checks" },
  "dash.passed_failed": { zh: "通过 {passed} · 未通过 {failed}", en: "{passed} passed · {failed} failed" },
  "dash.liveness": { zh: "活体检测失败率", en: "Liveness failure rate" },
  "dash.open_cases": { zh: "待处理案件", en: "Open cases" },
  "dash.see_cases": { zh: "查看案件", en: "See the cases" },
  "dash.frozen": { zh: "冻结账户", en: "Frozen accounts" },
  "dash.decisions": { zh: "风控决策", en: "Risk decisions" },
  "dash.chart_decisions": { zh: "每小时风控决策（按结果堆叠）", en: "Risk decisions per hour, by action" },
  "dash.chart_liveness": { zh: "每小时活体检测失败率", en: "Liveness failure rate per hour" },
  "dash.chart_payments": { zh: "每小时刷脸支付", en: "Face payments per hour" },
  "dash.by_purpose": { zh: "活体检测（按用途）", en: "Liveness checks by purpose" },
  "dash.axis_hour": { zh: "小时（UTC+{offset}）", en: "Hour (UTC+{offset})" },
  "dash.axis_decisions": { zh: "决策数", en: "Decisions" },
  "dash.axis_rate": { zh: "失败率", en: "Failure rate" },
  "dash.axis_payments": { zh: "笔数", en: "Payments" },
  "dash.rate_line": { zh: "失败率", en: "Failure rate" },
  "dash.checks": { zh: "检测次数", en: "Checks" },
  "dash.payments_paid": { zh: "成功", en: "Paid" },
  "dash.payments_declined": { zh: "拒绝", en: "Declined" },
  "dash.no_checks": { zh: "无检测", en: "no checks" },
  "dash.col_purpose": { zh: "用途", en: "Purpose" },
  "dash.col_passed": { zh: "通过", en: "Passed" },
  "dash.col_failed": { zh: "未通过", en: "Failed" },
  "dash.col_rate": { zh: "失败率", en: "Failure rate" },
  "purpose.all": { zh: "全部", en: "All" },
  "purpose.real_name": { zh: "实名认证", en: "Real name" },
  "purpose.face_pay_enrolment": { zh: "开通刷脸支付", en: "Face-pay enrolment" },
  "purpose.payment": { zh: "刷脸支付", en: "Payment" },
  "purpose.installment": { zh: "分期", en: "Installment" },
  "purpose.loan": { zh: "借款", en: "Loan" },
});

const ACTIONS = ["approve", "step_up", "review", "decline", "freeze"];
const SVG = "http://www.w3.org/2000/svg";
const H = 260, LEFT = 48, TOP = 12, BOTTOM = 44;
let data = null;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  return node;
}

const hourLabel = (h) => String(h).padStart(2, "0") + ":00";

// The drawing is as wide as its box (so a phone gets readable labels, not a shrunken desktop chart).
function chartWidth() {
  const box = document.getElementById("chart-decisions");
  return Math.max(300, Math.min(1100, (box && box.clientWidth) || 720));
}

// The frame of a chart: the plot area's scales, y grid lines with tick labels, hour ticks, axis
// titles; ``right`` = [max, tick format, title] adds a second y axis on the right.
function frame(yMax, yTick, yTitle, right = null) {
  const W = chartWidth(), RIGHT = right ? 44 : 12;
  const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM, band = plotW / 24;
  const x = (hour) => LEFT + hour * band;
  const y = (value, max = yMax) => TOP + plotH - (value / max) * plotH;
  const root = svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": yTitle });
  for (let i = 0; i <= 4; i++) {
    root.append(svg("line", { class: "grid", x1: LEFT, x2: W - RIGHT, y1: y((yMax / 4) * i), y2: y((yMax / 4) * i) }),
      svg("text", { x: LEFT - 6, y: y((yMax / 4) * i) + 4, "text-anchor": "end" }, yTick((yMax / 4) * i)));
    if (right) {
      root.append(svg("text", { x: W - RIGHT + 6, y: y((right[0] / 4) * i, right[0]) + 4, "text-anchor": "start" },
        right[1]((right[0] / 4) * i)));
    }
  }
  const every = W >= 500 ? 3 : 6;
  for (let h = 0; h < 24; h += every) {
    root.append(svg("text", { x: x(h) + band / 2, y: TOP + plotH + 16, "text-anchor": "middle" }, String(h).padStart(2, "0")));
  }
  const mid = TOP + plotH / 2;
  root.append(
    svg("line", { class: "axis", x1: LEFT, x2: W - RIGHT, y1: TOP + plotH, y2: TOP + plotH }),
    svg("line", { class: "axis", x1: LEFT, x2: LEFT, y1: TOP, y2: TOP + plotH }),
    svg("text", { class: "axis-title", x: LEFT + plotW / 2, y: H - 6, "text-anchor": "middle" },
      t("dash.axis_hour", { offset: data.utc_offset_hours })),
    svg("text", { class: "axis-title", x: 12, y: mid, "text-anchor": "middle", transform: `rotate(-90 12 ${mid})` }, yTitle),
  );
  if (right) {
    root.append(svg("line", { class: "axis", x1: W - RIGHT, x2: W - RIGHT, y1: TOP, y2: TOP + plotH }),
      svg("text", { class: "axis-title", x: W - 6, y: mid, "text-anchor": "middle", transform: `rotate(90 ${W - 6} ${mid})` },
        right[2]));
  }
  return { root, x, y, band };
}

// A y scale for counts: four whole-number steps covering the largest value.
function countScale(max) {
  return Math.max(1, Math.ceil(max / 4)) * 4;
}

function legend(items) {
  return el("div", { class: "legend" }, items.map(([cls, label]) => el("span", {}, el("i", { class: cls }), label)));
}

// Stacked bars per hour: series = [[key, class, label, hour => value], ...].
function stackedBars(series, yTitle, id) {
  const totals = data.hours.map((h) => series.reduce((sum, [, , , value]) => sum + value(h), 0));
  const { root, x, y, band } = frame(countScale(Math.max(0, ...totals)), (v) => String(Math.round(v)), yTitle);
  root.setAttribute("id", id);
  for (const h of data.hours) {
    let base = 0;
    for (const [key, cls, label, value] of series) {
      const count = value(h);
      if (!count) continue;
      const top = y(base + count);
      root.append(svg("rect", { class: `bar ${cls}`, x: x(h.hour) + band * 0.15, width: band * 0.7, y: top,
        height: y(base) - top, "data-hour": h.hour, "data-series": key, "data-count": count },
      svg("title", {}, `${hourLabel(h.hour)} ${label}: ${count}`)));
      base += count;
    }
  }
  return el("div", {}, root, legend(series.map(([, cls, label]) => [cls, label])));
}

// The liveness failure rate per hour as a line over the left axis (an hour with no check has no
// point), above light bars of how many checks there were, on the right axis.
function livenessChart() {
  const maxChecks = countScale(Math.max(0, ...data.hours.map((h) => h.liveness_total)));
  const { root, x, y, band } = frame(1, (v) => Math.round(v * 100) + "%", t("dash.axis_rate"),
    [maxChecks, (v) => String(Math.round(v)), t("dash.checks")]);
  root.setAttribute("id", "liveness-svg");
  const points = [];
  for (const h of data.hours) {
    if (!h.liveness_total) continue;
    root.append(svg("rect", { class: "bar k-volume", x: x(h.hour) + band * 0.2, width: band * 0.6,
      y: y(h.liveness_total, maxChecks), height: y(0) - y(h.liveness_total, maxChecks), "data-hour": h.hour,
      "data-count": h.liveness_total }, svg("title", {}, `${hourLabel(h.hour)} ${t("dash.checks")}: ${h.liveness_total}`)));
    points.push([x(h.hour) + band / 2, y(h.liveness_failed / h.liveness_total), h]);
  }
  if (points.length) {
    root.append(svg("polyline", { class: "line k-rate", points: points.map(([px, py]) => `${px},${py}`).join(" ") }));
  }
  for (const [px, py, h] of points) {
    const rate = h.liveness_failed / h.liveness_total;
    root.append(svg("circle", { class: "point k-rate", cx: px, cy: py, r: 4, "data-hour": h.hour, "data-rate": rate.toFixed(4) },
      svg("title", {}, `${hourLabel(h.hour)} ${t("dash.rate_line")}: ${percent(rate, 1)} (${h.liveness_failed}/${h.liveness_total})`)));
  }
  return el("div", {}, root, legend([["k-rate", t("dash.rate_line")], ["k-volume", t("dash.checks")]]));
}

// The moment the figures were made, on the business day's clock.
function businessTime(iso) {
  return new Date(Date.parse(iso) + data.utc_offset_hours * 3600_000).toISOString().slice(11, 16);
}

function card(id, title, big, ...details) {
  return el("section", { class: "card figure", id }, el("h2", {}, title), el("div", { class: "big" }, big), ...details);
}

function render() {
  if (!data) return;
  const p = data.payments, c = data.credit, l = data.liveness;
  document.getElementById("day").value = data.day;
  document.getElementById("day-note").textContent = t("dash.day_note", { day: data.day, offset: data.utc_offset_hours,
    time: businessTime(data.generated_at) });
  document.getElementById("figures").replaceChildren(
    card("fig-payments", t("dash.payments"), p.paid.count + p.declined.count,
      el("p", { class: "small" }, t("dash.paid", { count: p.paid.count, amount: yuan(p.paid.amount_fen) })),
      el("p", { class: "small" }, t("dash.declined", { count: p.declined.count, amount: yuan(p.declined.amount_fen) }))),
    card("fig-credit", t("dash.credit"), "¥" + yuan(c.installment.amount_fen + c.loan.amount_fen),
      el("p", { class: "small" }, t("dash.credit_detail", { installments: c.installment.count, loans: c.loan.count }))),
    card("fig-real-name", t("dash.real_name"), data.real_name.passed + data.real_name.failed,
      el("p", { class: "small" }, t("dash.passed_failed", data.real_name))),
    card("fig-liveness", t("dash.liveness"), l.failure_rate === null ? "—" : percent(l.failure_rate, 1),
      el("p", { class: "small" }, t("dash.passed_failed", l))),
    card("fig-open-cases", t("dash.open_cases"), data.open_cases,
      el("p", { class: "small" }, el("a", { href: "/console/cases" }, t("dash.see_cases")))),
    card("fig-frozen", t("dash.frozen"), data.frozen_accounts),
    card("fig-decisions", t("dash.decisions"), ACTIONS.reduce((sum, a) => sum + data.decisions[a], 0),
      el("dl", { class: "facts small" }, ACTIONS.flatMap((a) => [el("dt", {}, el("i", { class: `swatch k-${a}` }), actionName(a)),
        el("dd", { "data-action": a }, data.decisions[a])]))),
  );
  document.getElementById("chart-decisions").replaceChildren(stackedBars(
    ACTIONS.map((a) => [a, `k-${a}`, actionName(a), (h) => h.decisions[a]]), t("dash.axis_decisions"), "decisions-svg"));
  document.getElementById("chart-liveness").replaceChildren(livenessChart());
  document.getElementById("chart-payments").replaceChildren(stackedBars([
    ["paid", "k-paid", t("dash.payments_paid"), (h) => h.payments_paid],
    ["declined", "k-declined", t("dash.payments_declined"), (h) => h.payments_declined],
  ], t("dash.axis_payments"), "payments-svg"));
  const rows = [...data.liveness_by_purpose, data.liveness];
  document.getElementById("by-purpose").replaceChildren(el("table", { id: "purpose-table" },
    el("thead", {}, el("tr", {}, ["dash.col_purpose", "dash.col_passed", "dash.col_failed", "dash.col_rate"]
      .map((k, i) => el("th", { class: i ? "num" : null }, t(k))))),
    el("tbody", {}, rows.map((r) => el("tr", { "data-purpose": r.purpose },
      el("td", {}, t("purpose." + r.purpose)), el("td", { class: "num" }, r.passed), el("td", { class: "num" }, r.failed),
      el("td", { class: "num" }, r.failure_rate === null ? "—" : percent(r.failure_rate, 1)))))));
}

async function load(day) {
  const box = document.getElementById("dash-error");
  try {
    data = await call("GET", "/v1/operator/dashboard" + (day ? `?day=${encodeURIComponent(day)}` : ""));
    box.hidden = true;
    render();
  } catch (error) {
    fail(box, error);
  }
}

start("/console/", {
  ready: async () => {
    document.getElementById("day").addEventListener("change", (e) => load(e.target.value));
    await load(null);
  },
  onLanguage: render,
});

let resizing = null;
window.addEventListener("resize", () => { clearTimeout(resizing); resizing = setTimeout(render, 150); });
