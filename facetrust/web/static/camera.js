// The capture component: opens the camera only while it records, shows the challenge's prompts
// one at a time, and returns JPEG frames with timestamps, exactly as the liveness API takes them.
// Frames are drawn unmirrored (the preview is mirrored, like a mirror, for the person only).
import { addStrings, el, lang, t } from "./ft.js";

addStrings({
  "camera.get_ready": { zh: "请把脸放进框内", en: "Put your face inside the frame" },
  "camera.look": { zh: "请看着摄像头，保持不动", en: "Look at the camera and hold still" },
  "camera.checking": { zh: "正在检测，请稍候…", en: "Checking, please wait…" },
  "camera.starting": { zh: "正在打开摄像头…", en: "Opening the camera…" },
  "camera.hint": { zh: "请在光线充足处，由本人正对摄像头。", en: "In good light, face the camera yourself." },
});

const MAX_SIDE = 640; // pixels on the longer side: plenty for the face models, small to send
const JPEG_QUALITY = 0.9;

export class CameraError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

async function openCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    throw new CameraError("camera_missing", "this browser cannot use a camera here");
  }
  try {
    return await navigator.mediaDevices.getUserMedia({
      video: { facingMode: "user", width: { ideal: 640 }, height: { ideal: 480 } }, audio: false,
    });
  } catch (e) {
    const byName = { NotAllowedError: "camera_denied", SecurityError: "camera_denied", NotFoundError: "camera_missing",
      OverconstrainedError: "camera_missing", NotReadableError: "camera_busy", AbortError: "camera_busy" };
    throw new CameraError(byName[e.name] || "camera_missing", String(e));
  }
}

function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }

function grab(video, canvas) {
  const scale = Math.min(1, MAX_SIDE / Math.max(video.videoWidth, video.videoHeight));
  canvas.width = Math.round(video.videoWidth * scale);
  canvas.height = Math.round(video.videoHeight * scale);
  canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
  return canvas.toDataURL("image/jpeg", JPEG_QUALITY).split(",", 2)[1];
}

// Record the person answering ``challenge`` ({nonce, actions, instructions}) inside ``box``.
// Resolves to the capture body {nonce, frames}; rejects with CameraError when the camera fails.
export async function record(box, challenge, { secondsPerAction = 2.6, leadSeconds = 1.0, passiveSeconds = 1.6, fps = 9 } = {}) {
  const video = el("video", { autoplay: true, muted: true, playsinline: true });
  const prompt = el("div", { class: "prompt", "aria-live": "assertive" }, t("camera.starting"));
  const progress = el("div", { class: "progress" });
  const actions = challenge.actions || [];
  const steps = el("div", { class: "steps" },
    actions.map((a, i) => el("span", { dataset: { action: a } }, challenge.instructions[i][lang] || challenge.instructions[i].en)));
  box.replaceChildren(el("div", { class: "camera" }, video, el("div", { class: "oval" }), progress, prompt), steps,
    el("p", { class: "muted small" }, t("camera.hint")));
  box.hidden = false;

  const stream = await openCamera();
  try {
    video.srcObject = stream;
    await video.play();
    while (!video.videoWidth) await sleep(20);

    // The prompt plan: get ready, then each action in turn (or one passive look).
    const plan = [{ text: t("camera.get_ready"), seconds: leadSeconds, index: -1 }];
    if (actions.length) {
      actions.forEach((_, i) => plan.push({
        text: challenge.instructions[i][lang] || challenge.instructions[i].en, seconds: secondsPerAction, index: i }));
    } else {
      plan.push({ text: t("camera.look"), seconds: passiveSeconds, index: -1 });
    }
    const total = plan.reduce((sum, p) => sum + p.seconds, 0) * 1000;
    const canvas = document.createElement("canvas");
    const frames = [];
    const start = performance.now();
    let step = -1;
    for (;;) {
      const elapsed = performance.now() - start;
      if (elapsed >= total) break;
      let acc = 0, now = 0;
      for (let i = 0; i < plan.length; i++) { acc += plan[i].seconds * 1000; if (elapsed < acc) { now = i; break; } }
      if (now !== step) {
        step = now;
        prompt.textContent = plan[now].text;
        [...steps.children].forEach((pill, i) => {
          pill.className = i < plan[now].index ? "done" : i === plan[now].index ? "now" : "";
        });
      }
      progress.style.width = `${Math.min(100, (100 * elapsed) / total)}%`;
      const image = grab(video, canvas);
      // A camera that stalls hands back the same picture; sending it twice proves nothing (and the
      // service refuses a capture with a repeated frame), so keep only new pictures.
      if (!frames.length || frames[frames.length - 1].image_base64 !== image) {
        frames.push({ t_ms: Math.round(elapsed), image_base64: image });
      }
      await sleep(Math.max(0, 1000 / fps - (performance.now() - start - elapsed)));
    }
    [...steps.children].forEach((pill) => { pill.className = "done"; });
    prompt.textContent = t("camera.checking");
    progress.style.width = "100%";
    return { nonce: challenge.nonce, frames };
  } finally {
    stream.getTracks().forEach((track) => track.stop()); // the camera light goes off at once
  }
}
