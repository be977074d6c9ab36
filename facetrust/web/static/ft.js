// Shared by every page: language, API calls with the service's error codes, small DOM helpers.
import { ERRORS, PAGE_ERRORS } from "./errors.js";

const LANG_KEY = "facetrust.lang";
const strings = { zh: {}, en: {} };

export let lang = localStorage.getItem(LANG_KEY) ||
  ((navigator.language || "zh").toLowerCase().startsWith("zh") ? "zh" : "en");

// Register a page's strings: {key: {zh: "...", en: "..."}}.
export function addStrings(table) {
  for (const [key, both] of Object.entries(table)) {
    strings.zh[key] = both.zh;
    strings.en[key] = both.en;
  }
}

// The string for key in the current language; {name} placeholders are filled from vars.
export function t(key, vars = {}) {
  const text = strings[lang][key] ?? strings.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(vars[name] ?? ""));
}

// Fill every element marked data-i18n (text) or data-i18n-placeholder; set the page language.
export function translate(root = document) {
  document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
  root.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((node) => {
    node.placeholder = t(node.dataset.i18nPlaceholder);
  });
}

// The 中文 / English switch in the header; onChange re-renders what the page drew itself.
export function languageSwitch(onChange = () => {}) {
  const button = document.getElementById("lang");
  if (!button) return;
  const label = () => { button.textContent = lang === "zh" ? "English" : "中文"; };
  label();
  button.addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, lang);
    label();
    translate();
    onChange();
  });
}

// A random id for this browser, kept across visits: the risk engine counts devices per account.
export function deviceId() {
  let id = localStorage.getItem("facetrust.device");
  if (!id) {
    id = "web-" + crypto.getRandomValues(new Uint32Array(4)).join("-");
    localStorage.setItem("facetrust.device", id);
  }
  return id;
}

export class ApiError extends Error {
  constructor(status, code, message, extra = {}) {
    super(message);
    this.status = status;
    this.code = code;
    this.extra = extra;
  }
}

// Call the API. Answers the JSON body, or throws ApiError with the service's stable code;
// a failure to reach the service at all is the code "network_error".
export async function api(method, path, { body, token, headers = {}, rawBody } = {}) {
  const init = { method, headers: { "X-Device-Id": deviceId(), ...headers }, cache: "no-store" };
  if (token) init.headers.Authorization = "Bearer " + token;
  if (rawBody !== undefined) {
    init.body = rawBody;
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, "network_error", String(e));
  }
  let data = null;
  try { data = await response.json(); } catch { /* an empty or non-JSON answer */ }
  if (!response.ok) {
    const err = (data && data.error) || {};
    const { code, message, ...extra } = err;
    throw new ApiError(response.status, code || "http_" + response.status, message || response.statusText, extra);
  }
  return data;
}

// Which page the errors are shown on (PAGE_ERRORS in errors.js): the same code can need other words
// on the vending machine, the loan page or the real-name page. A page sets it once as it loads.
let errorPage = null;
export function setErrorPage(page) { errorPage = page; }

// The texts for a code on this page: the page's own, else the shared ones. ``variant`` picks a
// sharper text when the answer says more (a loan held for review, which action was not seen).
function entryFor(code, variant) {
  const pages = [errorPage, "any"].filter(Boolean);
  for (const key of variant ? [`${code}.${variant}`, code] : [code]) {
    for (const page of pages) if (PAGE_ERRORS[page] && PAGE_ERRORS[page][key]) return PAGE_ERRORS[page][key];
    if (ERRORS[key]) return ERRORS[key];
  }
  return ERRORS.unknown_error;
}

// What happened and what to do, in the user's language, for an error code (or a liveness reason).
export function explain(code, extra = {}, variant = null) {
  const entry = entryFor(code, variant);
  const pick = (pair) => (pair[lang] ?? pair.en).replace(/\{(\w+)\}/g, (_, n) => String(extra[n] ?? ""));
  return { what: pick(entry.what), todo: pick(entry.todo) };
}

const SUPPORT_CODES = new Set(["account_frozen", "account_not_active"]);

addStrings({
  "err.attempts_left": { zh: "还可以再试 {count} 次；再失败，人脸检测会暂停一段时间。",
    en: "You can try {count} more times; after that, face checks are paused for a while." },
  "err.attempts_none": { zh: "失败次数已达上限，人脸检测暂停一段时间，请稍后再试。",
    en: "That was the last try for now: face checks are paused for a while. Try again later." },
  "err.details": { zh: "详细信息", en: "Details" },
  "more_time.label": { zh: "每个动作多给我一些时间", en: "Give me more time for each action" },
});

// "More time for each action" (WCAG 2.2.1): remembered in this browser, read by the camera.
const MORE_TIME_KEY = "facetrust.more_time";
export const moreTime = {
  get: () => localStorage.getItem(MORE_TIME_KEY) === "1",
  set: (on) => { if (on) localStorage.setItem(MORE_TIME_KEY, "1"); else localStorage.removeItem(MORE_TIME_KEY); },
};

export function moreTimeControl() {
  const box = el("input", { type: "checkbox", class: "more-time-input", checked: moreTime.get(),
    onchange: (e) => { moreTime.set(e.target.checked); syncMoreTime(e.target.checked); } });
  return el("label", { class: "more-time" }, box, " ", t("more_time.label"));
}

function syncMoreTime(on) {
  document.querySelectorAll(".more-time-input").forEach((box) => { box.checked = on; });
}

// Show an error in a box: what happened, what to do, and the code for support. ``reveal``: the
// person just acted (a capture, a confirm) and may be looking elsewhere: the box is scrolled into
// view and focused, so it is announced and seen. The server's own message is never the text; an
// English page may show it under "details" for a code the pages do not know.
export function showError(box, error, { reveal = false } = {}) {
  const code = error.code || "unknown_error";
  const extra = { ...(error.extra || {}) };
  if (extra.retry_after_seconds) {
    extra.seconds = Math.ceil(extra.retry_after_seconds);
    extra.minutes = Math.ceil(extra.retry_after_seconds / 60);
  }
  const variant = extra.held_for_review ? "review" : extra.actions ? "which" : null;
  const { what, todo } = explain(code, extra, variant);
  // An account that needs support gets the support contact with the error, when the page knows it.
  const support = SUPPORT_CODES.has(code) ? session.get("support") : null;
  const left = typeof extra.attempts_left === "number" ? extra.attempts_left : null;
  const unknown = !ERRORS[code] && lang === "en" && error.message && error.message !== code;
  box.replaceChildren(...[
    el("strong", { class: "what" }, what),
    el("p", { class: "todo" }, todo),
    left === null ? null : el("p", { class: "attempts", id: "attempts-left" },
      left > 0 ? t("err.attempts_left", { count: left }) : t("err.attempts_none")),
    code === "action_not_performed" ? moreTimeControl() : null,
    support ? el("p", { class: "support" }, (lang === "zh" ? "客服：" : "Support: ") + support) : null,
    unknown ? el("details", { class: "small" }, el("summary", {}, t("err.details")), el("p", {}, error.message)) : null,
    el("p", { class: "code" }, code),
  ].filter(Boolean)); // replaceChildren would show a null as the text "null"
  box.dataset.code = code;
  box.hidden = false;
  box.className = "notice error";
  box.setAttribute("role", "alert");
  if (reveal) {
    box.tabIndex = -1;
    box.scrollIntoView({ block: "center" });
    box.focus({ preventScroll: true });
  }
}

export function hide(node) { node.hidden = true; }
export function show(node) { node.hidden = false; }

// el("p", {class: "x", onclick: f}, "text", child, ...)
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else if (name === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

// 123456 fen -> "1,234.56"
export function yuan(fen) {
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  const whole = Math.floor(abs / 100).toLocaleString("en-US");
  return `${sign}${whole}.${String(abs % 100).padStart(2, "0")}`;
}

export function percent(rate, digits = 2) {
  return (Number(rate) * 100).toFixed(digits) + "%";
}

export function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return d.toLocaleString(lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium", timeStyle: "short" });
}

export function day(iso) {
  if (!iso) return "";
  return new Date(iso).toLocaleDateString(lang === "zh" ? "zh-CN" : "en-GB", { dateStyle: "medium" });
}

// 2026-12-24: dates in tables, short enough for a phone's column.
export function shortDay(iso) {
  return iso ? String(iso).slice(0, 10) : "";
}

// A table from rows: columns = [[header key, row => cell], ...]; empty shows the "none" string.
export function table(columns, rows, emptyKey = "common.none") {
  if (!rows.length) return el("p", { class: "empty" }, t(emptyKey));
  return el("table", {},
    el("thead", {}, el("tr", {}, columns.map(([key]) => el("th", {}, t(key))))),
    el("tbody", {}, rows.map((row) => el("tr", {}, columns.map(([, cell]) => el("td", {}, cell(row)))))));
}

// A table's own scrolling box (a phone scrolls a wide table there, never the page). It can be
// focused, so a keyboard can scroll it too, and is a named region for a screen reader.
export function tableBox(label, child, attrs = {}) {
  return el("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": label, ...attrs }, child);
}

// Tokens are kept per browser tab (sessionStorage): closing the tab signs out.
export const session = {
  get: (name) => sessionStorage.getItem("facetrust." + name),
  set: (name, value) => sessionStorage.setItem("facetrust." + name, value),
  clear: (name) => sessionStorage.removeItem("facetrust." + name),
};

const watching = new Set(); // the token names whose #token= changes this page follows

// Take a token handed over in the URL fragment (#token=...) and remove it from the address bar.
// A page left open keeps listening: a new #token= (the platform's app opening the page again for
// another sign-in) replaces the tab's token and loads the page afresh with it.
export function tokenFromFragment(name) {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get("token");
  if (token) {
    session.set(name, token);
    params.delete("token");
    const rest = params.toString();
    history.replaceState(null, "", location.pathname + location.search + (rest ? "#" + rest : ""));
  }
  if (!watching.has(name)) {
    watching.add(name);
    window.addEventListener("hashchange", () => {
      if (!new URLSearchParams(location.hash.slice(1)).get("token")) return;
      tokenFromFragment(name);
      location.reload();
    });
  }
  return session.get(name);
}

// An in-page confirmation (never the browser's confirm()): a modal <dialog> with a title, what will
// happen (text, or [label, value] pairs shown as facts), and two labelled buttons. Focus moves to
// the dialog's cancel button (the choice that changes nothing), Escape cancels, and focus returns
// to where it was. Resolves to true only when the person presses the confirm button.
let openDialog = null;
export function confirmDialog({ title, facts = [], text = [], confirm, cancel, danger = false }) {
  if (openDialog) return Promise.resolve(false); // a second tap while one is open does nothing more
  const before = document.activeElement;
  const titleId = "confirm-title";
  const bodyId = "confirm-body";
  return new Promise((resolve) => {
    const yes = el("button", { type: "button", id: "confirm-yes", class: danger ? "danger" : null }, confirm || t("common.confirm"));
    const no = el("button", { type: "button", id: "confirm-no", class: "secondary" }, cancel || t("common.cancel"));
    const dialog = el("dialog", { id: "confirm-dialog", class: "confirm", "aria-labelledby": titleId, "aria-describedby": bodyId },
      el("h2", { id: titleId }, title),
      el("div", { id: bodyId },
        facts.length ? el("dl", { class: "facts" }, facts.flatMap(([label, value]) => [el("dt", {}, label), el("dd", {}, value)])) : null,
        [].concat(text).filter(Boolean).map((line) => el("p", {}, line))),
      el("div", { class: "row buttons" }, no, yes));
    const finish = (answer) => {
      if (openDialog !== dialog) return;
      openDialog = null;
      if (dialog.open) dialog.close();
      dialog.remove();
      if (before && typeof before.focus === "function" && document.contains(before)) before.focus();
      resolve(answer);
    };
    yes.addEventListener("click", () => finish(true));
    no.addEventListener("click", () => finish(false));
    dialog.addEventListener("cancel", (event) => { event.preventDefault(); finish(false); }); // Escape
    dialog.addEventListener("close", () => finish(false));
    document.body.append(dialog);
    openDialog = dialog;
    dialog.showModal();
    no.focus();
  });
}

addStrings({
  "common.none": { zh: "暂无", en: "None yet" },
  "common.loading": { zh: "加载中…", en: "Loading…" },
  "common.back": { zh: "返回", en: "Back" },
  "common.yuan": { zh: "¥{amount}", en: "¥{amount}" },
  "common.sign_out": { zh: "退出", en: "Sign out" },
  "common.retry": { zh: "重试", en: "Try again" },
  "common.cancel": { zh: "取消", en: "Cancel" },
  "common.confirm": { zh: "确认", en: "Confirm" },
});
