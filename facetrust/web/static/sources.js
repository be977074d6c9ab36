// Who answered a real-name check, in the page's language. The API gives a stable `source_code`
// (and the bank's own name, `source_bank`) beside its English `source` text; a simulator is still
// called one here, in both languages. tests/test_web_console_labels.py keeps a text for every code.
import { addStrings, t } from "./ft.js";

addStrings({
  "source.simulated_citizen_registry": { zh: "模拟公民身份库（仅供演示，不是真实的身份核验机构）", en: "Simulated citizen registry (a demo, not a real identity authority)" },
  "source.simulated_bank_registry": { zh: "模拟银行系统（不是真实的银行，也不会发送短信）", en: "Simulated bank registry (not a real bank; no text message is sent)" },
});

// The text for an answer with source_code / source_bank / source; an institution this page has no
// words for (source_code "other") is shown by the service's own text.
export function sourceText(answer) {
  const key = "source." + answer.source_code;
  if (t(key) === key) return answer.source || "";
  return answer.source_bank ? `${answer.source_bank} · ${t(key)}` : t(key);
}
