// The vending machine's screen: a merchant's terminal. It takes an amount, asks the platform for a
// face payment with requests signed by its own secret (HMAC-SHA256, exactly as
// facetrust/security/signing.py checks them), and hands the payer over to the platform's capture
// page by navigating there. When the capture page sends the machine back (#intent=<id>), it reads
// the payment's status with its own signed request.
//
// What this page must never touch: the camera (its Permissions-Policy forbids it anyway), frames,
// or who the payer is. The only payer data it ever receives is the masked name ("李*").
import { addStrings, api, confirmDialog, el, hide, lang, languageSwitch, show, showError, t, translate, yuan } from "../ft.js";

const STORE_KEY = "facetrust.terminal"; // {id, secret, pin: {salt, hash, iterations}}: the credentials the admin
// API issued, and the operator PIN chosen at provisioning, kept only as a salted PBKDF2-SHA256 hash
const PIN_TRIES_KEY = "facetrust.terminal.pin-tries"; // {failures, lockouts, lockedUntil}: wrong PINs survive a reload
const PIN_ITERATIONS = 200_000;
const PIN_MAX_FAILURES = 5; // then a cool-down, doubling with each lockout
const PIN_COOLDOWN_SECONDS = 60;
const PIN_COOLDOWN_MAX_SECONDS = 3600;
const RESULT_SECONDS = 10; // the result screen goes back to a new sale by itself
const MAX_WHOLE_DIGITS = 6; // up to ¥999,999.99: the API's own ceiling is ¥1,000,000
const FINAL = new Set(["paid", "declined", "expired"]);
const POLL_MS = 2000;

// A few quick picks, like a vending machine's shelf; the keypad takes any other amount.
const PRODUCTS = [
  { zh: "矿泉水", en: "Water", fen: 200 },
  { zh: "可乐", en: "Cola", fen: 350 },
  { zh: "咖啡", en: "Coffee", fen: 1200 },
  { zh: "三明治", en: "Sandwich", fen: 1880 },
];

addStrings({
  "term.brand": { zh: "自助售货机", en: "Vending machine" },
  "term.sale_title": { zh: "刷脸支付收银", en: "Pay at this machine" },
  "term.waiting_title": { zh: "付款结果", en: "Payment result" },
  "term.settings": { zh: "设置", en: "Settings" },
  "term.setup_title": { zh: "设置售货机", en: "Set up this machine" },
  "term.setup_help": { zh: "请输入平台管理员为本机签发的终端编号和密钥。密钥只保存在本机。",
    en: "Enter the terminal id and secret the platform's admin issued for this machine. The secret stays on this machine." },
  "term.terminal_id": { zh: "终端编号", en: "Terminal id" },
  "term.terminal_secret": { zh: "终端密钥", en: "Terminal secret" },
  "term.setup_demo": { zh: "使用演示平台的售货机", en: "Use a demo platform machine" },
  "term.setup_save": { zh: "保存并检查", en: "Save and check" },
  "term.setup_checking": { zh: "正在检查…", en: "Checking…" },
  "term.reset": { zh: "清除本机设置", en: "Reset this machine" },
  "term.reset_title": { zh: "清除本机设置？", en: "Reset this machine?" },
  "term.reset_confirm": { zh: "终端编号、密钥和操作员 PIN 会从本机删除。清除后需要重新输入才能收款。",
    en: "The terminal id, secret and operator PIN are removed from this machine. It cannot take payments until they are entered again." },
  "term.reset_yes": { zh: "清除", en: "Reset" },
  "term.pin_new": { zh: "操作员 PIN（4–8 位数字）", en: "Operator PIN (4 to 8 digits)" },
  "term.pin_again": { zh: "再次输入 PIN", en: "The PIN again" },
  "term.pin_help": { zh: "打开本机“设置”需要这个 PIN。本机只保存它加盐后的哈希值。已设置过时留空则保持不变。",
    en: "Opening this machine's Settings needs this PIN. The machine keeps only a salted hash of it. Leave it empty to keep the current one." },
  "term.pin_needed": { zh: "请先设置 4–8 位数字的操作员 PIN。", en: "Choose an operator PIN of 4 to 8 digits first." },
  "term.pin_mismatch": { zh: "两次输入的 PIN 不一致。", en: "The two PINs are not the same." },
  "term.pin_title": { zh: "输入操作员 PIN", en: "Enter the operator PIN" },
  "term.pin_label": { zh: "操作员 PIN", en: "Operator PIN" },
  "term.pin_ok": { zh: "确定", en: "OK" },
  "term.pin_wrong": { zh: "PIN 不正确。还可以再试 {left} 次。", en: "Wrong PIN. {left} tries left." },
  "term.pin_locked": { zh: "PIN 错误次数过多。请在 {seconds} 秒后再试。", en: "Too many wrong PINs. Try again in {seconds} seconds." },
  "term.back_in": { zh: "{seconds} 秒后自动返回，点击屏幕立即开始新的交易。", en: "Back to a new sale in {seconds} s; tap the screen to start one now." },
  "term.amount_label": { zh: "应付金额", en: "Amount to pay" },
  "term.pay": { zh: "刷脸支付", en: "Pay with face" },
  "term.starting": { zh: "正在发起付款…", en: "Starting the payment…" },
  "term.key_back": { zh: "删除", en: "Delete" },
  "term.key_point": { zh: "小数点", en: "Decimal point" },
  "term.clear": { zh: "清空", en: "Clear" },
  "term.checking": { zh: "正在查询付款结果…", en: "Checking the payment…" },
  "term.waiting_payer": { zh: "等待付款人在付款页面完成付款…", en: "Waiting for the payer to finish on the payment page…" },
  "term.continue": { zh: "继续付款", en: "Continue the payment" },
  "term.new_sale": { zh: "新的交易", en: "New sale" },
  "term.paid": { zh: "支付成功", en: "Paid" },
  "term.not_completed": { zh: "付款未完成", en: "Payment not completed" },
  "term.not_completed_help": { zh: "没有扣款。付款人可以在付款页面看到原因。",
    en: "Nothing was charged. The payer was shown why on the payment page." },
  "term.payer": { zh: "付款人", en: "Payer" },
  "term.transaction": { zh: "交易号", en: "Transaction" },
  "term.order": { zh: "订单号", en: "Order" },
});

const $ = (id) => document.getElementById(id);
const SCREENS = ["setup", "pin", "sale", "waiting", "result"];

let config = loadConfig();
let entry = ""; // what was typed, e.g. "12.5"
let sale = null; // {fen, key, order}: one purchase, kept across retries so a retry cannot pay twice
let busy = false; // a payment request is in flight, or the page is handing over
let following = 0; // which intent poll is current; a new sale stops the old one
let lastResult = null; // the intent on the result screen, re-drawn on a language switch
let resultTimer = null; // {left, id}: the result screen's way back to a new sale
let unlocked = false; // the operator entered the PIN: the setup screen may open
let pinCountdown = null; // the PIN screen's cool-down display

// --- signing ------------------------------------------------------------------------------------

const encoder = new TextEncoder();
const hex = (buffer) => [...new Uint8Array(buffer)].map((b) => b.toString(16).padStart(2, "0")).join("");

// The four headers of signing.headers(): HMAC-SHA256 (key = the secret's UTF-8 bytes) over
// "METHOD\nPATH\nTIMESTAMP\nNONCE\nsha256hex(body)", hex. Every request gets a fresh nonce.
async function signedHeaders(method, path, body) {
  if (!globalThis.crypto || !crypto.subtle) throw Object.assign(new Error("no WebCrypto"), { code: "insecure_context" });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = hex(crypto.getRandomValues(new Uint8Array(16)));
  const bodyHash = hex(await crypto.subtle.digest("SHA-256", encoder.encode(body)));
  const key = await crypto.subtle.importKey("raw", encoder.encode(config.secret), { name: "HMAC", hash: "SHA-256" },
    false, ["sign"]);
  const canonical = [method.toUpperCase(), path, timestamp, nonce, bodyHash].join("\n");
  const signature = hex(await crypto.subtle.sign("HMAC", key, encoder.encode(canonical)));
  return { "X-Terminal-Id": config.id, "X-Timestamp": timestamp, "X-Nonce": nonce, "X-Signature": signature };
}

// A signed call. The body is serialised once, so the bytes sent are the bytes signed.
async function terminalApi(method, path, payload) {
  const body = payload === undefined ? "" : JSON.stringify(payload);
  const headers = await signedHeaders(method, path, body);
  return api(method, path, { headers, rawBody: payload === undefined ? undefined : body });
}

function randomId(prefix) {
  return `${prefix}-${Date.now().toString(36)}-${hex(crypto.getRandomValues(new Uint8Array(6)))}`;
}

// --- screens ------------------------------------------------------------------------------------

function showScreen(name) {
  for (const screen of SCREENS) $(screen).hidden = screen !== name;
  $("settings").hidden = !config || name === "setup" || name === "pin";
  if (name !== "result") stopResultTimer();
  if (name !== "pin") clearInterval(pinCountdown);
  if (name !== "setup" && name !== "pin") unlocked = false;
}

function intentFromFragment() {
  return new URLSearchParams(location.hash.slice(1)).get("intent");
}

// A machine set up without an operator PIN (before PINs existed) counts as not set up: anyone
// could open its settings, so it asks its installer again (the secret is needed to do so).
function loadConfig() {
  try {
    const stored = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
    return stored && stored.id && stored.secret && stored.pin && stored.pin.hash ? stored : null;
  } catch {
    return null;
  }
}

// --- the operator PIN ---------------------------------------------------------------------------

async function pinHash(pin, saltHex, iterations) {
  if (!globalThis.crypto || !crypto.subtle) throw Object.assign(new Error("no WebCrypto"), { code: "insecure_context" });
  const salt = new Uint8Array(saltHex.match(/../g).map((h) => parseInt(h, 16)));
  const key = await crypto.subtle.importKey("raw", encoder.encode(pin), "PBKDF2", false, ["deriveBits"]);
  return hex(await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, 256));
}

async function newPinRecord(pin) {
  const salt = hex(crypto.getRandomValues(new Uint8Array(16)));
  return { salt, iterations: PIN_ITERATIONS, hash: await pinHash(pin, salt, PIN_ITERATIONS) };
}

function pinTries() {
  try {
    return { failures: 0, lockouts: 0, lockedUntil: 0, ...JSON.parse(localStorage.getItem(PIN_TRIES_KEY) || "{}") };
  } catch {
    return { failures: 0, lockouts: 0, lockedUntil: 0 };
  }
}

function note(box, key, vars) {
  box.replaceChildren(el("strong", { class: "what" }, t(key, vars)));
  box.className = "notice error";
  box.setAttribute("role", "alert");
  box.dataset.code = key;
  box.hidden = false;
}

function showPinLock() {
  clearInterval(pinCountdown);
  const tick = () => {
    const seconds = Math.ceil((pinTries().lockedUntil - Date.now()) / 1000);
    const locked = seconds > 0;
    $("pin-entry").disabled = locked;
    $("pin-ok").disabled = locked;
    if (locked) note($("pin-error"), "term.pin_locked", { seconds });
    else { clearInterval(pinCountdown); hide($("pin-error")); $("pin-entry").focus(); }
  };
  tick();
  if (!$("pin-entry").disabled) return;
  pinCountdown = setInterval(tick, 1000);
}

function showPin() {
  $("pin-entry").value = "";
  hide($("pin-error"));
  showScreen("pin");
  $("pin-entry").focus();
  showPinLock();
}

async function checkPin(event) {
  event.preventDefault();
  const tries = pinTries();
  if (tries.lockedUntil > Date.now()) return showPinLock();
  const entered = $("pin-entry").value;
  $("pin-entry").value = "";
  $("pin-ok").disabled = true;
  let right = false;
  try {
    right = (await pinHash(entered, config.pin.salt, config.pin.iterations)) === config.pin.hash;
  } catch (err) {
    $("pin-ok").disabled = false;
    return showError($("pin-error"), err);
  }
  $("pin-ok").disabled = false;
  if (right) {
    localStorage.removeItem(PIN_TRIES_KEY);
    unlocked = true;
    return showSetup();
  }
  tries.failures += 1;
  if (tries.failures >= PIN_MAX_FAILURES) {
    tries.lockouts += 1;
    tries.failures = 0;
    tries.lockedUntil = Date.now() + 1000 * Math.min(PIN_COOLDOWN_MAX_SECONDS, PIN_COOLDOWN_SECONDS * 2 ** (tries.lockouts - 1));
  }
  localStorage.setItem(PIN_TRIES_KEY, JSON.stringify(tries));
  if (tries.lockedUntil > Date.now()) return showPinLock();
  note($("pin-error"), "term.pin_wrong", { left: PIN_MAX_FAILURES - tries.failures });
  $("pin-entry").focus();
}

// --- setup --------------------------------------------------------------------------------------

// The setup screen: the first time, or for the operator who entered the PIN.
function showSetup() {
  if (config && !unlocked) return showPin();
  $("terminal-id").value = config ? config.id : "";
  $("terminal-secret").value = "";
  $("terminal-pin").value = "";
  $("terminal-pin-again").value = "";
  hide($("setup-error"));
  $("setup-configured").hidden = !config;
  showScreen("setup");
  // On a service running the demo platform, a machine can be provisioned with one tap.
  api("GET", "/v1/demo").then(() => { $("setup-demo").hidden = false; }, () => {});
}

async function useDemoMachine() {
  if (pinProblem()) return;
  try {
    const issued = await api("POST", "/v1/demo/terminal");
    $("terminal-id").value = issued.terminal_id;
    $("terminal-secret").value = issued.secret;
    $("setup-form").requestSubmit();
  } catch (err) {
    showError($("setup-error"), err);
  }
}

// Save only credentials the service accepts: a signed read of an intent that cannot exist is
// refused with 401 if the id or secret is wrong, and answers 404 intent_not_found if they are right.
// The PIN fields: required the first time (4 to 8 digits, typed twice); empty keeps the current PIN.
// Answers true (and says why) if they cannot be used.
function pinProblem() {
  const pin = $("terminal-pin").value;
  const again = $("terminal-pin-again").value;
  hide($("setup-error"));
  if (!pin && !again && config) return false;
  if (!/^[0-9]{4,8}$/.test(pin)) {
    note($("setup-error"), "term.pin_needed");
    $("terminal-pin").focus();
    return true;
  }
  if (pin !== again) {
    note($("setup-error"), "term.pin_mismatch");
    $("terminal-pin-again").focus();
    return true;
  }
  return false;
}

async function saveSetup(event) {
  event.preventDefault();
  if (pinProblem()) return;
  const pin = $("terminal-pin").value;
  const candidate = { id: $("terminal-id").value.trim(), secret: $("terminal-secret").value.trim() };
  if (!candidate.id || !candidate.secret) return;
  const button = $("setup-save");
  button.disabled = true;
  button.textContent = t("term.setup_checking");
  const previous = config;
  config = candidate;
  let problem = null;
  try {
    await terminalApi("GET", "/v1/terminal/payment-intents/credentials-check");
    problem = new Error("an intent answered to an id no intent has"); // cannot happen: shown as unknown
  } catch (err) {
    if (err.code !== "intent_not_found") problem = err;
  }
  button.disabled = false;
  button.textContent = t("term.setup_save");
  if (problem) {
    config = previous;
    showError($("setup-error"), problem);
    return;
  }
  try {
    config.pin = pin ? await newPinRecord(pin) : previous.pin;
  } catch (err) {
    config = previous;
    showError($("setup-error"), err);
    return;
  }
  localStorage.setItem(STORE_KEY, JSON.stringify(config));
  localStorage.removeItem(PIN_TRIES_KEY);
  $("terminal-pin").value = "";
  $("terminal-pin-again").value = "";
  start();
}

async function resetMachine() {
  const agreed = await confirmDialog({ title: t("term.reset_title"), text: t("term.reset_confirm"),
    confirm: t("term.reset_yes"), cancel: t("common.cancel"), danger: true });
  if (!agreed) return;
  localStorage.removeItem(STORE_KEY);
  localStorage.removeItem(PIN_TRIES_KEY);
  config = null;
  showSetup();
}

// --- selling ------------------------------------------------------------------------------------

function entryFen() {
  const [whole = "", part = ""] = entry.split(".");
  return Number(whole || "0") * 100 + Number((part + "00").slice(0, 2));
}

function press(key) {
  if (busy) return;
  if (key === "back") entry = entry.slice(0, -1);
  else if (key === "clear") entry = "";
  else if (key === ".") {
    if (!entry.includes(".")) entry = (entry || "0") + ".";
  } else {
    const [whole, part] = entry.split(".");
    if (part !== undefined) {
      if (part.length < 2) entry += key;
    } else if (whole === "0") {
      entry = key;
    } else if (whole.length < MAX_WHOLE_DIGITS) {
      entry += key;
    }
  }
  hide($("sale-error"));
  renderAmount();
}

function renderAmount() {
  const fen = entryFen();
  $("amount").textContent = t("common.yuan", { amount: yuan(fen) });
  $("pay").disabled = busy || fen <= 0;
  $("pay").textContent = busy ? t("term.starting") : t("term.pay");
}

function buildKeypad() {
  const keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", ".", "0", "back"];
  $("keypad").replaceChildren(...keys.map((key) => el("button", {
    type: "button", dataset: { key },
    "aria-label": key === "back" ? t("term.key_back") : key === "." ? t("term.key_point") : key,
    onclick: () => press(key),
  }, key === "back" ? "⌫" : key)), el("button", {
    type: "button", class: "wide", dataset: { key: "clear" }, onclick: () => press("clear"),
  }, t("term.clear")));
}

function buildProducts() {
  $("products").replaceChildren(...PRODUCTS.map((product) => el("button", {
    type: "button", class: "product", dataset: { fen: product.fen },
    onclick: () => { if (!busy) { entry = (product.fen / 100).toFixed(2); hide($("sale-error")); renderAmount(); } },
  }, el("span", {}, product[lang] ?? product.en),
  el("strong", {}, t("common.yuan", { amount: yuan(product.fen) })))));
}

function newSale() {
  following += 1; // stop polling an earlier intent
  entry = "";
  sale = null;
  busy = false;
  lastResult = null;
  history.replaceState(null, "", location.pathname);
  hide($("sale-error"));
  renderAmount();
  showScreen("sale");
}

// One tap, one intent: the button is disabled before anything else happens, and the purchase keeps
// its idempotency key, so even a retry after a lost answer gets the same intent back.
async function pay() {
  const fen = entryFen();
  if (busy || fen <= 0) return;
  busy = true;
  renderAmount();
  hide($("sale-error"));
  if (!sale || sale.fen !== fen) sale = { fen, key: randomId("key"), order: randomId("vm") };
  try {
    const intent = await terminalApi("POST", "/v1/terminal/payment-intents", {
      amount_fen: sale.fen, currency: "CNY", merchant_order_id: sale.order, idempotency_key: sale.key,
    });
    handOver(intent);
  } catch (err) {
    busy = false;
    renderAmount();
    showError($("sale-error"), err);
  }
}

// Open the platform's capture page on this screen, telling it where to come back to. The back
// address carries only the intent id, which the terminal already knows; the capture page adds
// nothing to it, so the result comes from the terminal's own signed read, not from the page.
function handOver(intent) {
  if (FINAL.has(intent.status)) return follow(intent.intent_id); // a retry of a purchase already decided
  if (!(intent.capture_url || "").startsWith("/pay/capture#")) {
    throw Object.assign(new Error("bad capture_url"), { code: "bad_capture_url" });
  }
  const back = `/terminal/#intent=${encodeURIComponent(intent.intent_id)}`;
  location.replace(`${intent.capture_url}&back=${encodeURIComponent(back)}`);
}

// --- after the hand-over ------------------------------------------------------------------------

// data-i18n too, so a language switch redraws what the screen says now.
function waitingText(key) {
  $("waiting-text").dataset.i18n = key;
  $("waiting-text").textContent = t(key);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Read the intent until it is decided. Open means the payer came back without finishing (or is
// still at it on another screen): offer to continue, and keep reading until it is paid, declined
// or expired (the service expires it on read once its time is up).
async function follow(intentId) {
  const mine = ++following;
  showScreen("waiting");
  waitingText("term.checking");
  hide($("waiting-error"));
  hide($("waiting-continue"));
  hide($("waiting-retry"));
  for (;;) {
    let intent;
    try {
      intent = await terminalApi("GET", `/v1/terminal/payment-intents/${encodeURIComponent(intentId)}`);
    } catch (err) {
      if (mine !== following) return;
      showError($("waiting-error"), err);
      $("waiting-retry").onclick = () => follow(intentId);
      show($("waiting-retry"));
      return;
    }
    if (mine !== following) return;
    if (FINAL.has(intent.status)) return showResult(intent);
    waitingText("term.waiting_payer");
    hide($("waiting-error"));
    if (intent.capture_url) {
      $("waiting-continue").onclick = () => { following += 1; handOver(intent); };
      show($("waiting-continue"));
    }
    await sleep(POLL_MS);
    if (mine !== following) return;
  }
}

function fact(labelKey, value) {
  return [el("dt", {}, t(labelKey)), el("dd", {}, value)];
}

function stopResultTimer() {
  if (resultTimer) clearInterval(resultTimer.id);
  resultTimer = null;
}

// The result stays up for a few seconds, then the machine is ready for the next shopper.
function startResultTimer() {
  if (resultTimer) return;
  resultTimer = { left: RESULT_SECONDS, id: setInterval(() => {
    resultTimer.left -= 1;
    if (resultTimer.left <= 0) newSale();
    else renderCountdown();
  }, 1000) };
  renderCountdown();
}

function renderCountdown() {
  if (resultTimer) $("result-countdown").textContent = t("term.back_in", { seconds: resultTimer.left });
}

// Paid: the amount, the masked payer name and the transaction id. Otherwise only "not completed":
// why it failed is the payer's business, shown on the payer's page.
function showResult(intent) {
  lastResult = intent;
  const paid = intent.status === "paid";
  const body = $("result-body");
  body.dataset.status = intent.status;
  body.replaceChildren(
    el("div", { class: paid ? "mark ok" : "mark bad", "aria-hidden": "true" }, paid ? "✓" : "✕"),
    el("h1", { id: "result-title" }, t(paid ? "term.paid" : "term.not_completed")),
    el("p", { class: "amount" }, t("common.yuan", { amount: yuan(intent.amount_fen) })),
    paid ? el("dl", { class: "facts" },
      fact("term.payer", intent.payer_name_masked || "-"),
      fact("term.transaction", intent.transaction_id),
      fact("term.order", intent.merchant_order_id))
      : el("p", { class: "muted" }, t("term.not_completed_help")),
  );
  showScreen("result");
  startResultTimer();
}

// --- start --------------------------------------------------------------------------------------

function start() {
  const intentId = intentFromFragment();
  if (!config) return showSetup();
  if (intentId) return follow(intentId);
  newSale();
}

function rerender() {
  buildKeypad();
  buildProducts();
  renderAmount();
  if (!$("result").hidden && lastResult) showResult(lastResult);
}

document.addEventListener("keydown", (event) => {
  if ($("sale").hidden || event.target.tagName === "INPUT") return;
  if (/^[0-9.]$/.test(event.key)) press(event.key);
  else if (event.key === "Backspace") press("back");
  else if (event.key === "Escape") press("clear");
  else if (event.key === "Enter") pay();
});
$("setup-form").addEventListener("submit", saveSetup);
$("pin-form").addEventListener("submit", checkPin);
$("pin-cancel").addEventListener("click", start);
$("setup-cancel").addEventListener("click", start);
$("setup-reset").addEventListener("click", resetMachine);
$("setup-demo").addEventListener("click", useDemoMachine);
$("settings").addEventListener("click", () => { if (!busy) showSetup(); });
$("pay").addEventListener("click", pay);
$("waiting-new").addEventListener("click", newSale);
// A tap anywhere on the screen below the header (the result's button too) starts a new sale.
document.querySelector("main.kiosk").addEventListener("click", () => { if (!$("result").hidden) newSale(); });

translate();
languageSwitch(rerender);
rerender();
start();
