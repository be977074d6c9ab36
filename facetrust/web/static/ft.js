// Shared by every page: language, API calls with the service's error codes, small DOM helpers.
import { ERRORS } from "./errors.js";

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

// What happened and what to do, in the user's language, for an error code (or a liveness reason).
export function explain(code, extra = {}) {
  const entry = ERRORS[code] || ERRORS.unknown_error;
  const pick = (pair) => (pair[lang] ?? pair.en).replace(/\{(\w+)\}/g, (_, n) => String(extra[n] ?? ""));
  return { what: pick(entry.what), todo: pick(entry.todo) };
}

const SUPPORT_CODES = new Set(["account_frozen", "account_not_active"]);

// Show an error in a box: what happened, what to do, and the code for support.
export function showError(box, error) {
  const code = error.code || "unknown_error";
  const extra = { ...(error.extra || {}), message: error.message || code };
  if (extra.retry_after_seconds) {
    extra.seconds = Math.ceil(extra.retry_after_seconds);
    extra.minutes = Math.ceil(extra.retry_after_seconds / 60);
  }
  const { what, todo } = explain(code, extra);
  // An account that needs support gets the support contact with the error, when the page knows it.
  const support = SUPPORT_CODES.has(code) ? session.get("support") : null;
  box.replaceChildren(
    el("strong", { class: "what" }, what),
    el("p", { class: "todo" }, todo),
    support ? el("p", { class: "support" }, (lang === "zh" ? "客服：" : "Support: ") + support) : null,
    el("p", { class: "code" }, code),
  );
  box.dataset.code = code;
  box.hidden = false;
  box.className = "notice error";
  box.setAttribute("role", "alert");
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
